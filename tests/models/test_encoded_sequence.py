import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.models import encoded_sequence, sequence
from complab.models.mixers import by_name, delta_net, lstm


def _model(hidden):
    net = sequence.Config(mixer=delta_net.Config(heads=2), layers=1, d_model=8, form="recurrent")
    cfg = encoded_sequence.Config(net=net, d_features=6, hidden=hidden)
    return encoded_sequence.EncodedSequence(cfg, 9, 3, key=jax.random.key(0))


def test_the_encoder_reads_the_features_and_the_rest_passes_through():
    m = _model(hidden=5)
    x = jax.random.normal(jax.random.key(1), (4, 9))
    h = jnp.concatenate([jax.vmap(m.encoder)(x[:, :6]), x[:, 6:]], -1)
    assert np.allclose(np.asarray(m(x)), np.asarray(m.net(h)), atol=1e-6)
    assert m.net.embed.weight.shape[1] == 5 + 3


def test_without_an_encoder_the_tokens_go_in_as_they_are():
    m = _model(hidden=0)
    x = jax.random.normal(jax.random.key(1), (4, 9))
    assert m.encoder is None and np.allclose(np.asarray(m(x)), np.asarray(m.net(x)))


def test_the_model_is_causal():
    m = _model(hidden=5)
    x = jax.random.normal(jax.random.key(1), (4, 9))
    y = x.at[3].set(0.0)
    assert np.allclose(np.asarray(m(x)[:3]), np.asarray(m(y)[:3]), atol=1e-6)


def test_mixers_by_name():
    assert by_name.config("delta_net", heads=4, width=8) == delta_net.Config(heads=4)
    assert by_name.config("lstm", heads=4, width=8) == lstm.Config(hidden=8)
    with pytest.raises(ComplabError, match="unknown mixer"):
        by_name.config("gru", heads=1, width=8)
