"""Formal languages: targets match a plain-Python reference, lengths and padding
follow the splits, data are deterministic in the data seed, and the metrics."""

import jax
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks.formal_language_strings import LANGUAGES
from complab.tasks.formal_languages import Config, FormalLanguage

LANGS = list(LANGUAGES)


def _balanced_prefix(s, pairs):
    """Per bracket type, whether s is a valid prefix of the shuffle of Dyck languages."""
    depth = [0] * pairs
    for x in s:
        depth[x // 2] += 1 if x % 2 == 0 else -1
        if min(depth) < 0:
            return False
    return True


def _reference(language, s):
    """Targets from the languages' definitions, by brute force over continuations."""
    out = []
    for t in range(1, len(s) + 1):
        p = list(s[:t])
        if language == "parity":
            out.append([int(sum(p) % 2 == 0)])
        elif language == "aa":
            out.append([int(len(p) % 2 == 0)])
        elif language == "abab":
            out.append([int(p == [0, 1] * (len(p) // 2) and len(p) % 4 == 0)])
        elif language in ("counter2", "counter3"):
            k = 2 if language == "counter2" else 3
            words = [[i for i in range(k) for _ in range(n)] for n in range(1, 160)]
            nxt = [int(any(w[: t + 1] == p + [c] for w in words if len(w) > t)) for c in range(k)]
            out.append(nxt + [int(p in words)])
        elif language in ("dyck1", "shuffle2"):
            pairs = 1 if language == "dyck1" else 2
            out.append([int(_balanced_prefix(p + [2 * b + 1], pairs)) for b in range(pairs)])
        else:  # reset_dyck1: the part after the last reset
            after = p[len(p) - p[::-1].index(2):] if 2 in p else p
            out.append([int(_balanced_prefix(after + [1], 1))])
    return out


def _member(language, s):
    if language in ("aa", "abab"):
        return len(s) % (2 if language == "aa" else 4) == 0
    if language in ("counter2", "counter3"):
        k = 2 if language == "counter2" else 3
        return s == [i for i in range(k) for _ in range(len(s) // k)]
    if language in ("dyck1", "shuffle2"):
        return _balanced_prefix(s, 1 if language == "dyck1" else 2) and sum(1 if x % 2 == 0 else -1 for x in s) == 0
    if language == "reset_dyck1":
        return s.count(2) == 1
    return True


@pytest.mark.parametrize("language", LANGS)
def test_targets_match_the_definitions_and_padding_is_empty(language):
    task = FormalLanguage(Config(language=language, train_size=64, test_size=32, bins=2))
    assert task.splits == ("train", "bin0", "bin1", "bin2")
    for split, (lo, hi) in task.cfg.split_lengths().items():
        b = task.batch(split)
        # read as NumPy arrays: slicing JAX arrays at each string's own length compiles a program per length
        x, y, mask, lengths = (np.asarray(a) for a in (b.x, b.y, b.mask, b.info["lengths"]))
        assert x.shape[1] == hi and lengths.min() >= lo and lengths.max() <= hi
        symbols = x.argmax(-1)
        for i in range(8):
            n = lengths[i]
            s = [int(v) for v in symbols[i, :n]]
            assert _member(language, s), (split, s)
            assert y[i, :n].astype(int).tolist() == _reference(language, s)
            assert x[i, n:].sum() == 0 and mask[i, n:].sum() == 0 and mask[i, :n].min() == 1


@pytest.mark.parametrize("language", ["parity", "dyck1", "reset_dyck1"])
def test_held_out_strings_are_not_training_strings(language):
    task = FormalLanguage(Config(language=language, train_size=300, test_size=100))
    def strings(split):
        b = task.batch(split)
        sym, n = np.asarray(b.x.argmax(-1)), np.asarray(b.info["lengths"])
        return {tuple(sym[i, : n[i]]) for i in range(len(n))}
    train, held = strings("train"), strings("bin0")
    assert len(train) == 300 and len(held) == 100 and not train & held


def test_worked_example():
    assert LANGUAGES["parity"].targets([1, 0, 1, 1]).ravel().tolist() == [0, 0, 1, 0]  # ones so far: 1, 1, 2, 3
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
    with pytest.raises(ConfigError, match="divisible by 4"):
        Config(language="abab", train_lengths=(5, 7))
    with pytest.raises(ConfigError, match="fewer exist"):
        FormalLanguage(Config(train_lengths=(2, 3), train_size=20, test_size=4))
