"""The seeded memory: `last` is the full pass's last output, outputs are causal, the memory
is the sum of key-value outer products (rank <= M), and the seed changes the features."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.models import seeded_memory

D_KEY, D_VALUE, D_SEED, M = 5, 3, 4, 2


def _model(key=0):
    return seeded_memory.SeededMemory(seeded_memory.Config(key_width=M, hidden=16), D_KEY, D_VALUE, D_SEED,
                                      key=jax.random.key(key))


def _tokens(key=1, t=6):
    return jax.random.normal(jax.random.key(key), (t, D_KEY + D_VALUE + D_SEED))


def test_last_is_the_last_output_and_outputs_are_causal():
    model, x = _model(), _tokens()
    out = model(x)
    assert out.shape == (6, D_VALUE) and np.allclose(model.last(x), out[-1], atol=1e-5)
    later = x.at[4:].set(0.0)
    assert np.allclose(model(later)[:4], out[:4], atol=1e-6) and not np.allclose(model(later)[5], out[5])


def test_the_memory_is_the_sum_of_key_value_outer_products_and_has_rank_at_most_m():
    model, x = _model(), _tokens(t=9)
    tr = model.trace(x)
    values = x[:, D_KEY:D_KEY + D_VALUE]
    assert np.allclose(tr["memory"], sum(jnp.outer(k, v) for k, v in zip(tr["keys"], values)), atol=1e-5)
    assert np.linalg.matrix_rank(np.asarray(tr["memory"]), tol=1e-5) <= M


def test_the_seed_reaches_keys_and_queries_but_values_do_not_reach_them():
    model, x = _model(), _tokens()
    tr = model.trace(x)
    reseeded = model.trace(x.at[:, D_KEY + D_VALUE:].add(1.0))
    assert not np.allclose(tr["keys"], reseeded["keys"]) and not np.allclose(tr["queries"], reseeded["queries"])
    revalued = model.trace(x.at[:, D_KEY:D_KEY + D_VALUE].add(1.0))
    assert np.allclose(tr["keys"], revalued["keys"]) and np.allclose(tr["queries"], revalued["queries"])
