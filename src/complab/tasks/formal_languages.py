"""Formal languages with per-position binary targets, for length generalisation
(Bhattamishra, Ahuja, Goyal 2020, "On the ability and limitations of Transformers to
recognize formal languages"; the setup of Irie, Csordas, Schmidhuber 2023).

- parity: strings over {0, 1}, uniform; the target at position t is 1 when the prefix
  x_1..x_t holds an even number of ones.
- reset_dyck1: strings over {(, ), r} that are valid Dyck-1 prefixes between resets:
  at each position r with probability `reset_prob`, else "(" or ")" with equal
  probability, ")" only when a bracket is open (otherwise "("); the target at t is 1
  while brackets opened since the last r are still open.

Splits, each a fixed data set drawn from the task's own `data_seed` (as in the
papers: 10,000 training strings, 2,000 per test bin): "train" with lengths
`train_lengths` (uniform), "bin0" the same lengths (held-out strings), and "bin1",
"bin2", ... with lengths (50 k, 50 (k + 1)] for the default widths. Each split is
padded to its bin's largest length (one bucket, one compiled shape per split); the
batch's `mask` marks the real positions. Tokens are one-hot, padding all zero.
Metric: sequence accuracy (every real position right), the papers' criterion.

Worked example (parity): x = 1 0 1 1 gives targets 0 0 1 0 (ones so far: 1, 1, 2, 3).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from complab import rng
from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean

ALPHABETS = {"parity": 2, "reset_dyck1": 3}


@dataclass(frozen=True)
class Config:
    language: Literal["parity", "reset_dyck1"] = "parity"
    train_lengths: tuple[int, int] = (2, 50)
    bin_width: int = 50  # test bin k >= 1 holds lengths (max_train + (k-1) w, max_train + k w]
    bins: int = 1
    train_size: int = 10_000
    test_size: int = 2_000  # per bin
    reset_prob: float = 0.1
    data_seed: int = 0

    def __post_init__(self):
        lo, hi = self.train_lengths
        require(1 <= lo <= hi, f"train_lengths must be 1 <= min <= max, got {self.train_lengths}")
        require(self.bin_width >= 1 and self.bins >= 0 and self.train_size >= 1 and self.test_size >= 1,
                f"bin_width, train_size and test_size must be >= 1 and bins >= 0, got {self}")
        require(0 <= self.reset_prob < 1, f"reset_prob must be in [0, 1), got {self.reset_prob}")

    def split_lengths(self) -> dict[str, tuple[int, int]]:
        """Each split's (shortest, longest) length."""
        lo, hi = self.train_lengths
        out = {"train": (lo, hi), "bin0": (lo, hi)}
        for k in range(1, self.bins + 1):
            out[f"bin{k}"] = (hi + (k - 1) * self.bin_width + 1, hi + k * self.bin_width)
        return out


def parity_targets(bits: Int[Array, "n length"]) -> Int[Array, "n length"]:
    """1 where the prefix up to and including the position holds an even number of ones."""
    return (jnp.cumsum(bits, axis=1) % 2 == 0).astype(jnp.int32)


def _strings(language: str, reset_prob: float, key: jax.Array, n: int, length: int):
    """n symbol strings of `length` and their per-position targets."""
    if language == "parity":
        bits = jax.random.bernoulli(key, 0.5, (n, length)).astype(jnp.int32)
        return bits, parity_targets(bits)
    k_reset, k_dir = jax.random.split(key)
    reset = jax.random.bernoulli(k_reset, reset_prob, (n, length))
    close = jax.random.bernoulli(k_dir, 0.5, (n, length))

    def step(depth, inputs):
        r, c = inputs
        symbol = jnp.where(r, 2, jnp.where(c & (depth > 0), 1, 0))  # 0 "(", 1 ")", 2 "r"
        depth = jnp.where(r, 0, depth + jnp.where(symbol == 0, 1, -1))
        return depth, (symbol, (depth > 0).astype(jnp.int32))

    _, (symbols, targets) = jax.lax.scan(step, jnp.zeros(n, jnp.int32), (reset.T, close.T))
    return symbols.T, targets.T


class FormalLanguage(AbstractTask):
    cfg: Config = eqx.field(static=True)
    splits: tuple[str, ...] = eqx.field(static=True)
    data: dict  # split -> (symbols [n, L], targets [n, L], lengths [n])

    def __init__(self, cfg: Config):
        self.cfg = cfg
        spans = cfg.split_lengths()
        self.splits = tuple(spans)
        root = rng.root_key(cfg.data_seed)
        data = {}
        for split, (lo, hi) in spans.items():
            n = cfg.train_size if split == "train" else cfg.test_size
            k_str, k_len = rng.streams(rng.named(root, split), "strings", "lengths")
            symbols, targets = _strings(cfg.language, cfg.reset_prob, k_str, n, hi)
            data[split] = (symbols, targets, jax.random.randint(k_len, (n,), lo, hi + 1))
        self.data = data

    @property
    def dims(self) -> tuple[int, int]:
        return ALPHABETS[self.cfg.language], 1

    def batch(self, split: str, index: Int[Array, " batch"] | None = None) -> Batch:
        """Strings of a split (all of them when `index` is None), padded to its longest length."""
        symbols, targets, lengths = self.data[split]
        if index is not None:
            symbols, targets, lengths = symbols[index], targets[index], lengths[index]
        mask = (jnp.arange(symbols.shape[1])[None, :] < lengths[:, None]).astype(jnp.float32)
        x = jax.nn.one_hot(symbols, ALPHABETS[self.cfg.language]) * mask[..., None]
        return Batch(x=x, y=targets[..., None].astype(jnp.float32), mask=mask, info={"lengths": lengths})

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        return self.batch(split, jax.random.randint(key, (batch_size,), 0, self.data[split][0].shape[0]))

    def loss(self, pred: Float[Array, "batch time 1"], batch: Batch) -> Float[Array, ""]:
        """Binary cross-entropy of the logits at the real positions."""
        bce = jnp.logaddexp(0.0, pred[..., 0]) - pred[..., 0] * batch.y[..., 0]
        return masked_mean(bce, batch.mask)

    def metrics(self, pred: Float[Array, "batch time 1"], batch: Batch) -> dict[str, Array]:
        right = ((pred[..., 0] > 0) == (batch.y[..., 0] > 0.5)) | (batch.mask == 0)
        return {"loss": self.loss(pred, batch), "accuracy": masked_mean(right.astype(jnp.float32), batch.mask),
                "sequence_accuracy": jnp.mean(jnp.all(right, axis=1).astype(jnp.float32))}
