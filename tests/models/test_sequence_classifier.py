"""CTL++'s classifiers: padding changes nothing, the Bi-LSTM reads both directions' final
states, and the Transformer reads its first token after a shared layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.models import sequence_classifier as sc

VOCAB, CLASSES = 7, 3


def _tokens(n, pad):
    x = jax.nn.one_hot(jax.random.randint(jax.random.key(1), (n,), 0, VOCAB), VOCAB)
    return jnp.concatenate([x, jnp.zeros((pad, VOCAB))]), jnp.arange(n + pad) < n


@pytest.mark.parametrize("kind", sc.KINDS)
def test_padding_marked_invalid_changes_nothing(kind):
    model = sc.Config(kind=kind, dim=8, layers=2, heads=2, hidden=6).build(VOCAB, CLASSES, key=jax.random.key(0))
    x, valid = _tokens(5, 3)
    out = model(x, valid=valid)
    assert out.shape == (1, CLASSES)
    np.testing.assert_allclose(out, model(x[:5], valid=valid[:5]), atol=1e-5)
    np.testing.assert_allclose(out, model(x[:5]), atol=1e-5)


def test_the_bilstm_reads_the_last_token_forwards_and_the_first_backwards():
    model = sc.Config(kind="bilstm", dim=8, hidden=6).build(VOCAB, CLASSES, key=jax.random.key(0))
    x, valid = _tokens(5, 2)
    e = jax.vmap(model.embed)(x[:5])
    want = model.readout(model.forward.recurrent(e)[-1] + model.backward.recurrent(e[::-1])[-1])
    np.testing.assert_allclose(model(x, valid=valid)[0], want, atol=1e-5)
    grad = jax.grad(lambda x: model(x, valid=valid)[0, 0])(x)
    assert float(jnp.abs(grad[0]).max()) > 0 and float(jnp.abs(grad[4]).max()) > 0


def test_the_transformer_shares_one_layer_and_reads_the_first_token():
    model = sc.Config(kind="transformer", dim=8, layers=3, heads=2).build(VOCAB, CLASSES, key=jax.random.key(0))
    assert len(model.net.mixers) == 1 and model.net.cfg.layers == 3
    x, valid = _tokens(5, 0)
    np.testing.assert_allclose(model(x), model.net(x)[:1], atol=1e-6)
    grad = jax.grad(lambda x: model(x)[0, 0])(x)
    assert float(jnp.abs(grad[-1]).max()) > 0  # the first token attends to the whole sequence


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        sc.Config(kind="gru")
    with pytest.raises(ConfigError):
        sc.Config(dim=10, heads=4)
