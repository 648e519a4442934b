"""Every mixer: parallel == recurrent form, and causality by gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.models.mixers import gated_rnn, linear_attention

MIXERS = [
    linear_attention.Config(),
    linear_attention.Config(heads=3, key_size=2, value_size=5),
    gated_rnn.Config(neurons=7),
    gated_rnn.Config(neurons=5, gates=9, lambda_min=0.9, lambda_max=1.0),
]


@pytest.mark.parametrize("cfg", MIXERS, ids=lambda c: repr(c))
@pytest.mark.parametrize("dim,time", [(1, 1), (4, 9), (6, 33)])
def test_parallel_equals_recurrent(cfg, dim, time):
    mixer = cfg.build(dim, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (time, dim))
    par, rec = mixer(x), mixer.recurrent(x)
    scale = float(jnp.abs(rec).max()) + 1e-6
    np.testing.assert_allclose(par / scale, rec / scale, atol=2e-6)
    par_jit = jax.jit(lambda m, x: m(x))(mixer, x)
    np.testing.assert_allclose(par_jit / scale, rec / scale, atol=2e-6)


@pytest.mark.parametrize("cfg", MIXERS, ids=lambda c: repr(c))
def test_causal_by_gradients(cfg):
    mixer = cfg.build(3, key=jax.random.key(2))
    x = jax.random.normal(jax.random.key(3), (8, 3))
    t = 4
    grad = jax.grad(lambda x: mixer(x)[t].sum())(x)
    assert float(jnp.abs(grad[t + 1 :]).max()) == 0.0  # the future does not leak
    assert float(jnp.abs(grad[: t + 1]).max()) > 0.0  # the past is used


@pytest.mark.parametrize("cfg", MIXERS, ids=lambda c: repr(c))
def test_trace_names_the_output_and_intermediates(cfg):
    mixer = cfg.build(3, key=jax.random.key(4))
    x = jax.random.normal(jax.random.key(5), (6, 3))
    tr = mixer.trace(x)
    np.testing.assert_array_equal(tr["out"], mixer(x))
    assert len(tr) >= 2  # each mixer exposes something beyond its output
