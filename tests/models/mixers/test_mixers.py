"""Every mixer: parallel == recurrent form, and causality by gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.models.mixers import (delta_net, elstm, gated_rnn, hyla, linear_attention, linear_transformer, lru,
                                   lstm, recurrent_delta, softmax_attention, srwm)

MIXERS = [
    linear_attention.Config(),
    linear_attention.Config(heads=3, key_size=2, value_size=5),
    gated_rnn.Config(neurons=7),
    gated_rnn.Config(neurons=5, gates=9, lambda_min=0.9, lambda_max=1.0),
    linear_transformer.Config(),
    linear_transformer.Config(heads=2, key_size=3, value_size=2, normalise=True),
    delta_net.Config(),
    delta_net.Config(heads=2, key_size=3, value_size=4),
    delta_net.Config(heads=2, chunk=4),
    lru.Config(state=6),
    lru.Config(state=3, r_min=0.9, r_max=0.999, max_phase=0.314),
    *[softmax_attention.Config(heads=2, encoding=e, max_len=40, t5_buckets=8, t5_max_distance=16)
      for e in ("none", "rope", "alibi", "t5", "xl")],
    hyla.Config(heads=3, causal=True, max_len=40),
    hyla.Config(heads=2, causal=True, encoding="t5", rms_heads=False, max_len=40, t5_buckets=8, t5_max_distance=16),
    hyla.Config(heads=2, causal=True, encoding="rope", value_net="linear", max_len=40),
]
# no parallel form (their state feeds back nonlinearly): causality and traces only
RECURRENT_ONLY = [lstm.Config(hidden=5), elstm.Config(hidden=4), recurrent_delta.Config(),
                  recurrent_delta.Config(heads=2, head_size=2), srwm.Config()]


@pytest.mark.parametrize("cfg", MIXERS, ids=lambda c: repr(c))
@pytest.mark.parametrize("dim,time", [(1, 1), (6, 33)])  # 33: not a multiple of any chunk or block size
def test_parallel_equals_recurrent(cfg, dim, time):
    mixer = cfg.build(dim, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (time, dim))
    par, rec = jax.jit(lambda m, x: m(x))(mixer, x), jax.jit(lambda m, x: m.recurrent(x))(mixer, x)
    scale = float(jnp.abs(rec).max()) + 1e-6
    np.testing.assert_allclose(par / scale, rec / scale, atol=2e-6)
    if time == 33:  # and without jit, once
        np.testing.assert_allclose(mixer(x) / scale, rec / scale, atol=2e-6)


@pytest.mark.parametrize("cfg", MIXERS, ids=lambda c: repr(c))
@pytest.mark.parametrize("dim,time", [(5, 13)])
def test_parallel_and_recurrent_gradients_agree(cfg, dim, time):
    """The forms must agree in what training sees too: gradients w.r.t. the weights and the input."""
    mixer = cfg.build(dim, key=jax.random.key(6))
    x = jax.random.normal(jax.random.key(7), (time, dim))
    probe = jax.random.normal(jax.random.key(8), (time, dim))

    def grads(form):
        return jax.jit(jax.grad(lambda m, x: jnp.sum(form(m, x) * probe), argnums=(0, 1)))(mixer, x)

    par, rec = grads(lambda m, x: m(x)), grads(lambda m, x: m.recurrent(x))
    for a, b in zip(jax.tree.leaves(par), jax.tree.leaves(rec)):
        scale = float(jnp.abs(b).max()) + 1e-6
        np.testing.assert_allclose(a / scale, b / scale, atol=1e-5)


@pytest.mark.parametrize("cfg", MIXERS + RECURRENT_ONLY, ids=lambda c: repr(c))
def test_causal_by_gradients(cfg):
    mixer = cfg.build(4, key=jax.random.key(2))
    x = jax.random.normal(jax.random.key(3), (8, 4))
    t = 4
    grad = jax.jit(jax.grad(lambda m, x: m(x)[t].sum(), argnums=1))(mixer, x)
    assert float(jnp.abs(grad[t + 1 :]).max()) == 0.0  # the future does not leak
    assert float(jnp.abs(grad[: t + 1]).max()) > 0.0  # the past is used


@pytest.mark.parametrize("cfg", MIXERS + RECURRENT_ONLY, ids=lambda c: repr(c))
def test_trace_names_the_output_and_intermediates(cfg):
    mixer = cfg.build(4, key=jax.random.key(4))
    x = jax.random.normal(jax.random.key(5), (6, 4))
    tr = mixer.trace(x)
    np.testing.assert_allclose(tr["out"], mixer(x), rtol=1e-6, atol=1e-6)
    assert len(tr) >= 2  # each mixer exposes something beyond its output


@pytest.mark.parametrize("encoding", ["none", "rope", "alibi", "t5", "xl"])
def test_non_causal_attention_sees_the_future(encoding):
    cfg = softmax_attention.Config(causal=False, encoding=encoding, t5_buckets=8, t5_max_distance=16)
    mixer = cfg.build(4, key=jax.random.key(2))
    x = jax.random.normal(jax.random.key(3), (8, 4))
    grad = jax.jit(jax.grad(lambda m, x: m(x)[2].sum(), argnums=1))(mixer, x)
    assert float(jnp.abs(grad[3:]).max()) > 0.0


def test_positions_enter_only_through_the_encoding():
    x = jax.random.normal(jax.random.key(3), (6, 4))
    shifted = jnp.arange(6) + 7
    for encoding, changes in (("none", False), ("rope", False), ("alibi", False), ("t5", False), ("xl", False)):
        m = softmax_attention.Config(encoding=encoding, t5_buckets=8, t5_max_distance=16).build(
            4, key=jax.random.key(0))
        # relative schemes: a common shift of all positions changes nothing
        assert np.allclose(m(x), m(x, shifted), atol=1e-5) != changes, encoding
    rope = softmax_attention.Config(encoding="rope").build(4, key=jax.random.key(0))
    spread = jnp.array([0, 1, 5, 9, 20, 40])
    assert not np.allclose(rope(x), rope(x, spread), atol=1e-3)  # but different gaps do


def test_padding_keys_get_no_weight_in_non_causal_attention():
    m = softmax_attention.Config(causal=False, heads=2, encoding="alibi").build(4, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(3), (9, 4))
    valid = jnp.arange(9) < 6
    padded = m(x, valid=valid)[:6]
    np.testing.assert_allclose(padded, m(x[:6]), atol=1e-6)
    assert not np.allclose(m(x)[:6], m(x[:6]), atol=1e-3)  # without the mask the padding leaks


def test_hyla_is_invariant_to_the_scale_of_its_scores_only_with_rms_heads():
    x = jax.random.normal(jax.random.key(3), (7, 6))
    for rms in (True, False):
        m = hyla.Config(heads=3, rms_heads=rms).build(6, key=jax.random.key(0))
        scaled = eqx.tree_at(lambda m: m.w_q, m, 10.0 * m.w_q)
        assert np.allclose(m(x), scaled(x), rtol=1e-3, atol=1e-4) == rms


def test_hyla_ablations_change_the_function_and_linear_value_net_is_bilinear_in_scores():
    x = jax.random.normal(jax.random.key(3), (7, 6))
    outs = [hyla.Config(heads=3, rms_heads=r, value_net=v).build(6, key=jax.random.key(0))(x)
            for r, v in ((True, "relu"), (False, "relu"), (True, "linear"))]
    assert not np.allclose(outs[0], outs[1], atol=1e-3) and not np.allclose(outs[0], outs[2], atol=1e-3)
    # without normalisation and relu, doubling the queries doubles the scores: the output grows 4x
    lin = hyla.Config(heads=3, rms_heads=False, value_net="linear").build(6, key=jax.random.key(0))
    np.testing.assert_allclose(eqx.tree_at(lambda m: m.w_q, lin, 2.0 * lin.w_q)(x), 4 * lin(x), rtol=1e-4, atol=1e-5)


def test_hyla_without_value_net_or_rms_is_the_papers_linear_attention():
    """Y_h[q] = sum_k (q_h . k_h / sqrt(d_k) + bias_h[q - k]) v_h[k], written out by hand."""
    x = jax.random.normal(jax.random.key(3), (7, 6))
    m = hyla.Config(heads=3, causal=False, encoding="t5", rms_heads=False, value_net="none", t5_buckets=8,
                    t5_max_distance=8).build(6, key=jax.random.key(0))
    m = eqx.tree_at(lambda m: m.t5_bias, m, jax.random.normal(jax.random.key(4), m.t5_bias.shape))
    q, k, v = (jnp.einsum("hkd,td->htk", w, x) for w in (m.w_q, m.w_k, m.w_v))
    pos = jnp.arange(7)
    scores = jnp.einsum("htk,hsk->hts", q, k) / jnp.sqrt(q.shape[-1]) + m.bias(pos, pos)
    want = jnp.einsum("hts,hsv->thv", scores, v).reshape(7, -1) @ m.w_o.T
    np.testing.assert_allclose(m(x), want, rtol=1e-4, atol=1e-5)
    rms = hyla.Config(heads=3, causal=False, encoding="t5", value_net="none", t5_buckets=8,
                      t5_max_distance=8).build(6, key=jax.random.key(0))
    rms = eqx.tree_at(lambda r: r.t5_bias, rms, m.t5_bias)  # the same weights: only the normalisation differs
    assert not np.allclose(rms(x), m(x), atol=1e-3)


def test_transformer_xl_logits_factorise_exactly_at_any_positions():
    from complab.models.mixers.relative_xl import RelativeXL
    xl = RelativeXL(2, 3, 8, key=jax.random.key(0))
    q, k = jax.random.normal(jax.random.key(1), (2, 5, 3)), jax.random.normal(jax.random.key(2), (2, 7, 3))
    q_pos, k_pos = jnp.array([3, 9, 40, 41, 300]), jnp.array([0, 2, 9, 17, 41, 100, 301])
    np.testing.assert_allclose(xl.logits(q, k, q_pos, k_pos), xl.direct(q, k, q_pos, k_pos), rtol=2e-4, atol=2e-4)
