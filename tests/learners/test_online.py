"""The online rules against BPTT and against independent references: with one layer the
online gradient of the recurrent layer and everything above it is BPTT's (float64); with
two layers the top layer's still is and the lower one's is not (the approximation is
real); the truncated and spatial rules equal backpropagation through a stack whose
recurrence is cut (h_{t-1} held fixed; lam h_{t-1} held fixed), computed here without
traces; the spatial rule gives lam no gradient."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.learners import online, optim
from complab.models import lru_stack
from complab.models.mixers import lru
from complab.tasks import copy

TASK = copy.Copy(copy.Config(bits=2, length=4, pad=2))
GRADIENT = eqx.filter_jit(online.gradient)  # the same values; eager scans in float64 cost the suite seconds


def _setup(layers: int, dtype=jnp.float64):
    model = lru_stack.LRUStack(lru_stack.Config(layers=layers, width=6, cell=lru.Config(state=5, r_min=0.5)),
                               *TASK.dims, key=jax.random.key(layers))
    model = jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, model)
    return model, jax.tree.map(lambda a: a.astype(dtype), TASK.sample(jax.random.key(7), "train", 3))


def _close(a, b):
    va, vb = (jax.flatten_util.ravel_pytree(eqx.filter(t, eqx.is_inexact_array))[0] for t in (a, b))
    return float(jnp.linalg.norm(va - vb) / jnp.linalg.norm(vb))


@pytest.mark.parametrize("layers", [1, 2])
def test_the_top_recurrent_layer_and_above_get_bptts_gradient(layers):
    with jax.enable_x64(True):
        model, batch = _setup(layers)
        loss_on, g_on = GRADIENT(model, batch, TASK.position_loss, "online")
        loss_bp, g_bp = GRADIENT(model, batch, TASK.position_loss, "bptt")
        np.testing.assert_allclose(float(loss_on), float(loss_bp), rtol=1e-12)
        np.testing.assert_allclose(float(loss_bp), float(TASK.loss(jax.vmap(model)(batch.x), batch)), rtol=1e-12)
        for part in (lambda g: g.cells[-1], lambda g: g.glu_value[-1], lambda g: g.glu_gate[-1],
                     lambda g: g.decoder):
            assert _close(part(g_on), part(g_bp)) < 1e-10
        assert _close(g_on.encoder, g_bp.encoder) > 1e-3  # below the recurrence: spatial only
        if layers == 2:
            assert _close(g_on.cells[0], g_bp.cells[0]) > 1e-3  # temporal paths through layer 2 are dropped


def _cut_reference(model, batch, cut: str):
    """BPTT through the step-by-step stack with the recurrence cut: `truncated` holds
    h_{t-1} fixed, `spatial` holds lam h_{t-1} fixed (lam and h_{t-1} both)."""
    w = batch.mask / batch.mask.sum()

    def loss(m, x, y, w):
        if cut == "spatial":
            m = eqx.tree_at(lambda m: [c.nu_log for c in m.cells] + [c.theta_log for c in m.cells], m,
                            [jax.lax.stop_gradient(c.nu_log) for c in m.cells]
                            + [jax.lax.stop_gradient(c.theta_log) for c in m.cells])

        def body(hs, inp):
            x_t, y_t, w_t = inp
            new, out, _ = m.step(jax.lax.stop_gradient(hs), x_t)
            return new, w_t * TASK.position_loss(out, y_t)

        return jax.lax.scan(body, m.init_state(), (x, y, w))[1].sum()

    grads = jax.vmap(lambda x, y, w: eqx.filter_grad(loss)(model, x, y, w))(batch.x, batch.y, w)
    return jax.tree.map(lambda g: g.sum(0), grads)


@pytest.mark.parametrize("mode", ["truncated", "spatial"])
def test_truncated_and_spatial_rules_are_backprop_through_a_cut_recurrence(mode):
    with jax.enable_x64(True):
        model, batch = _setup(2)
        _, g = GRADIENT(model, batch, TASK.position_loss, mode)
        assert _close(g, _cut_reference(model, batch, mode)) < 1e-10
        lam_grads = np.concatenate([np.asarray(getattr(c, n)) for c in g.cells for n in ("nu_log", "theta_log")])
        assert (not lam_grads.any()) == (mode == "spatial")


def test_a_learner_step_descends_on_the_rules_gradient():
    model, batch = _setup(1, jnp.float32)
    learner = online.Online(optim.Config(kind="sgd", lr=0.1), TASK.position_loss, "online")
    state = learner.init(jax.random.key(0), model)
    new, metrics = learner.step(jax.random.key(0), state, batch)
    _, g = online.gradient(model, batch, TASK.position_loss, "online")
    moved = jax.tree.map(lambda a, b: a - b, learner.params(new), learner.params(state))
    assert _close(moved, jax.tree.map(lambda x: -0.1 * x, g)) < 1e-5
    assert float(metrics["loss"]) > 0
