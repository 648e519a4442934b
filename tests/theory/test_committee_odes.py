"""The erf integrals of the committee-machine ODEs against Monte Carlo, and the ODE
against a direct simulation of online SGD."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.theory import committee_odes as co

N_MC = 400_000


def _cov(key, n):
    a = jax.random.normal(key, (n, n + 2)) / jnp.sqrt(n + 2.0)
    return a @ a.T + 0.3 * jnp.eye(n)


@pytest.fixture(scope="module")
def sample():
    with jax.enable_x64(True):
        C = _cov(jax.random.key(3), 4)
        lam = jax.random.multivariate_normal(jax.random.key(4), jnp.zeros(4), C, (N_MC,))
        gp = jnp.sqrt(2 / jnp.pi) * jnp.exp(-(lam**2) / 2)  # g'(x) for g = erf(x / sqrt 2)
        yield C, lam, co.g(lam), gp


def test_closed_forms_match_monte_carlo(sample):
    C, lam, g, gp = sample
    with jax.enable_x64(True):
        mc = {
            "i2": jnp.einsum("sa,sb->ab", g, g) / N_MC,
            "j2": jnp.einsum("sa,sb->ab", gp, gp) / N_MC,
            "i3": jnp.einsum("sa,sb,sc->abc", gp, lam, g) / N_MC,
            "i4": jnp.einsum("sa,sb,sc,sd->abcd", gp, gp, g, g) / N_MC,
        }
        for name, est in mc.items():
            exact = getattr(co, name)(C)
            # Monte Carlo standard error is ~ 1/sqrt(N_MC) ~ 1.6e-3 for O(1) quantities
            np.testing.assert_allclose(exact, est, atol=8e-3, err_msg=name)


def test_generalisation_error_matches_a_direct_estimate():
    with jax.enable_x64(True):
        N, K, M = 300, 3, 2
        k = jax.random.split(jax.random.key(0), 4)
        w, ws = jax.random.normal(k[0], (K, N)), jax.random.normal(k[1], (M, N))
        v, vs = jnp.array([0.5, 1.0, -0.3]), jnp.ones(M)
        x = jax.random.normal(k[2], (200_000, N))
        phi = co.g(x @ w.T / jnp.sqrt(N)) @ v
        y = co.g(x @ ws.T / jnp.sqrt(N)) @ vs
        direct = 0.5 * jnp.mean((phi - y) ** 2)
        theory = co.generalisation_error(w @ w.T / N, w @ ws.T / N, ws @ ws.T / N, v, vs)
        assert abs(float(direct) / float(theory) - 1) < 0.02
