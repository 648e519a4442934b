"""Character-level language modelling on text every machine has offline: the Python
standard library's own sources (the enwik8 setting of Csordás, Irie, Schmidhuber 2023
on a corpus that needs no download).

The corpus is the bytes of the `*.py` files directly in the running interpreter's
standard-library folder, in sorted file-name order, joined (CPython 3.11: 168 files,
4.70 MB), cut to its first `max_bytes` when that is > 0. Its vocabulary is the 256 byte
values, as enwik8's. Splits are contiguous, as enwik8's 90 / 5 / 5: "train" the first
1 - valid_frac - test_frac of the bytes, then "valid", then "test"; a window never
crosses a split's end, so no predicted byte of one split is read by another. The
corpus differs between Python versions: `fingerprint` (its SHA-256 and size) goes with
every result.

`sample` draws windows of `context + 1` bytes at uniform random starts within the
split: inputs the first `context` bytes (one-hot), targets the next byte at each
position. `windows` gives non-overlapping windows spread evenly over a split, the fixed
evaluation set. Loss: cross-entropy in nats; bits per character = loss / ln 2.
"""

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, UInt8

from complab.config import require
from complab.errors import ComplabError
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy

VOCAB = 256


@dataclass(frozen=True)
class Config:
    context: int = 64
    max_bytes: int = 0  # 0: the whole corpus
    valid_frac: float = 0.05
    test_frac: float = 0.05

    def __post_init__(self):
        require(self.context >= 1 and self.max_bytes >= 0, f"context must be >= 1 and max_bytes >= 0; got {self}")
        require(0 < self.valid_frac and 0 < self.test_frac and self.valid_frac + self.test_frac < 1,
                f"valid_frac and test_frac must be > 0 with a sum < 1; got {self.valid_frac}, {self.test_frac}")


def stdlib_sources() -> bytes:
    """The joined bytes of the standard library's top-level `*.py` files, in sorted order."""
    folder = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(folder.glob("*.py"))
    if not files:
        raise ComplabError(f"no Python sources found in the standard-library folder {folder}; the character-level "
                           "corpus is read from there")
    return b"".join(f.read_bytes() for f in files)


def split_bounds(n: int, cfg: Config) -> dict[str, tuple[int, int]]:
    """[start, end) of each split in a corpus of n bytes."""
    n_valid, n_test = int(n * cfg.valid_frac), int(n * cfg.test_frac)
    n_train = n - n_valid - n_test
    return {"train": (0, n_train), "valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, n)}


class CharText(AbstractTask):
    cfg: Config
    corpus: UInt8[Array, " bytes"]
    bounds: dict[str, tuple[int, int]]
    fingerprint: str
    splits: tuple[str, ...] = ("train", "valid", "test")

    def __init__(self, cfg: Config, text: bytes | None = None):
        text = stdlib_sources() if text is None else text
        text = text[:cfg.max_bytes] if cfg.max_bytes else text
        self.cfg, self.bounds = cfg, split_bounds(len(text), cfg)
        short = [s for s, (a, b) in self.bounds.items() if b - a < cfg.context + 1]
        if short:
            raise ComplabError(f"the {', '.join(short)} split of a {len(text):,}-byte corpus is shorter than one "
                               f"window of context + 1 = {cfg.context + 1} bytes; lower context or raise max_bytes")
        self.corpus = jnp.asarray(np.frombuffer(text, np.uint8))
        self.fingerprint = f"sha256:{hashlib.sha256(text).hexdigest()[:16]} bytes:{len(text)}"

    @property
    def dims(self) -> tuple[int, int]:
        return VOCAB, VOCAB

    def _batch(self, starts: Array) -> Batch:
        idx = starts[:, None] + jnp.arange(self.cfg.context + 1)[None]
        window = self.corpus[idx].astype(jnp.int32)
        x = jax.nn.one_hot(window[:, :-1], VOCAB)
        return Batch(x=x, y=jax.nn.one_hot(window[:, 1:], VOCAB), mask=jnp.ones(x.shape[:2]),
                     info={"starts": starts})

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        a, b = self.bounds[split]
        return self._batch(jax.random.randint(key, (batch_size,), a, b - self.cfg.context))

    def windows(self, split: str, n: int) -> Batch:
        """n non-overlapping windows spread evenly over `split` (its first and its last
        included), in order; all of them when the split holds fewer."""
        a, b = self.bounds[split]
        fit = (b - a - 1) // self.cfg.context
        slots = np.round(np.linspace(0, fit - 1, min(n, fit))).astype(np.int64)
        return self._batch(jnp.asarray(a + self.cfg.context * slots))

    def loss(self, pred: Float[Array, "batch time vocab"], batch: Batch) -> Float[Array, ""]:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Float[Array, "batch time vocab"], batch: Batch) -> dict[str, Array]:
        loss = self.loss(pred, batch)
        return {"loss": loss, "bpc": loss / jnp.log(2.0)}


def unigram_bpc(task: CharText) -> float:
    """Bits per character of the train split's byte frequencies on the test split: what a
    model that reads no context can reach."""
    corpus = np.asarray(task.corpus)
    (a, b), (c, d) = task.bounds["train"], task.bounds["test"]
    counts = np.bincount(corpus[a:b], minlength=VOCAB) + 1.0  # Laplace, so unseen test bytes are finite
    p = counts / counts.sum()
    return float(-np.mean(np.log2(p[corpus[c:d]])))
