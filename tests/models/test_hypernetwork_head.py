import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.models import feedforward, hypernetwork_head as hh, sequence
from complab.models.mixers import softmax_attention

ENC = sequence.Config(mixer=softmax_attention.Config(heads=2, causal=False), layers=1, d_model=16, norm="pre",
                      ff=feedforward.MLPConfig())
MODEL = hh.Bottleneck(hh.Config(encoder=ENC, x_dim=4, latent=3, hidden=8, layers=2), 6, 2, key=jax.random.key(0))
X = jax.random.normal(jax.random.key(1), (9, 6))


def test_last_is_the_last_position_of_the_full_output():
    np.testing.assert_allclose(MODEL.last(X), MODEL(X)[-1], rtol=1e-5, atol=1e-6)
    assert MODEL(X).shape == (9, 2) and MODEL.trace(X)["code"].shape == (3,)


def test_the_query_reaches_the_output_only_as_the_task_networks_input():
    other = X.at[-1].set(jax.random.normal(jax.random.key(2), (6,)))
    np.testing.assert_array_equal(MODEL.code(X), MODEL.code(other))  # the code reads the context only
    np.testing.assert_allclose(MODEL(other)[:-1], MODEL(X)[:-1], rtol=1e-6)
    assert not np.allclose(MODEL.last(other), MODEL.last(X))


def test_the_context_reaches_the_output_only_through_the_code():
    ctx = X.at[:-1].set(jax.random.normal(jax.random.key(3), (8, 6)))
    assert not np.allclose(MODEL.last(ctx), MODEL.last(X))
    frozen = eqx.tree_at(lambda m: m.templates, MODEL, [t.at[1:].set(0.0) for t in MODEL.templates])
    np.testing.assert_allclose(frozen.last(ctx), frozen.last(X), rtol=1e-6)  # no z: no context


def test_the_task_network_is_generated_by_a_linear_hypernetwork_of_the_code():
    m = hh.Bottleneck(hh.Config(encoder=ENC, x_dim=4, latent=3, hidden=8), 6, 2, key=jax.random.key(5))
    x, z = X[:, :4], jnp.array([1.0, -2.0, 0.5])
    theta = m.templates[0]
    w = theta[0] + z[0] * theta[1] + z[1] * theta[2] + z[2] * theta[3]
    np.testing.assert_allclose(m.task_network(z, x), jax.vmap(m.readout)(jax.nn.relu(x @ w)), rtol=1e-5, atol=1e-6)


def test_tokens_without_a_label_part_are_refused():
    with pytest.raises(ComplabError, match="no label part"):
        hh.Bottleneck(hh.Config(encoder=ENC, x_dim=6), 6, 1, key=jax.random.key(0))
