"""Character-level text: contiguous disjoint splits, windows that stay inside their
split, targets the next byte, determinism, and the unigram reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import char_text as ct

TEXT = bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8))


def test_splits_are_contiguous_disjoint_and_cover_the_corpus():
    b = ct.split_bounds(5000, ct.Config())
    assert b["train"][0] == 0 and b["train"][1] == b["valid"][0] and b["valid"][1] == b["test"][0]
    assert b["test"][1] == 5000 and b["valid"][1] - b["valid"][0] == 250


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_windows_stay_inside_their_split_and_target_the_next_byte(split):
    task = ct.CharText(ct.Config(context=32), text=TEXT)
    a, b = task.bounds[split]
    corpus = np.frombuffer(TEXT, np.uint8)
    for batch in (task.sample(jax.random.key(0), split, 256), task.windows(split, 1000)):
        starts = np.asarray(batch.info["starts"])
        assert starts.min() >= a and starts.max() + 33 <= b  # every read byte, targets included
        x, y = np.asarray(batch.x).argmax(-1), np.asarray(batch.y).argmax(-1)
        np.testing.assert_array_equal(x, corpus[starts[:, None] + np.arange(32)])
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    np.testing.assert_array_equal(task.sample(jax.random.key(0), split, 8).x, task.sample(jax.random.key(0),
                                                                                        split, 8).x)
    w = np.asarray(task.windows(split, 3).info["starts"])
    assert w[0] == a and w[-1] + 33 > b - 32 and (np.diff(w) >= 32).all() and (np.diff(w) % 32 == 0).all()
    every = np.asarray(task.windows(split, 10**6).info["starts"])  # all of them, back to back
    np.testing.assert_array_equal(np.diff(every), 32)
    assert len(every) == (b - a - 1) // 32


def test_a_split_too_short_for_one_window_is_refused():
    with pytest.raises(ComplabError, match="shorter than one window"):
        ct.CharText(ct.Config(context=64), text=TEXT[:1000])


def test_the_stdlib_corpus_is_read_and_fingerprinted():
    task = ct.CharText(ct.Config(max_bytes=10_000))
    assert task.corpus.shape == (10_000,) and task.fingerprint.endswith("bytes:10000")
    assert b"import" in bytes(np.asarray(task.corpus))


def test_unigram_bpc_is_the_byte_entropy():
    task = ct.CharText(ct.Config(context=4), text=b"ab" * 200_000)
    assert ct.unigram_bpc(task) == pytest.approx(1.0, abs=0.01)
    assert float(task.metrics(jnp.zeros((1, 4, 256)), task.windows("test", 1))["bpc"]) == pytest.approx(8.0)
