"""HotTopic: the sets have their sizes and nest, more levels extend fewer, the level is the
largest satisfied index, and f is strictly monotone."""

import jax
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks.hot_topic import Config, HotTopic

CFG = Config(n=200, levels=30)
WORLD = HotTopic(CFG, jax.random.key(0))


def test_the_sets_have_their_sizes_and_b_lies_in_a():
    hot, guard = np.asarray(WORLD.hot), np.asarray(WORLD.guard)
    assert (hot[:-1].sum(1) == 50).all() and hot[-1].sum() == 0 and (guard.sum(1) == 10).all()
    assert (guard <= hot[:-1]).all() and WORLD.need == 10  # ceil(0.95 x 10)
    assert len({tuple(r) for r in hot[:-1]}) == CFG.levels  # levels differ


def test_more_levels_extend_fewer():
    more = HotTopic(Config(n=200, levels=60), jax.random.key(0))
    assert np.array_equal(np.asarray(more.guard)[:30], np.asarray(WORLD.guard))


def test_the_level_is_the_largest_satisfied_index_not_a_prefix():
    x = np.zeros(CFG.n, np.int64)
    assert WORLD.level(x) == 0
    x[np.asarray(WORLD.guard[17]) == 1] = 1  # satisfy B_18
    held = np.asarray(WORLD.guard) @ x >= WORLD.need
    assert WORLD.level(x) == np.flatnonzero(held)[-1] + 1 >= 18
    assert not held[0]  # B_1 is not satisfied: a prefix definition would give level 0
    assert WORLD.level(np.ones(CFG.n)) == CFG.levels and WORLD(np.ones(CFG.n)) == CFG.levels * CFG.n**2 + CFG.n


def test_f_is_strictly_monotone():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = (rng.random(CFG.n) < rng.uniform(0.2, 0.99)).astype(np.int64)
        fx = WORLD(x)
        for j in rng.choice(np.flatnonzero(x == 0), size=min(10, int((x == 0).sum())), replace=False):
            y = x.copy()
            y[j] = 1
            assert WORLD(y) > fx


def test_impossible_parameters_are_refused():
    with pytest.raises(ComplabError, match="beta < alpha"):
        Config(alpha=0.05, beta=0.25)
