"""Formal languages with per-position targets, for length generalisation
(Bhattamishra, Ahuja, Goyal 2020, "On the ability and limitations of Transformers to
recognize formal languages"; the setup of Irie, Csordas, Schmidhuber 2023). The eight
languages, their samplers and targets are in tasks/formal_language_strings.py:
parity, aa ((aa)*), abab ((abab)*), counter2 (a^n b^n), counter3 (a^n b^n c^n),
dyck1, shuffle2 and reset_dyck1.

Splits, each a fixed data set drawn from the task's own `data_seed` (as in the
papers: 10,000 training strings, 2,000 per test bin): "train" with lengths
`train_lengths`, "bin0" the same lengths (strings not in train, for the languages
drawn without repeats), and "bin1", "bin2", ... with lengths (50 k, 50 (k + 1)] for the
default widths. Each split is padded to its bin's largest length (one compiled shape per
split); the batch's `mask` marks the real positions. Tokens are one-hot, padding all
zero. The model emits one logit per target unit; the loss is the binary cross-entropy
per unit. Metric: sequence accuracy (every unit at every real position right), the
papers' criterion. Irie et al. train a softmax over the distinct target sets instead;
with every unit thresholded, the two criteria count the same strings as right.

Worked example (parity): x = 1 0 1 1 gives targets 0 0 1 0 (ones so far: 1, 1, 2, 3).
"""

import zlib
from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean
from complab.tasks.formal_language_strings import LANGUAGES, MULTIPLE, draw

Language = Literal["parity", "aa", "abab", "counter2", "counter3", "dyck1", "shuffle2", "reset_dyck1"]


@dataclass(frozen=True)
class Config:
    language: Language = "parity"
    train_lengths: tuple[int, int] = (2, 50)
    bin_width: int = 50  # test bin k >= 1 holds lengths (max_train + (k-1) w, max_train + k w]
    bins: int = 1
    train_size: int = 10_000
    test_size: int = 2_000  # per bin
    data_seed: int = 0

    def __post_init__(self):
        lo, hi = self.train_lengths
        require(1 <= lo <= hi, f"train_lengths must be 1 <= min <= max, got {self.train_lengths}")
        require(self.bin_width >= 1 and self.bins >= 0 and self.train_size >= 1 and self.test_size >= 1,
                f"bin_width, train_size and test_size must be >= 1 and bins >= 0, got {self}")
        m = MULTIPLE.get(self.language, 1)
        for split, (a, b) in self.split_lengths().items():
            require(-(-a // m) * m <= b, f"{self.language} strings have lengths divisible by {m}; split {split!r} "
                    f"(lengths {a}-{b}) holds none: widen train_lengths or bin_width")

    def split_lengths(self) -> dict[str, tuple[int, int]]:
        """Each split's (shortest, longest) length."""
        lo, hi = self.train_lengths
        out = {"train": (lo, hi), "bin0": (lo, hi)}
        for k in range(1, self.bins + 1):
            out[f"bin{k}"] = (hi + (k - 1) * self.bin_width + 1, hi + k * self.bin_width)
        return out


def _pad(strings: list[list[int]], targets: list[np.ndarray], length: int, units: int):
    symbols, y = np.zeros((len(strings), length), np.int32), np.zeros((len(strings), length, units), np.int8)
    for i, (s, t) in enumerate(zip(strings, targets)):
        symbols[i, : len(s)], y[i, : len(s)] = s, t
    return jnp.asarray(symbols), jnp.asarray(y), jnp.asarray([len(s) for s in strings], jnp.int32)


class FormalLanguage(AbstractTask):
    cfg: Config = eqx.field(static=True)
    splits: tuple[str, ...] = eqx.field(static=True)
    data: dict  # split -> (symbols [n, L], targets [n, L, units], lengths [n])

    def __init__(self, cfg: Config):
        self.cfg = cfg
        spans = cfg.split_lengths()
        self.splits = tuple(spans)
        lang = LANGUAGES[cfg.language]
        data, train = {}, set()
        for split, (lo, hi) in spans.items():
            gen = np.random.default_rng([cfg.data_seed, zlib.crc32(split.encode())])
            n = cfg.train_size if split == "train" else cfg.test_size
            strings = draw(cfg.language, gen, n, lo, hi, exclude=train if split == "bin0" else None)
            if split == "train":
                train = {tuple(s) for s in strings}
            data[split] = _pad(strings, [lang.targets(s) for s in strings], hi, lang.units)
        self.data = data

    @property
    def dims(self) -> tuple[int, int]:
        lang = LANGUAGES[self.cfg.language]
        return lang.symbols, lang.units

    def batch(self, split: str, index: Int[Array, " batch"] | None = None) -> Batch:
        """Strings of a split (all of them when `index` is None), padded to its longest length."""
        symbols, targets, lengths = self.data[split]
        if index is not None:
            symbols, targets, lengths = symbols[index], targets[index], lengths[index]
        mask = (jnp.arange(symbols.shape[1])[None, :] < lengths[:, None]).astype(jnp.float32)
        x = jax.nn.one_hot(symbols, self.dims[0]) * mask[..., None]
        return Batch(x=x, y=targets.astype(jnp.float32), mask=mask, info={"lengths": lengths})

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        return self.batch(split, jax.random.randint(key, (batch_size,), 0, self.data[split][0].shape[0]))

    def loss(self, pred: Float[Array, "batch time units"], batch: Batch) -> Float[Array, ""]:
        """Binary cross-entropy of the logits, summed over units, at the real positions."""
        bce = jnp.logaddexp(0.0, pred) - pred * batch.y
        return masked_mean(bce.sum(-1), batch.mask)

    def metrics(self, pred: Float[Array, "batch time units"], batch: Batch) -> dict[str, Array]:
        right = jnp.all((pred > 0) == (batch.y > 0.5), axis=-1) | (batch.mask == 0)
        return {"loss": self.loss(pred, batch), "accuracy": masked_mean(right.astype(jnp.float32), batch.mask),
                "sequence_accuracy": jnp.mean(jnp.all(right, axis=1).astype(jnp.float32))}
