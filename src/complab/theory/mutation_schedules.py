"""Mutation-rate schedules of the (1+1) EA when the number n of relevant bits is unknown
(Einarsson, Gauy, Lengler, Meier, Mujika, Steger, Weissenberger 2018, arXiv 1808.05566).

With k << n zeros left and mutation rate a / n, OneMax's zero count falls at the rate
k a e^{-a} / n per step. A rate that cannot depend on n must follow a fixed schedule in
time; writing s = t / (n ln n) and n p_t -> phi(s), finishing needs int phi e^{-phi} ds = 1.
The best schedule has p_t = ln t / (kappa t) with kappa = E1(w*), where w* solves
E1(w) = e^{-w}; it finishes in (1 + o(1)) beta n ln n steps with beta = e^{w*} / w*
(= 3.5525), against e n ln n for the static rate 1/n that knows n. The o(1) fades like
1 / ln n, so at laptop sizes the schedule's constant is still well below beta.
"""

import math
from functools import lru_cache

import numpy as np


def exp1(x: float, terms: int = 80) -> float:
    """The exponential integral E1(x) = int_x^inf e^{-u} / u du for 0 < x <= 5, by its series
    -gamma - ln x - sum_k (-x)^k / (k k!)."""
    total, term = 0.0, 1.0
    for k in range(1, terms + 1):
        term *= -x / k
        total += term / k
    return -0.5772156649015329 - math.log(x) - total


@lru_cache(maxsize=1)
def constants() -> tuple[float, float, float]:
    """(w*, kappa, beta) of the optimal schedule: E1(w*) = e^{-w*} by bisection."""
    lo, hi = 0.05, 5.0  # E1(w) - e^{-w} falls through zero once on this interval
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if exp1(mid) > math.exp(-mid) else (lo, mid)
    w = (lo + hi) / 2
    return w, exp1(w), math.exp(w) / w


def schedule_rate(t: int, cap: float = 0.5) -> float:
    """The optimal schedule's mutation rate at step t >= 1: ln t / (kappa t), at most `cap`."""
    kappa = constants()[1]
    return cap if t < 2 else min(cap, np.log(t) / (kappa * t))
