"""The (1+1) evolutionary algorithm on OneMax over n relevant bits, simulated through the
count of zeros (OneMax is symmetric, so the count is the whole state): each step flips each
bit with probability p_t, so Bin(k, p_t) zeros and Bin(n - k, p_t) ones flip, and the
offspring replaces the parent when it has at least as many ones (ties accepted).

The rate is a schedule p_t (a function of the step alone) or a `FitnessChangeControl`,
which adapts each run's rate to what that run has seen."""

from dataclasses import dataclass
from math import e
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class FitnessChangeControl:
    """A history-dependent mutation rate that needs no knowledge of n (this lab's rule; the
    adaptive rule of Einarsson et al. 2018 was not retrievable): after each step,
    p <- p exp(eta (1[the offspring's fitness equals the parent's] - 1/e)), capped at `start`.

    The algorithm observes only fitness, and only the n relevant bits change it: with k << n
    zeros an offspring keeps the parent's fitness with probability ~ (1 - p)^n ~ e^{-np}, so
    the rate's drift vanishes at p = 1/n, the best static rate, and pulls back towards it
    from either side (d e^{-np} / d ln p = -1/e there). The steady log-rate wanders with
    variance ~ e (1 - 1/e) eta / 2 ~ 0.3 eta around ln(1/n); the progress per step,
    a e^{-a} at a = np, loses only second order in that (~1% at eta = 0.05). From `start` it
    takes ~ e ln(start n) / eta steps to reach 1/n (~ 300 at n = 1,000), a vanishing
    fraction of the e n ln n needed. Early on, with k ~ n/2, offspring that flip a zero and a
    one tie; the rule then settles slightly above 1/n for the O(n) steps that phase lasts."""

    eta: float = 0.05
    start: float = 0.5

    def init(self, runs: int) -> np.ndarray:
        return np.full(runs, self.start)

    def update(self, p: np.ndarray, unchanged: np.ndarray) -> np.ndarray:
        return np.minimum(self.start, p * np.exp(self.eta * (unchanged - 1 / e)))


Rate = Callable[[int], float] | FitnessChangeControl


def onemax_runtimes(n: int, rate: Rate, runs: int, rng: np.random.Generator,
                    budget: int | None = None, every: int = 0) -> np.ndarray | tuple[np.ndarray, list]:
    """Steps to the optimum of `runs` independent runs from uniform random strings (`budget`
    + 1 for a run that did not finish within `budget` steps). With `every` > 0, also the
    trace [(step, mean fraction of zeros, mean n p_t of the runs still going)] every
    `every` steps."""
    adaptive = isinstance(rate, FitnessChangeControl)
    zeros = rng.binomial(n, 0.5, runs)
    steps = np.where(zeros == 0, 0, -1)
    p = rate.init(runs) if adaptive else float(rate(1))

    def point(t):
        live = steps < 0
        rates = np.broadcast_to(p, (runs,))[live]
        return t, float(zeros.mean() / n), float(n * rates.mean()) if live.any() else float("nan")

    trace = [point(0)]
    t = 0
    while (steps < 0).any() and (budget is None or t < budget):
        t += 1
        if not adaptive:
            p = float(rate(t))
        z, o = rng.binomial(zeros, p), rng.binomial(n - zeros, p)
        live = steps < 0
        zeros = np.where(live & (z >= o), zeros - z + o, zeros)
        steps = np.where(live & (zeros == 0), t, steps)
        if adaptive:
            p = np.where(live, rate.update(p, z == o), p)
        if every and t % every == 0:
            trace.append(point(t))
    out = np.where(steps < 0, t + 1, steps)
    if every:
        return out, trace + ([point(t)] if trace[-1][0] != t else [])
    return out
