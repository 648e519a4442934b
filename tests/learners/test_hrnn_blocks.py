"""The block-local gradient of the cut hierarchical RNN (float64): its loss and gradient are
autodiff's of the experiment's cut and local-loss training losses over the whole batch,
for several sequence lengths and block sizes; the cut matters (full gradients differ), so
the comparison would fail without it."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.experiments.hrnn_local_losses import _variant_loss
from complab.learners import hrnn_blocks
from complab.models import hrnn
from complab.tasks import symbol_copy as sc

SHAPES = [(8, 4, "recall"), (12, 2, "all"), (20, 8, "all")]  # (delay, k, loss_on): T = delay + 4


def _setup(delay: int, k: int, loss_on: str):
    task = sc.SymbolCopy(sc.Config(symbols=2, alphabet=4, delay=delay, loss_on=loss_on))
    model = hrnn.HRNN(hrnn.Config(lower=6, upper=5, k=k), *task.dims, key=jax.random.key(k))
    model = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, model)
    batch = task.sample(jax.random.key(7), "train", 3)
    batch = eqx.tree_at(lambda b: (b.x, b.mask), batch, (batch.x.astype(jnp.float64), batch.mask.astype(jnp.float64)))
    return task, model, batch


def _rel(a, b) -> float:
    va, vb = (jax.flatten_util.ravel_pytree(eqx.filter(t, eqx.is_inexact_array))[0] for t in (a, b))
    return float(jnp.linalg.norm(va - vb) / jnp.linalg.norm(vb))


def _autodiff(task, model, batch, variant: str, weight: float):
    return eqx.filter_value_and_grad(lambda m: _variant_loss(task, variant, weight, m, batch, None))(model)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("variant, weight", [("cut", 0.0), ("local", 0.7)])
def test_block_local_gradient_is_autodiffs_of_the_cut_loss(shape, variant, weight):
    with jax.enable_x64(True):
        task, model, batch = _setup(*shape)
        loss, grad = hrnn_blocks.gradient(model, batch, task.position_loss, weight)
        want_loss, want = _autodiff(task, model, batch, variant, weight)
        np.testing.assert_allclose(float(loss), float(want_loss), rtol=1e-12)
        assert _rel(grad, want) < 1e-10
        assert _rel(grad.cell2, want.cell2) < 1e-10 and _rel(grad.cell1, want.cell1) < 1e-10
        if variant == "local":
            assert _rel(grad.decoder, want.decoder) < 1e-10 and float(jnp.abs(want.decoder.weight).max()) > 0


@pytest.mark.parametrize("shape", SHAPES)
def test_the_cut_matters_full_gradients_differ(shape):
    with jax.enable_x64(True):
        task, model, batch = _setup(*shape)
        _, grad = hrnn_blocks.gradient(model, batch, task.position_loss, 0.0)
        _, full = _autodiff(task, model, batch, "full", 0.0)
        assert _rel(grad, full) > 1e-3
        assert _rel(grad.cell1, full.cell1) > 1e-3  # the lower level loses the paths from later blocks


def test_one_sequence_is_the_batch_of_one():
    with jax.enable_x64(True):
        task, model, batch = _setup(8, 4, "all")
        one = jax.tree.map(lambda a: a[:1], batch)
        w = one.mask[0] / one.mask.sum()
        loss, grad = hrnn_blocks.block_local(model, one.x[0], one.y[0], w, task.position_loss, 0.5)
        want_loss, want = hrnn_blocks.gradient(model, one, task.position_loss, 0.5)
        np.testing.assert_allclose(float(loss), float(want_loss), rtol=1e-12)
        assert _rel(grad, want) < 1e-12
