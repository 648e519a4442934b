"""Optimizers: plain SGD is x - lr * grad, per-group scalings multiply the update of
the parameters they match, and a group that matches nothing is refused."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.learners import optim, supervised
from complab.models.committee import CommitteeMachine


def _loss(model, batch, key=None):
    x, y = batch
    return 0.5 * (model(x) - y) ** 2


def _step(cfg):
    model = CommitteeMachine(3, 8, key=jax.random.key(0))
    learner = supervised.Supervised(cfg, _loss)
    batch = (jax.random.normal(jax.random.key(1), (8,)), jnp.array(0.7))
    state = learner.init(None, model)
    new, metrics = learner.step(None, state, batch)
    grads = jax.grad(_loss)(model, batch)
    return model, new.model, grads


def test_sgd_is_a_plain_gradient_step():
    old, new, g = _step(optim.Config(kind="sgd", lr=0.1))
    np.testing.assert_allclose(new.w, old.w - 0.1 * g.w, rtol=1e-6)
    np.testing.assert_allclose(new.v, old.v - 0.1 * g.v, rtol=1e-6)


def test_rmsprop_is_torchs_first_step():
    """torch.optim.RMSprop's first step: avg = (1 - alpha) g^2, x - lr g / (sqrt(avg) + eps)."""
    old, new, g = _step(optim.Config(kind="rmsprop", lr=0.01, b2=0.99))
    np.testing.assert_allclose(new.w, old.w - 0.01 * g.w / (np.sqrt(0.01 * g.w ** 2) + 1e-8), rtol=1e-5)


def test_groups_scale_the_learning_rate_of_what_they_match():
    old, new, g = _step(optim.Config(kind="sgd", lr=0.1, groups=(optim.Group(r"\.v$", 0.25),)))
    np.testing.assert_allclose(new.w, old.w - 0.1 * g.w, rtol=1e-6)
    np.testing.assert_allclose(new.v, old.v - 0.025 * g.v, rtol=1e-6)
    _, frozen, _ = _step(optim.Config(kind="sgd", lr=0.1, groups=(optim.Group(r"\.v$", 0.0),)))
    np.testing.assert_array_equal(frozen.v, old.v)  # scale 0 freezes a layer


def test_a_group_that_matches_nothing_is_refused():
    with pytest.raises(ConfigError) as e:
        _step(optim.Config(groups=(optim.Group(r"\.u$", 0.5),)))
    assert "matches no parameter; the parameters are: .w, .v" in str(e.value)


def test_adam_with_weight_decay_decays_matrices_only():
    old, new, _ = _step(optim.Config(lr=1e-9, weight_decay=1e6))  # decay dominates the tiny Adam step
    assert float(jnp.abs(new.w).sum()) < float(jnp.abs(old.w).sum())
    np.testing.assert_allclose(new.v, old.v, atol=1e-6)


def test_the_norm_penalty_adds_lambda_times_the_frobenius_norms_and_is_finite_at_zero():
    model = {"w": jnp.array([[3.0, 4.0]]), "b": jnp.zeros(3)}
    loss = supervised.with_norm_penalty(lambda m, batch, key: jnp.sum(m["w"]), 0.5)
    assert float(loss(model, None, None)) == 7.0 + 0.5 * 5.0
    grad = eqx.filter_grad(loss)(model, None, None)
    assert np.allclose(grad["w"], 1 + 0.5 * np.array([[0.6, 0.8]])) and np.all(grad["b"] == 0)
