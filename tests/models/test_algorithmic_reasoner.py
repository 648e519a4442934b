"""The algorithmic reasoner: padding nodes never change real nodes' outputs, an example's
state is frozen after its own trajectory, and the two processors' shapes."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.models import algorithmic_reasoner as ar
from complab.models import gmpnn

SIG = ar.Signature(2, 2, (("reach_h", "mask"), ("pi_h", "pointer"), ("d", "scalar"), ("i", "mask_one")))
N, PAD, STEPS = 4, 7, 5


def _inputs(n, key):
    k1, k2 = jax.random.split(key)
    x = jax.random.uniform(k1, (n, 2))
    e = (jax.random.uniform(k2, (n, n, 2)) < 0.5).astype(jnp.float32)
    hints = {"reach_h": jnp.zeros(n).at[0].set(1.0), "pi_h": jnp.arange(n), "d": jnp.zeros(n),
             "i": jnp.zeros(n).at[0].set(1.0)}
    return x, e, hints


def _pad(x, e, hints, key):
    """The example in PAD slots, the extra nodes filled with noise (they must not matter)."""
    k1, k2 = jax.random.split(key)
    xp = jax.random.normal(k1, (PAD, 2)).at[:N].set(x)
    ep = jax.random.normal(k2, (PAD, PAD, 2)).at[:N, :N].set(e)
    hp = {k: jnp.concatenate([v, jnp.arange(N, PAD) if k == "pi_h" else jnp.ones(PAD - N)]) for k, v in hints.items()}
    return xp, ep, hp


@pytest.mark.parametrize("kind", gmpnn.KINDS)
def test_padding_nodes_never_change_real_outputs(kind):
    model = ar.Reasoner(gmpnn.Config(kind=kind, width=16), {"a": SIG}, key=jax.random.key(0))
    x, e, h = _inputs(N, jax.random.key(1))
    call = eqx.filter_jit(lambda m, x, e, v, h: m("a", x, e, v, h, jnp.int32(4), STEPS))
    small = call(model, x, e, jnp.ones(N, bool), h)
    big = call(model, *_pad(x, e, h, jax.random.key(2))[:2], jnp.arange(PAD) < N, _pad(x, e, h, jax.random.key(2))[2])
    np.testing.assert_allclose(big["output"][:N, :N], small["output"], atol=1e-4)
    assert bool(jnp.all(big["output"][:N, N:] < -1e8))  # no real node points to a padding node
    for k in ("reach_h", "d", "i"):
        np.testing.assert_allclose(big["hints"][k][:, :N], small["hints"][k], atol=1e-4)
    np.testing.assert_allclose(big["hints"]["pi_h"][:, :N, :N], small["hints"]["pi_h"], atol=1e-4)


def test_state_is_frozen_after_the_trajectory():
    model = ar.Reasoner(gmpnn.Config(width=16), {"a": SIG}, key=jax.random.key(0))
    x, e, h = _inputs(N, jax.random.key(1))
    call = eqx.filter_jit(lambda m, n, steps: m("a", x, e, jnp.ones(N, bool), h, n, steps))
    # a trajectory of 3 frames runs 2 steps: its output is the same however many steps are padded on
    short, long = call(model, jnp.int32(3), 2), call(model, jnp.int32(3), STEPS)
    np.testing.assert_allclose(short["output"], long["output"], atol=1e-5)
    np.testing.assert_allclose(short["hints"]["d"], long["hints"]["d"][:2], atol=1e-5)
    # ... and differs from a longer trajectory's; a 1-frame one still runs one step, like a 2-frame one
    assert not np.allclose(long["output"], call(model, jnp.int32(5), STEPS)["output"])
    np.testing.assert_allclose(call(model, jnp.int32(1), STEPS)["output"], call(model, jnp.int32(2), STEPS)["output"])


@pytest.mark.parametrize("kind, edge_dim, gated", [("triplet_gmpnn", 32, True), ("mpnn", 16, False)])
def test_processor_kinds(kind, edge_dim, gated):
    model = ar.Reasoner(gmpnn.Config(kind=kind, width=16), {"a": SIG, "b": SIG}, key=jax.random.key(0))
    assert (model.processor.gate is not None) == gated and (model.processor.triplets is not None) == gated
    assert model.heads["a"].output.p3.in_features == edge_dim
    if gated:
        assert np.allclose(model.processor.gate.g3.bias, -3.0)
        assert model.processor.triplets.out.in_features == 8
    x, e, h = _inputs(N, jax.random.key(1))
    out = model("b", x, e, jnp.ones(N, bool), h, jnp.int32(4), STEPS)
    assert out["output"].shape == (N, N) and out["hints"]["pi_h"].shape == (STEPS, N, N)
    assert out["hints"]["reach_h"].shape == (STEPS, N)
    new, msgs = model.processor(jnp.ones((N, 16)), jnp.ones((N, N, 16)), jnp.zeros((N, 16)), jnp.ones(N, bool))
    assert new.shape == (N, 16) and (msgs is None) == (not gated)
    if gated:
        assert msgs.shape == (N, N, 16)
