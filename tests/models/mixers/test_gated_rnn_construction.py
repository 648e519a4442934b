"""The paper's construction: a gated RNN computes a linear self-attention layer exactly."""

import jax
import jax.numpy as jnp
import pytest

from complab.models.mixers import gated_rnn, linear_attention


@pytest.mark.parametrize("heads,dk,dv,dim", [(1, 0, 0, 4), (2, 3, 4, 5), (4, 2, 2, 7)])
def test_construction_matches_attention(heads, dk, dv, dim):
    lsa = linear_attention.Config(heads=heads, key_size=dk, value_size=dv).build(dim, key=jax.random.key(heads))
    rnn = jax.jit(gated_rnn.from_attention)(lsa)  # jitted: eager, its many small ops each compile
    dk, dv = dk or dim, dv or dim
    assert rnn.nu.shape == (heads * (dv * dk + dk),)  # d_v d_k memory + d_k query neurons per head
    lam = rnn.lam
    assert set(map(float, lam)) == {0.0, 1.0}  # perfect memory and perfect forget neurons only
    x = jax.random.normal(jax.random.key(9), (8, 20, dim))
    a, b, c = jax.jit(lambda lsa, rnn, x: (jax.vmap(lsa)(x), jax.vmap(rnn)(x), jax.vmap(rnn.recurrent)(x)))(lsa, rnn, x)
    assert float(jnp.abs(a - b).max() / jnp.abs(a).max()) < 1e-5
    assert float(jnp.abs(a - c).max() / jnp.abs(a).max()) < 1e-5


def test_a_random_rnn_is_not_the_attention_layer():
    # the check above can fail: an unrelated RNN of the same size is far off
    lsa = linear_attention.Config().build(4, key=jax.random.key(0))
    rnn = gated_rnn.Config(neurons=20, gates=16).build(4, key=jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (20, 4))
    assert float(jnp.abs(lsa(x) - rnn(x)).max() / jnp.abs(lsa(x)).max()) > 0.1
