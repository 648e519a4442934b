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
    """The local fields x w / sqrt(N) of Gaussian inputs are Gaussian with the overlaps as
    covariance at any N, so a small N tests the same reduction."""
    with jax.enable_x64(True):
        N, K, M = 60, 3, 2
        k = jax.random.split(jax.random.key(0), 4)
        w, ws = jax.random.normal(k[0], (K, N)), jax.random.normal(k[1], (M, N))
        v, vs = jnp.array([0.5, 1.0, -0.3]), jnp.ones(M)
        x = jax.random.normal(k[2], (200_000, N))
        phi = co.g(x @ w.T / jnp.sqrt(N)) @ v
        y = co.g(x @ ws.T / jnp.sqrt(N)) @ vs
        direct = 0.5 * jnp.mean((phi - y) ** 2)
        theory = co.generalisation_error(w @ w.T / N, w @ ws.T / N, ws @ ws.T / N, v, vs)
        assert abs(float(direct) / float(theory) - 1) < 0.02


@pytest.mark.parametrize("eta_v,sigma", [(0.0, 0.0), (0.5, 0.3)])
def test_the_ode_predicts_a_small_simulation(eta_v, sigma):
    """Online SGD at N = 400 against the ODE from the same initial overlaps, up to t = 30
    (the fall to the plateau), with the second layer fixed and noise-free, and with it
    learning from a noisy teacher (the v equation and the sigma^2 J2 term); the ODE with
    the wrong learning rate does not match."""
    from complab.experiments import teacher_student_odes as ts
    from complab.learners import optim, supervised
    from complab.models.committee import CommitteeMachine
    from complab.training import fit

    n, eta, times = 400, 0.5, (1, 3, 10, 30)
    with jax.enable_x64(True):
        teacher = CommitteeMachine(2, n, key=jax.random.key(0))
        student = CommitteeMachine(2, n, key=jax.random.key(1), init_std=0.3)
        group = optim.Group(r"\.v$", eta_v / (eta * n))
        learner = supervised.Supervised(optim.Config(kind="sgd", lr=eta, steps=1, groups=(group,)), ts._loss)
        sim = []
        fit(learner, learner.init(None, student), jax.tree_util.Partial(ts._sample, teacher, sigma),
            key=jax.random.key(2), steps=times[-1] * n,
            evaluate=jax.tree_util.Partial(ts._order_parameters, teacher), eval_at=tuple(t * n for t in times),
            on_eval=lambda t, v: sim.append(float(v["eg"])))
        Q0, R0 = student.overlaps(teacher)
        T = teacher.overlaps(teacher)[0]

        def ode(rate=eta, noise=sigma, rate_v=eta_v):
            return np.asarray(co.integrate(Q0, R0, student.v, T, teacher.v, eta=rate, eta_v=rate_v, sigma=noise,
                                           times=jnp.asarray(times, float))[-1])

        assert np.max(np.abs(np.log(sim) - np.log(ode()))) < 0.1
        assert np.max(np.abs(np.log(sim) - np.log(ode(rate=2 * eta, rate_v=2 * eta_v)))) > 0.1
        if sigma:  # the noise term matters
            assert np.max(np.abs(np.log(sim) - np.log(ode(noise=0.0)))) > 0.1
