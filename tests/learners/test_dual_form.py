"""The dual form: a trained MLP's every linear layer equals its initial weights plus
attention over the stored training inputs and errors, with and without momentum."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.learners import dual_form as df
from complab.models import mlp
from complab.tasks import digit_classes as dc

STEPS, BATCH = 12, 8


def _trained(momentum: float, bias: bool = True):
    task = dc.DigitClasses(dc.Config())
    with jax.enable_x64(True):
        model = mlp.MLP(mlp.Config(hidden=(16, 12), bias=bias), 64, 10, key=jax.random.key(0))
        learner = df.RecordingSGD(lr=0.05, momentum=momentum, capacity=STEPS, batch_size=BATCH, loss=task.loss)
        state = learner.init(jax.random.key(1), model)
        step = eqx.filter_jit(learner.step)
        for t in range(STEPS):
            state, _ = step(jax.random.key(t), state, task.sample(jax.random.key(t), "train", BATCH))
        q = task.full("test").x[:40, 0].astype(jnp.float64)
        return task, learner, state, q


def _relative_errors(state, q, scale):
    hs = jax.vmap(state.model.inputs)(q)
    out = []
    for layer in range(len(state.model.weights)):
        exact = hs[layer] @ state.model.weights[layer].T
        if state.model.biases is not None:
            exact = exact + state.model.biases[layer][None]
        dual = df.dual_output(state, layer, hs[layer], scale)
        out.append(float(jnp.max(jnp.linalg.norm(dual - exact, axis=1) / jnp.linalg.norm(exact, axis=1))))
    return out


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("bias", [True, False])
def test_every_layer_equals_its_dual_form_in_float64(momentum, bias):
    with jax.enable_x64(True):
        _, _, state, q = _trained(momentum, bias)
        assert all(e < 1e-12 for e in _relative_errors(state, q, df.momentum_scale(STEPS, momentum)))
        moved = [float(jnp.linalg.norm(w - w0) / jnp.linalg.norm(w0))
                 for w, w0 in zip(state.model.weights, state.initial.weights)]
        assert min(moved) > 1e-3  # the weights did move: the identity is not 0 == 0
        if momentum:  # ignoring momentum's rescaling of old errors breaks it
            assert min(_relative_errors(state, q, jnp.ones(STEPS))) > 1e-3


def test_the_recorded_errors_are_the_autodiff_gradient():
    with jax.enable_x64(True):
        task = dc.DigitClasses(dc.Config())
        model = mlp.MLP(mlp.Config(hidden=(16,)), 64, 10, key=jax.random.key(0))
        learner = df.RecordingSGD(lr=0.1, momentum=0.0, capacity=1, batch_size=BATCH, loss=task.loss)
        batch = task.sample(jax.random.key(2), "train", BATCH)
        state, metrics = learner.step(jax.random.key(0), learner.init(jax.random.key(0), model), batch)
        grads = jax.grad(lambda m: task.loss(jax.vmap(m)(batch.x.astype(jnp.float64)), batch))(model)
        for w, w_new, g in zip(model.weights, state.model.weights, grads.weights):
            np.testing.assert_allclose(w_new, w - 0.1 * g, atol=1e-14)
        for layer, g in enumerate(grads.weights):
            mem = state.memory
            np.testing.assert_allclose(mem.errors[layer][0].T @ mem.keys[layer][0], -0.1 * g, atol=1e-14)
        assert np.array_equal(state.memory.labels[0], batch.info["label"])


def test_momentum_scale_sums_the_remaining_geometric_series():
    np.testing.assert_allclose(df.momentum_scale(3, 0.5), [1.75, 1.5, 1.0])
    np.testing.assert_allclose(df.momentum_scale(4, 0.0), np.ones(4))


def test_recording_sgd_trains_exactly_as_the_optimizer_library_does():
    """The memory's momentum convention is torch's, as learners/optim's SGD with momentum."""
    from complab.learners import optim, supervised

    with jax.enable_x64(True):
        task = dc.DigitClasses(dc.Config())
        model = mlp.MLP(mlp.Config(hidden=(16,)), 64, 10, key=jax.random.key(0))
        rec = df.RecordingSGD(lr=0.05, momentum=0.9, capacity=6, batch_size=BATCH, loss=task.loss)
        ref = supervised.Supervised(optim.Config(kind="sgd", lr=0.05, momentum=0.9, steps=6),
                                    lambda m, b, k: task.loss(jax.vmap(m)(b.x.astype(jnp.float64)), b))
        a, b = rec.init(None, model), ref.init(None, model)
        for t in range(6):
            batch = task.sample(jax.random.key(t), "train", BATCH)
            a, _ = rec.step(None, a, batch)
            b, _ = ref.step(None, b, batch)
        for w, v in zip(a.model.weights + a.model.biases, b.model.weights + b.model.biases):
            np.testing.assert_allclose(w, v, atol=1e-12)
