"""Associative recall: every sequence shows each key once with a +-1 value, then asks one of
them; the target is that key's value; seeds are one-hot or Gaussian and the fixed seed never
changes."""

import jax
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import associative_recall as recall


def test_each_key_once_then_a_query_whose_target_is_its_value():
    cfg = recall.Config(keys=6, value_bits=5)
    batch = recall.AssociativeRecall(cfg).sample(jax.random.key(0), "train", 64)
    x, y = np.asarray(batch.x), np.asarray(batch.y)
    assert x.shape == (64, 7, 11) and np.all(np.asarray(batch.mask)[:, :-1] == 0)
    for i in range(64):
        keys = x[i, :6, :6].argmax(-1)
        assert sorted(keys.tolist()) == list(range(6)) and np.all(np.abs(x[i, :6, 6:]) == 1)
        asked = x[i, -1, :6].argmax()
        assert np.all(x[i, -1, 6:] == 0) and asked == batch.info["query_key"][i]
        assert np.array_equal(y[i, -1], x[i, list(keys).index(asked), 6:])
    orders = {tuple(x[i, :6, :6].argmax(-1)) for i in range(64)}
    assert len(orders) > 50  # keys come in random order


def test_seeds_are_one_hot_or_gaussian_and_the_fixed_seed_is_constant():
    task = recall.AssociativeRecall(recall.Config(seed_count=5))
    s = np.asarray(task.seeds(jax.random.key(0), (300, 2)))
    assert s.shape == (300, 2, 5) and np.all(s.sum(-1) == 1) and len(set(s.argmax(-1).ravel())) == 5
    assert np.all(np.asarray(task.fixed_seed((3, 4))) == np.eye(5)[0])
    gauss = recall.AssociativeRecall(recall.Config(seed_count=0, seed_dim=3))
    g = np.asarray(gauss.seeds(jax.random.key(1), (2000,)))
    assert g.shape == (2000, 3) and abs(g.std() - 1) < 0.05
    assert np.all(np.asarray(gauss.fixed_seed((2,))) == 0)


def test_recall_needs_every_sign_and_the_error_is_squared():
    target = np.array([[1.0, -1.0, 1.0]])
    r = recall.recall(np.array([[0.2, -3.0, 0.1]]), target)
    assert float(r["success"][0]) == 1.0 and np.isclose(r["error"][0], ((0.8**2) + 4 + 0.81) / 3)
    assert float(recall.recall(np.array([[0.2, 3.0, 0.1]]), target)["success"][0]) == 0.0


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="keys >= 2"):
        recall.Config(keys=1)
