import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.models.mixers import gated_rnn, linear_attention
from complab.probes.lambda_pruning import extreme_neurons, prune_by_lambda, pruned_fraction


def test_the_construction_loses_nothing_to_pruning():
    # the construction uses only lambda in {0, 1}: pruning must leave it exact
    rnn = gated_rnn.from_attention(linear_attention.Config().build(4, key=jax.random.key(0)))
    x = jax.random.normal(jax.random.key(1), (10, 4))
    assert pruned_fraction(rnn) == 0.0
    np.testing.assert_array_equal(prune_by_lambda(rnn)(x), rnn(x))


def test_pruning_silences_exactly_the_intermediate_neurons():
    rnn = gated_rnn.Config(neurons=12, lambda_min=0.0, lambda_max=1.0).build(3, key=jax.random.key(2))
    keep = extreme_neurons(rnn)
    assert 0 < int(keep.sum()) < 12  # uniform init: some of each kind
    pruned = prune_by_lambda(rnn)
    x = jax.random.normal(jax.random.key(3), (9, 3))
    h = pruned.hidden(x)
    assert float(jnp.abs(h[:, ~keep]).max()) == 0.0
    np.testing.assert_allclose(h[:, keep], rnn.hidden(x)[:, keep], rtol=1e-6)
    assert pruned_fraction(rnn) == pytest.approx(1.0 - float(keep.mean()))
