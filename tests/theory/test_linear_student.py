"""Advani & Saxe's Marchenko-Pastur integrals against their limits and against exact
gradient flow on sampled problems (Monte Carlo)."""

import numpy as np
import pytest

from complab.theory import linear_student as ls


@pytest.mark.parametrize("alpha", [0.25, 0.5, 1.0, 2.0, 4.0])
def test_the_density_holds_min_alpha_1_and_starts_from_the_initial_error(alpha):
    assert ls.continuous_mass(alpha) == pytest.approx(min(alpha, 1.0), abs=1e-9)
    # at t = 0 nothing is learned: E_g = E_t = sigma_w^2 + sigma_0^2 + sigma_eps^2 (mean eigenvalue alpha)
    assert ls.generalization_error(0.0, alpha, 1.0, 0.5, 0.3) == pytest.approx(1.25 + 0.09, rel=1e-9)
    assert ls.training_error(0.0, alpha, 1.0, 0.5, 0.3) == pytest.approx(1.25 + 0.09, rel=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.25, 3.0])
def test_long_training_reaches_the_closed_form_asymptote(alpha):
    late = ls.generalization_error(1e4, alpha, 1.0, 0.5, 0.5)
    assert late == pytest.approx(ls.asymptotic_generalization_error(alpha, 1.0, 0.5, 0.5), rel=1e-6)
    assert ls.training_error(1e4, alpha, 1.0, 0.5, 0.5) == pytest.approx(max(1 - 1 / alpha, 0) * 0.25, abs=1e-9)


def _flow(alpha, n, draws, times, sigma_w, sigma_0, sigma_eps, seed):
    """Mean E_g, E_t of exact gradient flow dw/dt = X^T (y - X w) on sampled problems."""
    rng = np.random.default_rng(seed)
    p = int(alpha * n)
    eg = et = 0.0
    for _ in range(draws):
        x = rng.normal(0, 1 / np.sqrt(n), (p, n))
        teacher, w0 = rng.normal(0, sigma_w, n), rng.normal(0, sigma_0, n)
        y = x @ teacher + rng.normal(0, sigma_eps, p)
        lam, v = np.linalg.eigh(x.T @ x)
        moving = lam > 1e-9
        c0, b = v.T @ w0, v.T @ (x.T @ y)
        decay = np.exp(-np.outer(times, lam))
        c = np.where(moving, c0 * decay + (1 - decay) * b / np.where(moving, lam, 1), c0)
        w = c @ v.T
        eg = eg + ((w - teacher) ** 2).sum(1) / n + sigma_eps**2
        et = et + ((y - w @ x.T) ** 2).mean(1)
    return eg / draws, et / draws


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_the_integrals_match_monte_carlo_gradient_flow(alpha):
    """N = 300, 64 draws: sampling moves the mean curves by ~1%; the tolerance is 4% (E_t relative to its start,
    since it falls to zero below alpha = 1)."""
    times = np.array([0.0, 0.3, 1.0, 3.0, 10.0, 50.0])
    eg, et = _flow(alpha, 300, 64, times, 1.0, 0.5, 0.5, seed=0)
    eg_th = ls.generalization_error(times, alpha, 1.0, 0.5, 0.5)
    et_th = ls.training_error(times, alpha, 1.0, 0.5, 0.5)
    assert np.max(np.abs(eg - eg_th) / eg_th) < 0.04
    assert np.max(np.abs(et - et_th)) / et_th[0] < 0.04
    # the frozen subspace: below alpha = 1, a larger start leaves a larger error for good
    if alpha < 1:
        more, _ = _flow(alpha, 300, 64, times[-1:], 1.0, 1.5, 0.5, seed=0)
        assert more[-1] - eg[-1] == pytest.approx((1 - alpha) * (1.5**2 - 0.5**2), rel=0.1)
