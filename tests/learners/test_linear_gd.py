"""Two-layer linear gradient descent: unit weights change nothing, a task weighted zero is not learned."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.learners.linear_gd import TwoLayerLinearGD


def _run(learner, steps=200):
    frame = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 2)))[0]
    state = learner.init(jax.random.key(0), (jnp.asarray(0.03 * frame), jnp.asarray(0.03 * frame.T)))
    for _ in range(steps):
        state, _ = learner.step(jax.random.key(0), state, None)
    return np.diagonal(np.asarray(state.w2 @ state.w1))


def test_unit_weights_are_plain_gradient_descent_and_a_zero_weight_stops_that_task():
    target = jnp.diag(jnp.array([3.0, 1.0]))
    plain = _run(TwoLayerLinearGD(target, 0.05))
    assert plain[0] > 2.9 and plain[1] > 0.9  # both tasks learned
    np.testing.assert_array_equal(_run(TwoLayerLinearGD(target, 0.05, jnp.ones((10, 2)))), plain)
    only_first = _run(TwoLayerLinearGD(target, 0.05, jnp.array([[1.0, 0.0]])))
    assert only_first[0] > 2.9 and abs(only_first[1] - 0.03**2) < 1e-6  # the second task's mode never moves
