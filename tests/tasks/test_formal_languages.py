"""Formal languages: targets match a plain-Python reference, lengths and padding
follow the splits, data are deterministic in the data seed, and the metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks.formal_languages import Config, FormalLanguage, parity_targets


def _reference(language, symbols):
    out, ones, depth = [], 0, 0
    for s in symbols:
        if language == "parity":
            ones += s
            out.append(int(ones % 2 == 0))
        else:
            depth = 0 if s == 2 else depth + (1 if s == 0 else -1)
            assert depth >= 0  # a valid Dyck-1 prefix between resets
            out.append(int(depth > 0))
    return out


@pytest.mark.parametrize("language", ["parity", "reset_dyck1"])
def test_targets_match_a_reference_and_padding_is_empty(language):
    task = FormalLanguage(Config(language=language, train_size=64, test_size=32, bins=2))
    assert task.splits == ("train", "bin0", "bin1", "bin2")
    for split, (lo, hi) in task.cfg.split_lengths().items():
        b = task.batch(split)
        lengths = np.asarray(b.info["lengths"])
        assert b.x.shape[1] == hi and lengths.min() >= lo and lengths.max() <= hi
        symbols = np.asarray(b.x.argmax(-1))
        for i in range(8):
            n = lengths[i]
            assert list(np.asarray(b.y[i, :n, 0]).astype(int)) == _reference(language, symbols[i, :n])
            assert float(b.x[i, n:].sum()) == 0 and float(b.mask[i, n:].sum()) == 0 and float(b.mask[i, :n].min()) == 1


def test_worked_example():
    assert parity_targets(jnp.array([[1, 0, 1, 1]])).tolist() == [[0, 0, 1, 0]]  # ones so far: 1, 1, 2, 3
    assert Config().split_lengths() == {"train": (2, 50), "bin0": (2, 50), "bin1": (51, 100)}


def test_data_are_deterministic_in_the_seed_and_batches_in_the_key():
    a, b = FormalLanguage(Config(train_size=16, test_size=8)), FormalLanguage(Config(train_size=16, test_size=8))
    assert (np.asarray(a.batch("bin1").x) == np.asarray(b.batch("bin1").x)).all()
    other = FormalLanguage(Config(train_size=16, test_size=8, data_seed=1))
    assert not (np.asarray(a.batch("bin1").x) == np.asarray(other.batch("bin1").x)).all()
    k = jax.random.key(0)
    assert (np.asarray(a.sample(k, "train", 4).x) == np.asarray(a.sample(k, "train", 4).x)).all()


def test_sequence_accuracy_needs_every_real_position():
    task = FormalLanguage(Config(train_size=32, test_size=16))
    b = task.batch("bin1")
    perfect = (2 * b.y - 1) * 10
    assert float(task.metrics(perfect, b)["sequence_accuracy"]) == 1.0
    one_wrong = perfect.at[:, 0, 0].multiply(-1)  # position 0 is real in every string
    m = task.metrics(one_wrong, b)
    assert float(m["sequence_accuracy"]) == 0.0 and float(m["accuracy"]) > 0.95


def test_impossible_parameters_are_refused():
    with pytest.raises(ConfigError, match="train_lengths must be 1 <= min <= max"):
        Config(train_lengths=(10, 5))
