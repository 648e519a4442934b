"""Relevancy screening: the buffer keeps the last k states, the relevant set admits
evicted states while it has room and then only those that outscore its weakest member;
the memory RNN attends to every past state; the plain RNN is a tanh RNN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.models import relevancy_rnn as rr


def _mem(slots, n=2):
    return rr.Memory(states=jnp.zeros((slots, n)), keys=jnp.zeros((slots, n)), score=jnp.zeros(slots),
                     valid=jnp.zeros(slots, bool))


def test_the_buffer_and_the_relevant_set():
    k, nu = 2, 2
    mem = _mem(k + nu)
    scores = [5.0, 1.0, 3.0, 0.5, 4.0]  # what each state collects while in the buffer
    for t in range(6):
        p = t % k
        if mem.valid[p]:  # the state about to be evicted has collected its score
            mem = rr.Memory(states=mem.states, keys=mem.keys, score=mem.score.at[p].set(scores[int(mem.states[p, 0])]),
                            valid=mem.valid)
        mem = rr._store_relrnn(mem, jnp.asarray(t), jnp.full(2, float(t)), jnp.full(2, float(t)), k)
    ids = np.asarray(mem.states[:, 0]).astype(int)
    assert sorted(ids[:k]) == [4, 5]  # the last k states
    # states 0 (5.0) and 1 (1.0) filled the set; 2 (3.0) replaced 1; 3 (0.5) was dropped
    assert sorted(ids[k:]) == [0, 2] and bool(mem.valid.all())


def test_the_plain_rnn_is_a_tanh_rnn_and_memory_sizes():
    x = jax.random.normal(jax.random.key(0), (7, 3))
    m = rr.RelevancyRNN(rr.Config(kind="rnn", hidden=4), 3, 2, key=jax.random.key(1))
    h = jnp.zeros(4)
    for t in range(7):
        h = jnp.tanh(m.u @ x[t] + m.b + m.v @ h)
    np.testing.assert_allclose(m.states(x)[0][-1], h, atol=1e-5)
    assert [rr.RelevancyRNN(rr.Config(kind=kd, hidden=4, k=2, nu=3), 3, 2, key=jax.random.key(1)).slots(7)
            for kd in rr.KINDS] == [0, 7, 5]


def test_the_memory_rnn_attends_over_all_past_states_and_relrnn_over_at_most_k_plus_nu():
    x = jax.random.normal(jax.random.key(0), (12, 3))
    for kind, bound in (("memrnn", None), ("relrnn", 5)):
        m = rr.RelevancyRNN(rr.Config(kind=kind, hidden=4, k=2, nu=3), 3, 2, key=jax.random.key(1))
        hs, w = m.states(x)
        used = np.asarray((w > 0).sum(1))
        assert used[0] == 0 and np.allclose(np.asarray(w).sum(1)[1:], 1.0, atol=1e-5)
        assert list(used) == ([min(t, 12) for t in range(12)] if bound is None else [min(t, bound) for t in range(12)])
        grads = jax.grad(lambda s: m.states(x, s)[0][-1].sum())(jnp.zeros((12, 4)))  # noqa: B023
        assert np.isfinite(np.asarray(grads)).all()


def test_relrnn_needs_a_relevant_set():
    with pytest.raises(ConfigError, match="nu >= 1"):
        rr.Config(nu=0)
