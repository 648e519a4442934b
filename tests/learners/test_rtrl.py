"""RTRL and its approximations: exact RTRL is the Jacobian autodiff gives and its gradient
BPTT's; every approximation's step is unbiased (its mean over sign draws is the exact
step, to within the standard error, and OK's mixing is unbiased exactly, over all sign
vectors); OK's mixing adds the variance its formula states, and no more than KF's step
adds from the same state (optimality)."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.learners import rtrl
from complab.models.gated_cell import GatedCell

N, D_IN = 5, 3
A = D_IN + N + 1


def _cell():
    cell = GatedCell(N, D_IN, 4, key=jax.random.key(0))
    return jax.tree.map(lambda a: 30.0 * a.astype(jnp.float64), cell)  # init 0.3: non-trivial dynamics


def _xs(t=8):
    return jax.random.normal(jax.random.key(1), (t, D_IN), jnp.float64)


def test_exact_rtrl_is_the_jacobian_and_its_gradient_is_bptts():
    with jax.enable_x64(True):
        cell, xs = _cell(), _xs()
        targets = jax.random.randint(jax.random.key(2), (xs.shape[0],), 0, 4)

        def run_h(w):
            return eqx.tree_at(lambda c: c.w, cell, w)

        def loss(w):
            logits = run_h(w)(xs)
            return -jnp.take_along_axis(jax.nn.log_softmax(logits), targets[:, None], 1).sum()

        est, h = rtrl.Estimator("exact"), cell.init_state()
        g, grad = rtrl.start(est, N, A, jnp.float64), jnp.zeros_like(cell.w)
        for t in range(xs.shape[0]):
            h, big_h, d, hat = cell.jacobians(h, xs[t])
            g = rtrl.advance(est, jax.random.key(0), g, big_h, d, hat)
            delta = jax.grad(lambda h, y=targets[t]: -jax.nn.log_softmax(cell.logits(h))[y])(h)
            grad = grad + rtrl.gradient(est, g, delta)
        jac = jax.jacobian(lambda w: run_h(w).step(run_h(w).step(cell.init_state(), xs[0]), xs[1]))(cell.w)
        g2 = rtrl.start(est, N, A, jnp.float64)
        h2 = cell.init_state()
        for t in range(2):
            h2, big_h, d, hat = cell.jacobians(h2, xs[t])
            g2 = rtrl.advance(est, jax.random.key(0), g2, big_h, d, hat)
        np.testing.assert_allclose(rtrl.dense(est, g2), jac, atol=1e-13)
        np.testing.assert_allclose(grad, jax.grad(loss)(cell.w), rtol=1e-10, atol=1e-13)


def _state(est, key):
    """A random non-trivial sensitivity for `est` and one step's (H, D, hat)."""
    ks = jax.random.split(key, 4)
    g = rtrl.start(est, N, A, jnp.float64)
    g = jax.tree.map(lambda a, k: jax.random.normal(k, a.shape, a.dtype), g,
                     jax.tree.unflatten(jax.tree.structure(g), list(jax.random.split(ks[0], len(jax.tree.leaves(g))))))
    cell, x = _cell(), _xs(1)[0]
    _, big_h, d, hat = cell.jacobians(jax.random.normal(ks[1], (N,), jnp.float64), x)
    return g, big_h, d, hat


def _draws(est, g, big_h, d, hat, k, seed=5):
    """k independent one-step draws of `est` from the same state, as dense tensors."""
    return jax.vmap(lambda key: rtrl.dense(est, rtrl.advance(est, key, g, big_h, d, hat)))(
        jax.random.split(jax.random.key(seed), k))


@pytest.mark.parametrize("est", [rtrl.Estimator("uoro"), rtrl.Estimator("kf"), rtrl.Estimator("ok", 1),
                                 rtrl.Estimator("ok", 3)], ids=lambda e: e.label)
