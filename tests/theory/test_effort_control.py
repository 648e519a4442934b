"""The engagement-controlled mode dynamics: the classic sigmoid at constant engagement, gradient
descent on a network under any schedule, and a value gradient that finite differences confirm."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.theory import deep_linear
from complab.theory import effort_control as ec


def test_constant_engagement_gives_the_deep_linear_sigmoid():
    s, dt, steps = jnp.array([3.0, 1.0]), 1e-3, 8000
    a, _ = ec.trajectory(jnp.ones((steps, 2)), s, 1e-3, dt)
    t = dt * np.arange(steps)
    for k in range(2):
        want = deep_linear.mode_strength(t, float(s[k]), 1e-3)
        assert np.max(np.abs(np.asarray(a[:, k]) - want)) / float(s[k]) < 0.01


def test_the_reduction_is_gradient_descent_on_a_network_under_any_schedule():
    s, dt, steps = np.array([3.0, 1.0]), 0.01, 300
    psi = np.abs(np.random.default_rng(0).normal(1.0, 0.6, (steps, 2)))
    a, _ = ec.trajectory(jnp.asarray(psi), jnp.asarray(s), 1e-3, dt)
    frame = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 2)))[0]
    w1, w2 = np.sqrt(1e-3) * frame, np.sqrt(1e-3) * frame.T
    for k in range(steps):
        assert np.allclose(np.diag(w2 @ w1), np.asarray(a[k]), rtol=1e-4, atol=1e-7)
        err = (np.diag(s) - w2 @ w1) * psi[k][None, :]
        w1, w2 = w1 + dt * w2.T @ err, w2 + dt * err @ w1.T
    assert np.diag(w2 @ w1)[0] > 0.9 * s[0]  # it learned: not a comparison of two flat curves


def test_the_value_gradient_matches_finite_differences():
    steps = 400
    with jax.enable_x64(True):
        s = jnp.array([3.0, 1.0], jnp.float64)
        theta = jnp.asarray(np.random.default_rng(2).normal(0, 0.5, (20, 2)))

        def v(th):
            return ec.value(ec.schedule(th, steps, 2.0), s, 1e-3, 0.01, 5.0, 0.1)

        g = np.asarray(jax.grad(v)(theta))
        e = np.zeros((20, 2))
        e[3, 1] = 1e-6
        fd = (float(v(theta + e)) - float(v(theta - e))) / 2e-6
        assert abs(fd - g[3, 1]) <= 1e-5 * max(1.0, abs(fd))
        assert np.abs(g).max() > 1e-3  # the value depends on the schedule
