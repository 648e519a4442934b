"""The (1+1) evolutionary algorithm on OneMax over n relevant bits, simulated through the
count of zeros (OneMax is symmetric, so the count is the whole state): each step flips each
bit with probability p_t, so Bin(k, p_t) zeros and Bin(n - k, p_t) ones flip, and the
offspring replaces the parent when it has at least as many ones (ties accepted)."""

from typing import Callable

import numpy as np


def onemax_runtimes(n: int, rate: Callable[[int], float], runs: int, rng: np.random.Generator,
                    budget: int | None = None, every: int = 0) -> np.ndarray | tuple[np.ndarray, list]:
    """Steps to the optimum of `runs` independent runs from uniform random strings (`budget`
    + 1 for a run that did not finish within `budget` steps). With `every` > 0, also the
    trace [(step, mean fraction of zeros)] every `every` steps."""
    zeros = rng.binomial(n, 0.5, runs)
    steps = np.where(zeros == 0, 0, -1)
    trace = [(0, float(zeros.mean() / n))]
    t = 0
    while (steps < 0).any() and (budget is None or t < budget):
        t += 1
        p = rate(t)
        z, o = rng.binomial(zeros, p), rng.binomial(n - zeros, p)
        live = steps < 0
        zeros = np.where(live & (z >= o), zeros - z + o, zeros)
        steps = np.where(live & (zeros == 0), t, steps)
        if every and t % every == 0:
            trace.append((t, float(zeros.mean() / n)))
    out = np.where(steps < 0, t + 1, steps)
    if every:
        return out, trace + ([(t, float(zeros.mean() / n))] if trace[-1][0] != t else [])
    return out