def test_each_step_is_unbiased_within_its_standard_error(est):
    with jax.enable_x64(True):
        g, big_h, d, hat = _state(est, jax.random.key(3))
        exact = jnp.einsum("km,maj->kaj", big_h, rtrl.dense(est, g)) + jnp.einsum("a,kj->kaj", hat, d)
        k = 4000
        draws = _draws(est, g, big_h, d, hat, k, seed=4)
        err = float(jnp.linalg.norm(draws.mean(0) - exact))
        std_err = float(jnp.sqrt(jnp.sum((draws - exact[None]) ** 2, (1, 2, 3)).mean() / k))
        assert std_err > 0 and err < 4 * std_err
        half = float(jnp.linalg.norm(draws[: k // 16].mean(0) - exact))
        assert err < half  # the mean converges


def test_ok_mixing_is_exactly_unbiased_over_all_signs_and_adds_its_stated_variance():
    with jax.enable_x64(True):
        for sigma in ([3.0, 1.0, 0.7, 0.5, 0.1], [2.0, 2.0, 2.0, 2.0, 2.0], [5.0, 0.0, 0.0, 0.0, 0.0]):
            sigma = jnp.array(sigma, jnp.float64)
            k = sigma.shape[0]
            mats = []
            for signs in itertools.product([0, 1], repeat=k):
                key = jax.random.key(0)
                p_l, p_r = rtrl.mixing(key, sigma)
                # the signs a key draws are one of the 2^k vectors; enumerate them directly
                flip = jnp.where(jnp.array(signs) == 1, -1.0, 1.0)
                mats.append((flip[:, None] * p_l) @ (flip[:, None] * p_r).T)
            mats = jnp.stack(mats)
            np.testing.assert_allclose(mats.mean(0), jnp.diag(sigma), atol=1e-12)
            variance = float(jnp.sum((mats - jnp.diag(sigma)[None]) ** 2, (1, 2)).mean())
            np.testing.assert_allclose(variance, float(rtrl.added_variance(sigma)), rtol=1e-9, atol=1e-12)
            assert p_l.shape == (k, k - 1)


def test_ok1_adds_no_more_variance_than_kf_from_the_same_state():
    with jax.enable_x64(True):
        kf, ok = rtrl.Estimator("kf"), rtrl.Estimator("ok", 1)
        for seed in range(3):
            g, big_h, d, hat = _state(kf, jax.random.key(10 + seed))
            exact = jnp.einsum("km,maj->kaj", big_h, rtrl.dense(kf, g)) + jnp.einsum("a,kj->kaj", hat, d)
            var = {}
            for est in (kf, ok):
                draws = _draws(est, g, big_h, d, hat, 2000)
                var[est.label] = float(jnp.sum((draws - exact[None]) ** 2, (1, 2, 3)).mean())
            assert var["OK(1)"] <= var["KF"] * 1.02


def test_ok_r_is_exact_while_the_sensitivity_has_at_most_r_kronecker_terms():
    with jax.enable_x64(True):
        cell, xs = _cell(), _xs(3)
        exact, ok = rtrl.Estimator("exact"), rtrl.Estimator("ok", 3)
        h, g, g_ok = cell.init_state(), rtrl.start(exact, N, A, jnp.float64), rtrl.start(ok, N, A, jnp.float64)
        for t in range(3):  # after t + 1 steps from zero, G is a sum of t + 1 Kronecker terms
            h, big_h, d, hat = cell.jacobians(h, xs[t])
            g = rtrl.advance(exact, jax.random.key(t), g, big_h, d, hat)
            g_ok = rtrl.advance(ok, jax.random.key(10 + t), g_ok, big_h, d, hat)
            # exact up to mixing round-off terms in unbiasedly: noise ~ sqrt(1e-16) of the scale
            scale = float(jnp.abs(rtrl.dense(exact, g)).max())
            np.testing.assert_allclose(rtrl.dense(ok, g_ok), rtrl.dense(exact, g), atol=1e-6 * scale)
        h, big_h, d, hat = cell.jacobians(h, xs[0])  # a fourth term: now it must approximate
        g = rtrl.advance(exact, jax.random.key(3), g, big_h, d, hat)
        g_ok = rtrl.advance(ok, jax.random.key(13), g_ok, big_h, d, hat)
        assert float(jnp.abs(rtrl.dense(ok, g_ok) - rtrl.dense(exact, g)).max()) > 1e-3 * scale
