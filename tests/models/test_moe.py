"""Mixtures of experts against a per-expert loop: top-K selection, gating, expert
dropout only in training, and the entropy regulariser."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.models import moe, sequence
from complab.models.mixers import linear_transformer


def _reference(block, x, gate):
    """Every expert run separately, the top-K by score kept, weighted by the score."""
    out = []
    for token in np.asarray(x):
        logits = np.asarray(block.w_select) @ token
        s = 1 / (1 + np.exp(-logits)) if gate == "sigmoid" else np.exp(logits) / np.exp(logits).sum()
        top = np.argsort(-s)[: block.cfg.k]
        y = sum(s[e] * np.asarray(block.w_out[e]) @ np.maximum(np.asarray(block.w_in[e]) @ token, 0) for e in top)
        out.append(y)
    return np.stack(out)


def test_moe_matches_a_loop_over_the_selected_experts():
    x = jax.random.normal(jax.random.key(1), (9, 6))
    for gate in ("sigmoid", "softmax"):
        block = moe.Config(experts=5, expert_size=3, k=2, gate=gate).build(6, key=jax.random.key(0))
        tr = block.trace(x)
        np.testing.assert_allclose(tr["out"], _reference(block, x, gate), rtol=1e-4, atol=1e-5)
        assert ((np.asarray(tr["gates"]) > 0).sum(1) == 2).all()
        np.testing.assert_allclose(jax.vmap(block)(x), tr["out"], rtol=1e-5, atol=1e-6)


def test_expert_dropout_acts_only_with_a_key_and_never_selects_a_dropped_expert():
    block = moe.Config(experts=8, expert_size=2, k=3, expert_dropout=0.5).build(4, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (20, 4))
    np.testing.assert_array_equal(block.trace(x)["gates"], block.trace(x)["gates"])
    for k in range(6):
        key = jax.random.key(k)
        kept = np.asarray(jax.random.bernoulli(key, 0.5, (20, 8)))  # per token and expert, as the authors' mask
        tr = block.trace(x, key)
        gates, scores = np.asarray(tr["gates"]), np.asarray(jax.nn.sigmoid(tr["logits"]))
        assert (gates[~kept] == 0).all()  # a dropped expert is never used for that token
        assert ((gates > 0).sum(1) == np.minimum(3, kept.sum(1))).all()  # the top 3 of the kept ones are
        for t in range(20):
            top = np.argsort(-np.where(kept[t], scores[t], -1))[:min(3, kept[t].sum())]
            np.testing.assert_allclose(gates[t, top], scores[t, top], rtol=1e-6)  # weighted by their own score


def test_entropy_regulariser_is_minus_log_experts_when_uniform_and_zero_when_peaked():
    np.testing.assert_allclose(moe.entropy_regulariser(jnp.zeros((3, 7, 4))), -np.log(4), rtol=1e-6)
    peaked = jnp.tile(jnp.array([50.0, 0, 0, 0]), (5, 1))
    assert abs(float(moe.entropy_regulariser(peaked))) < 1e-6


def test_a_transformer_with_moe_blocks_traces_the_selection():
    cfg = sequence.Config(mixer=linear_transformer.Config(heads=2), ff=moe.Config(experts=4, expert_size=4, k=2,
                          expert_dropout=0.5), layers=2, d_model=8, norm="pre")
    model = sequence.SequenceModel(cfg, 3, 2, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 3))
    tr = model.trace(x)
    assert tr["block1.ff.logits"].shape == (6, 4)
    assert not np.allclose(model(x, key=jax.random.key(3), train=True), model(x))
