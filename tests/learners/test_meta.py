"""Meta-learners: MAML's gradients against their definitions, the fast / slow split,
sparse-MAML's mask, and the equilibrium rules against the exact meta-gradient."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.learners import contrastive, implicit, maml, meta, optim, sparse_maml


class Quadratic(eqx.Module):
    w: jax.Array


def quad_loss(model, a, b):
    """0.5 w^T a w - b^T w: the support's (a, b) and the query's (I, c) are the episode's x and y."""
    return 0.5 * model.w @ a @ model.w - b @ model.w


class Tiny(eqx.Module):
    body: jax.Array
    readout: jax.Array

    def __call__(self, x):
        return jnp.tanh(x @ self.body) @ self.readout


def mse(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


def _tiny(key, d=3, h=5, dtype=jnp.float32):
    k1, k2 = jax.random.split(key)
    return Tiny(jax.random.normal(k1, (d, h), dtype) / np.sqrt(d), jax.random.normal(k2, (h, 1), dtype) / np.sqrt(h))


def _episodes(key, tasks=4, n=8, d=3, dtype=jnp.float32):
    kx, kw, kq = jax.random.split(key, 3)
    w = jax.random.normal(kw, (tasks, d, 1), dtype)
    sx = jax.random.normal(kx, (tasks, n, d), dtype)
    qx = jax.random.normal(kq, (tasks, n, d), dtype)
    return {"support_x": sx, "support_y": jnp.sin(sx @ w), "query_x": qx, "query_y": jnp.sin(qx @ w)}


def _learner(steps=1, lr=0.1, **kw):
    return maml.MAML(optim.Config(kind="sgd", lr=1.0), meta.Inner(lr=lr, steps=steps), **kw)


def test_maml_with_no_inner_steps_is_the_supervised_gradient():
    model, batch = _tiny(jax.random.key(0)), _episodes(jax.random.key(1))
    learner = _learner(steps=0, loss=mse)
    _, _, g = learner.meta_gradient(model, batch)
    sup = eqx.filter_grad(lambda m: jax.vmap(lambda x, y: mse(m, x, y))(batch["query_x"], batch["query_y"]).mean())(
        model)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(sup)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_first_and_second_order_maml_differ_by_the_hessian_term_on_a_quadratic():
    """One SGD step phi = w - lr (A w - b); query 0.5 |phi - c|^2: the second-order gradient is
    (I - lr A)(phi - c), the first-order one (phi - c); they differ by exactly -lr A (phi - c)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        m = rng.normal(size=(4, 4))
        a, b, c, w = m @ m.T + np.eye(4), rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
        batch = {"support_x": jnp.asarray(a)[None], "support_y": jnp.asarray(b)[None],
                 "query_x": jnp.eye(4)[None], "query_y": jnp.asarray(c)[None]}
        lr, model = 0.05, Quadratic(jnp.asarray(w))
        second = _learner(lr=lr, loss=quad_loss).meta_gradient(model, batch)[2].w
        first = _learner(lr=lr, loss=quad_loss, first_order=True).meta_gradient(model, batch)[2].w
        phi = w - lr * (a @ w - b)
        np.testing.assert_allclose(first, phi - c, rtol=1e-12)
        np.testing.assert_allclose(second - first, -lr * a @ (phi - c), rtol=1e-10, atol=1e-12)
        assert np.linalg.norm(second - first) > 1e-3  # the Hessian term is not negligible here


def test_anil_adapts_the_readout_only_and_a_pattern_must_match():
    model, batch = _tiny(jax.random.key(0)), _episodes(jax.random.key(1), tasks=1)
    learner = _learner(steps=5, loss=mse, fast=r"\.readout")
    adapted, _ = learner.adapt(model, batch["support_x"][0], batch["support_y"][0])
    np.testing.assert_array_equal(adapted.body, model.body)
    assert not np.allclose(adapted.readout, model.readout)
    assert mse(adapted, batch["support_x"][0], batch["support_y"][0]) < mse(model, batch["support_x"][0],
                                                                            batch["support_y"][0])
    with pytest.raises(ConfigError, match="matches no parameter"):
        _learner(loss=mse, fast=r"\.head").init(jax.random.key(0), model)


def test_second_order_maml_through_inner_adam_matches_finite_differences():
    with jax.enable_x64(True):
        model = _tiny(jax.random.key(0), dtype=jnp.float64)
        batch = _episodes(jax.random.key(1), tasks=2, dtype=jnp.float64)
        learner = maml.MAML(optim.Config(), meta.Inner(kind="adam", lr=0.05, steps=3, weight_decay=0.1), mse)
        _, _, g = learner.meta_gradient(model, batch)
        direction = jax.tree.map(lambda p: jax.random.normal(jax.random.key(7), p.shape, p.dtype), model)
        eps = 1e-5

        def at(sign):
            return learner.episode_loss(jax.tree.map(lambda p, d: p + sign * eps * d, model, direction), batch)[0]

        numeric = (at(1.0) - at(-1.0)) / (2 * eps)
        np.testing.assert_allclose(meta.tree_dot(g, direction), numeric, rtol=1e-6)


def test_a_fixed_start_gets_no_meta_gradient():
    model, batch = _tiny(jax.random.key(0)), _episodes(jax.random.key(1))
    for learn_init in (True, False):
        learner = _learner(steps=3, loss=mse, fast=r"\.readout", learn_init=learn_init)
        g = learner.meta_gradient(model, batch)[2]
        assert (np.abs(g.readout).max() > 0) == learn_init and np.abs(g.body).max() > 0


def test_a_meta_step_lowers_the_query_loss_and_refuses_non_episodes():
    model, batch = _tiny(jax.random.key(0)), _episodes(jax.random.key(1))
    learner = maml.MAML(optim.Config(lr=0.01), meta.Inner(kind="adam", lr=0.05, steps=3), mse)
    state = learner.init(jax.random.key(0), model)
    step = eqx.filter_jit(learner.step)
    losses = []
    for _ in range(20):
        state, metrics = step(jax.random.key(0), state, batch)
        losses.append(float(metrics["loss"]))
    assert losses[-1] < losses[0] and np.isfinite(losses).all()
    with pytest.raises(ConfigError, match="episodes"):
        learner.step(jax.random.key(0), state, {"x": batch["support_x"]})


def test_sparse_maml_masks_gate_the_inner_loop_and_learn_through_the_step():
    model, batch = _tiny(jax.random.key(0)), _episodes(jax.random.key(1))
    off = sparse_maml.SparseMAML(optim.Config(lr=0.01), meta.Inner(lr=0.1, steps=3), mse, mask_shift=-0.5)
    on = sparse_maml.SparseMAML(optim.Config(lr=0.01), meta.Inner(lr=0.1, steps=3), mse, mask_shift=0.5)
    s_off, s_on = off.init(jax.random.key(0), model), on.init(jax.random.key(0), model)
    # all masks off: the inner loop changes nothing, so the query loss is the unadapted one
    loss_off, _ = off.episode_loss(model, s_off.mask, batch)
    plain = jax.vmap(lambda x, y: mse(model, x, y))(batch["query_x"], batch["query_y"]).mean()
    np.testing.assert_allclose(loss_off, plain, rtol=1e-6)
    # all on: exactly MAML
    loss_on, _ = on.episode_loss(model, s_on.mask, batch)
    np.testing.assert_allclose(loss_on, maml.MAML(on.outer, on.inner, mse).episode_loss(model, batch)[0], rtol=1e-6)
    with pytest.raises(ConfigError, match="mask_scale"):
        sparse_maml.SparseMAML(on.outer, on.inner, mse, mask_scale=-1.0)
    # the straight-through gradient reaches the mask parameters, second and first order
    for learner in (on, sparse_maml.SparseMAML(on.outer, on.inner, mse, mask_shift=0.5, first_order=True)):
        g = jax.grad(lambda mk, lr=learner: lr.episode_loss(model, mk, batch)[0])(s_on.mask)
        assert all(np.abs(leaf).max() > 0 for leaf in jax.tree.leaves(g))
    # evaluation adapts through the mask: all off leaves the model as it was
    np.testing.assert_array_equal(off.adapt_state(s_off, batch["support_x"][0], batch["support_y"][0]).body,
                                  model.body)
    assert set(sparse_maml.mask_fraction(s_off).values()) == {0.0}
    half = sparse_maml.SparseMAML(on.outer, on.inner, mse).init(jax.random.key(1), model)
    assert 0.3 < float(sparse_maml._on(half.mask)) < 0.7  # the paper's random, centred start


def _linear_problem(lam, dtype=jnp.float64):
    """A linear student (fast readout, slow body) on one regression task, with theta."""
    model = _tiny(jax.random.key(3), dtype=dtype)
    batch = jax.tree.map(lambda v: v[:1], _episodes(jax.random.key(4), tasks=1, n=16, dtype=dtype))
    return model, batch


def test_implicit_gradient_equals_autodiff_through_the_exact_inner_solution():
    """Fast = the readout r of a tanh feature map F; L_in = mean (F r - y)^2 + lam/2 |r - r0|^2 has
    the closed-form minimum r* = (2 F^T F / n + lam I)^-1 (2 F^T y / n + lam r0)."""
    with jax.enable_x64(True):
        lam = 0.5
        model, batch = _linear_problem(lam)
        sx, sy, qx, qy = (batch[k][0] for k in meta.EPISODE_KEYS)

        def exact(m):
            f = jnp.tanh(sx @ m.body)
            n = len(sx)
            r = jnp.linalg.solve(2 * f.T @ f / n + lam * jnp.eye(f.shape[1]), 2 * f.T @ sy / n + lam * m.readout)
            return mse(Tiny(m.body, r), qx, qy)

        truth = eqx.filter_grad(exact)(model)
        learner = implicit.Implicit(optim.Config(), meta.Inner(lr=0.3, steps=3000), mse, lam=lam, fast=r"\.readout",
                                    cg_steps=50)
        _, g = learner.meta_gradient(model, batch)
        for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(truth)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_the_contrastive_rule_approaches_the_implicit_gradient_as_beta_shrinks():
    with jax.enable_x64(True):
        model, batch = _linear_problem(1.0)
        kw = dict(outer=optim.Config(), inner=meta.Inner(lr=0.1, steps=4000), loss=mse, lam=1.0)
        _, truth = implicit.Implicit(**kw, cg_steps=100).meta_gradient(model, batch)
        cos = [float(meta.cosine(contrastive.Contrastive(**kw, beta=b).meta_gradient(model, batch)[1], truth))
               for b in (1.0, 0.1, 0.001)]
        assert cos[0] < cos[1] < cos[2] and cos[2] > 0.99999, cos
        # the estimate converges to the gradient itself, its bias O(beta)
        err = [np.sqrt(float(meta.sq_norm(jax.tree.map(
            jnp.subtract, contrastive.Contrastive(**kw, beta=b).meta_gradient(model, batch)[1], truth))))
            for b in (1e-3, 1e-4)]
        assert 5 < err[0] / err[1] < 20 and err[1] < 1e-4 * np.sqrt(float(meta.sq_norm(truth))), err


def test_the_symmetric_estimate_cancels_the_first_order_bias():
    with jax.enable_x64(True):
        model, batch = _linear_problem(1.0)
        kw = dict(outer=optim.Config(), inner=meta.Inner(lr=0.1, steps=4000), loss=mse, lam=1.0, beta=0.05)
        _, truth = implicit.Implicit(**{k: v for k, v in kw.items() if k != "beta"}, cg_steps=100).meta_gradient(
            model, batch)
        err = [np.sqrt(float(meta.sq_norm(jax.tree.map(jnp.subtract, contrastive.Contrastive(
            **kw, symmetric=s).meta_gradient(model, batch)[1], truth)))) for s in (False, True)]
        assert err[1] < err[0] / 10, err
