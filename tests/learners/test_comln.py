"""COMLN's forward-mode meta-gradient against autodiff through a fine solve."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab.learners import comln, optim


def _problem(key, m=6, n=3, d=4):
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    phi = jax.random.normal(k1, (m, d), jnp.float64)
    y = jax.nn.one_hot(jnp.arange(m) % n, n, dtype=jnp.float64)
    w0 = 0.3 * jax.random.normal(k2, (n, d), jnp.float64)
    qx = jax.random.normal(k3, (5, d), jnp.float64)
    qy = jax.random.randint(k4, (5,), 0, n)
    return w0, phi, y, qx, qy


def _query_loss(solve):
    def loss(w0, phi, y, t, qx, qy):
        return comln.cross_entropy(qx @ solve(w0, phi, y, t).T, qy)

    return loss


def test_the_custom_vjp_equals_autodiff_through_a_fine_solve():
    with jax.enable_x64(True):
        w0, phi, y, qx, qy = _problem(jax.random.key(0))
        t, steps = jnp.asarray(2.5), 400
        fast = _query_loss(lambda *a: comln.flow(*a, float(t) / steps))
        fine = _query_loss(lambda *a: comln.flow_unrolled(*a, steps))
        np.testing.assert_allclose(comln.flow(w0, phi, y, t, float(t) / steps),
                                   comln.flow_unrolled(w0, phi, y, t, steps), rtol=1e-12)
        got = jax.grad(fast, argnums=(0, 1, 3))(w0, phi, y, t, qx, qy)
        want = jax.grad(fine, argnums=(0, 1, 3))(w0, phi, y, t, qx, qy)
        for name, a, b, tol in zip(("W0", "Phi", "T"), got, want, (1e-8, 1e-8, 1e-4)):
            err = float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))
            assert err < tol, (name, err)
        assert float(jnp.abs(want[2])) > 1e-3  # the horizon's gradient is not trivially zero


def test_the_flow_descends_the_support_loss_and_meta_training_lowers_the_query_loss():
    with jax.enable_x64(True):
        w0, phi, y, qx, qy = _problem(jax.random.key(1))
        labels = y.argmax(-1)
        losses = [float(comln.cross_entropy(phi @ comln.flow(w0, phi, y, jnp.asarray(t), 0.05).T, labels))
                  for t in (0.0, 1.0, 4.0)]
        assert losses[0] > losses[1] > losses[2]
    key = jax.random.key(2)
    centres = jax.random.normal(key, (3, 8))

    def episode(k):
        ks, kq = jax.random.split(k)
        sy, qy = jnp.tile(jnp.arange(3), (4, 2)), jnp.tile(jnp.arange(3), (4, 3))
        return {"support_x": centres[sy] + jax.random.normal(ks, sy.shape + (8,)),
                "support_y": sy, "query_x": centres[qy] + jax.random.normal(kq, qy.shape + (8,)), "query_y": qy}

    model = comln.Model(lambda x: x, ways=3, dim=8, key=jax.random.key(3))
    learner = comln.COMLN(optim.Config(lr=0.05))  # log T moves up to ~0.05 per step
    state = learner.init(key, model)
    step = eqx.filter_jit(learner.step)
    first, _ = learner.episode_loss(model, episode(jax.random.key(9)))
    for i in range(30):
        state, metrics = step(key, state, episode(jax.random.key(i)))
    last, aux = learner.episode_loss(state.model, episode(jax.random.key(9)))
    # longer adaptation helps on separable clusters: the horizon grows from 1 (Adam moves log T ~lr per step)
    assert float(last) < float(first) and float(aux["horizon"]) > 1.2, (float(last), float(aux["horizon"]))
