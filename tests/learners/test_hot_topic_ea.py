"""The vectorised (1+1) EA on HotTopic: exact flip counts and positions, bookkeeping that
matches recomputation from the strings, never a worse offspring accepted, and the optimum
on an easy instance."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.learners import hot_topic_ea as ea
from complab.tasks.hot_topic import Config, HotTopic

WORLD = HotTopic(Config(n=200, levels=20), jax.random.key(1))


def test_the_flip_count_is_binomial():
    n, c = 500, 3.0
    cdf = ea.flip_count_cdf(n, c)
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    want = [math.comb(n, k) * (c / n) ** k * (1 - c / n) ** (n - k) for k in range(len(cdf))]
    assert np.allclose(pmf, want, rtol=1e-9, atol=1e-15) and cdf[-1] > 1 - 1e-9


def test_positions_are_a_uniform_subset_of_the_drawn_size():
    n, k = 30, 5
    draws = jax.vmap(lambda key: ea._positions(key, jnp.int32(k), n))(jax.random.split(jax.random.key(0), 20000))
    draws = np.asarray(draws)
    assert (draws[:, k:] == n).all() and all(len(set(r[:k])) == k for r in draws[:200])
    counts = np.bincount(draws[:, :k].ravel(), minlength=n)
    expected = 20000 * k / n
    assert ((counts - expected) ** 2 / expected).sum() < 70  # chi-square, 29 degrees of freedom: p ~ 1e-4


def test_the_bookkeeping_matches_the_strings_and_f_never_falls():
    state = ea.start(WORLD, jax.random.key(2), 6)
    previous = [WORLD(x) for x in np.asarray(state["x"])[:, :-1]]
    for i in range(5):
        state = ea.advance(WORLD, state, 3.0, jax.random.key(10 + i), 300)
        x = np.asarray(state["x"])[:, :-1]
        assert np.array_equal(np.asarray(state["slack"]), x @ np.asarray(WORLD.guard).T - WORLD.need)
        assert np.array_equal(np.asarray(state["hot"]), x @ np.asarray(WORLD.hot).T)
        assert np.array_equal(np.asarray(state["ones"]), x.sum(1)) and np.asarray(state["x"])[:, -1].sum() == 0
        assert [WORLD.level(r) for r in x] == np.asarray(state["level"]).tolist()
        now = [WORLD(r) for r in x]
        assert all(b >= a for a, b in zip(previous, now))
        previous = now


def test_an_easy_instance_is_solved_and_the_solved_step_is_recorded():
    state = ea.advance(WORLD, ea.start(WORLD, jax.random.key(3), 4), 1.0, jax.random.key(4), 20000)
    solved = np.asarray(state["solved_at"])
    assert (solved > 0).all() and (np.asarray(state["ones"]) == 200).all()
    assert (np.asarray(state["visited"])[:, -1]).all()  # the top level is reached with the optimum
    top = np.asarray(state["top_at"])
    assert ((top >= 0) & (top <= solved)).all()


def test_a_rate_beyond_the_drawn_flip_counts_is_refused():
    with pytest.raises(ComplabError, match="c must be"):
        ea.advance(WORLD, ea.start(WORLD, jax.random.key(0), 2), 8.0, jax.random.key(0), 10)
