"""The schedule's constants, E1 against quadrature, and the (1+1) EA simulator against the
exact Markov chain of OneMax's zero count."""

import math

import numpy as np

from complab.learners.one_plus_one import onemax_runtimes
from complab.theory import mutation_schedules as ms


def test_the_constants_solve_their_equation_and_give_the_papers_beta():
    w, kappa, beta = ms.constants()
    assert abs(ms.exp1(w) - math.exp(-w)) < 1e-12 and kappa == ms.exp1(w)
    assert abs(beta - 3.5525) < 1e-3 and abs(1 / kappa - 1.5447) < 1e-3 and abs(w - 0.43482) < 1e-4
    for x in (0.1, 0.43, 1.0, 3.0):
        u = np.linspace(x, 60.0, 400_001)
        assert abs(ms.exp1(x) - np.trapezoid(np.exp(-u) / u, u)) < 1e-6


def _expected_runtime(n, p):
    """Mean steps to the optimum from a uniform random string, by the exact chain on the zero count."""
    from math import comb

    def pmf(m, q):
        return np.array([comb(m, j) * q**j * (1 - q) ** (m - j) for j in range(m + 1)])

    move = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        pz, po = pmf(k, p), pmf(n - k, p)
        for z in range(k + 1):
            for o in range(n - k + 1):
                move[k, k - z + o if z >= o else k] += pz[z] * po[o]
    q = move[1:, 1:]  # transient states k >= 1
    t = np.linalg.solve(np.eye(n) - q, np.ones(n))
    start = pmf(n, 0.5)
    return float(start[1:] @ t)


def test_the_simulator_matches_the_exact_chain():
    n, runs = 12, 6000
    steps = onemax_runtimes(n, lambda t: 1 / n, runs, np.random.default_rng(0))
    want = _expected_runtime(n, 1 / n)
    assert abs(steps.mean() - want) < 3 * steps.std() / math.sqrt(runs), (steps.mean(), want)
    # a rate of zero never finishes: the budget bounds it
    stuck = onemax_runtimes(n, lambda t: 0.0, 5, np.random.default_rng(1), budget=50)
    assert ((stuck == 51) | (stuck == 0)).all()
