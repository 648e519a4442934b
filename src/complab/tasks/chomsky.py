"""The Chomsky-hierarchy algorithmic tasks (Deletang et al. 2023; Ruoss et al. 2023),
laid out for an encoder that reads its answer from appended empty tokens.

One example of input length L: the L input tokens one-hot over `input_size + 1`
symbols, then `output_length(L)` empty tokens (the extra symbol), as in the papers'
code; the model's outputs at the empty tokens are the answer, one class per output
position (tasks/chomsky_generators.py defines the 15 tasks).

Splits, each a fixed data set from the task's own `data_seed`: "train" (lengths
uniform in `train_lengths`), "iid" (the same lengths, `test_per_length` examples per
length) and "ood0", "ood1", ... : the test lengths cut into `test_buckets` buckets of
consecutive lengths with `test_per_length` examples each. A split is padded to its
longest example (one compiled shape per split, not per length); `info["valid"]`
marks the real tokens, which a non-causal model must attend to only.

Loss: cross-entropy at every output position, averaged per example, then over the
batch (the papers' loss, which does not mask positions after an end token).
Accuracy: per example, the fraction of output positions right among those the task's
accuracy mask keeps; per length, the mean over its examples; a split's score, the mean
over its lengths (every length holds the same number of examples, so this is the mean
over examples).
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
from complab.tasks.base import AbstractTask, Batch
from complab.tasks.chomsky_generators import TASKS

Name = Literal[tuple(TASKS)]


@dataclass(frozen=True)
class Config:
    task: Name = "reverse_string"
    train_lengths: tuple[int, int] = (1, 40)
    test_lengths: tuple[int, int] = (41, 500)
    test_buckets: int = 8
    train_size: int = 20_000
    test_per_length: int = 64
    data_seed: int = 0

    def __post_init__(self):
        (a, b), (c, d) = self.train_lengths, self.test_lengths
        require(1 <= a <= b and 1 <= c <= d, f"lengths must be 1 <= min <= max, got train {self.train_lengths}, "
                f"test {self.test_lengths}")
        require(1 <= self.test_buckets <= d - c + 1, f"test_buckets must be in [1, {d - c + 1}] (one length at "
                f"least per bucket), got {self.test_buckets}")
        require(self.train_size >= 1 and self.test_per_length >= 1, "train_size and test_per_length must be >= 1")

    def split_lengths(self) -> dict[str, tuple[int, int]]:
        lo, hi = self.test_lengths
        edges = np.linspace(lo, hi + 1, self.test_buckets + 1).round().astype(int)
        out = {"train": self.train_lengths, "iid": self.train_lengths}
        out.update({f"ood{i}": (int(edges[i]), int(edges[i + 1]) - 1) for i in range(self.test_buckets)})
        return out


def _encode(task, examples, lengths):
    """Pad examples (inputs, outputs, accuracy masks) into id arrays: symbols (-1 padding,
    input_size the empty token), targets, output and accuracy masks."""
    total = max(n + task.output_length(n) for n in lengths)
    symbols = np.full((len(examples), total), -1, np.int8)
    targets = np.zeros((len(examples), total), np.int8)
    out_mask = np.zeros((len(examples), total), np.int8)
    acc_mask = np.zeros((len(examples), total), np.int8)
    for i, (x, y, m) in enumerate(examples):
        k = len(y)
        symbols[i, : len(x)] = x
        symbols[i, len(x): len(x) + k] = task.input_size
        targets[i, len(x): len(x) + k], out_mask[i, len(x): len(x) + k] = y, 1
        acc_mask[i, len(x): len(x) + k] = m
    return tuple(jnp.asarray(a) for a in (symbols, targets, out_mask, acc_mask, np.asarray(lengths, np.int32)))


class Chomsky(AbstractTask):
    cfg: Config = eqx.field(static=True)
    splits: tuple[str, ...] = eqx.field(static=True)
    data: dict  # split -> (symbols, targets, output mask, accuracy mask, input lengths)

    def __init__(self, cfg: Config):
        self.cfg = cfg
        task = TASKS[cfg.task]
        spans = cfg.split_lengths()
        self.splits = tuple(spans)
        data = {}
        for split, (lo, hi) in spans.items():
            gen = np.random.default_rng([cfg.data_seed, zlib.crc32(split.encode())])
            if split == "train":
                lengths = [int(n) for n in gen.integers(lo, hi + 1, cfg.train_size)]
            else:
                lengths = [n for n in range(lo, hi + 1) for _ in range(cfg.test_per_length)]
            data[split] = _encode(task, [task.sample(gen, n) for n in lengths], lengths)
        self.data = data

    @property
    def dims(self) -> tuple[int, int]:
        task = TASKS[self.cfg.task]
        return task.input_size + 1, task.output_size

    def size(self, split: str) -> int:
        return int(self.data[split][0].shape[0])

    def batch(self, split: str, index: Int[Array, " batch"] | None = None) -> Batch:
        """Examples of a split (all of them when `index` is None), padded to the split's longest."""
        arrays = self.data[split]
        if index is not None:
            arrays = tuple(a[index] for a in arrays)
        symbols, targets, out_mask, acc_mask, lengths = arrays
        valid = symbols >= 0
        x = jax.nn.one_hot(symbols.astype(jnp.int32), self.dims[0]) * valid[..., None]
        y = jax.nn.one_hot(targets.astype(jnp.int32), self.dims[1])
        return Batch(x=x, y=y, mask=out_mask.astype(jnp.float32),
                     info={"valid": valid, "accuracy_mask": acc_mask.astype(jnp.float32), "lengths": lengths})

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        return self.batch(split, jax.random.randint(key, (batch_size,), 0, self.size(split)))

    def loss(self, pred: Float[Array, "batch time classes"], batch: Batch) -> Float[Array, ""]:
        ce = -jnp.sum(jax.nn.log_softmax(pred, -1) * batch.y, -1)
        return jnp.mean(jnp.sum(ce * batch.mask, 1) / jnp.sum(batch.mask, 1))

    def example_accuracy(self, pred: Float[Array, "batch time classes"], batch: Batch) -> Float[Array, " batch"]:
        """Per example: the fraction of the output positions under the accuracy mask that are right."""
        right = (jnp.argmax(pred, -1) == jnp.argmax(batch.y, -1)).astype(jnp.float32)
        m = batch.info["accuracy_mask"]
        return jnp.sum(right * m, 1) / jnp.maximum(jnp.sum(m, 1), 1.0)

    def metrics(self, pred: Float[Array, "batch time classes"], batch: Batch) -> dict[str, Array]:
        return {"loss": self.loss(pred, batch), "accuracy": jnp.mean(self.example_accuracy(pred, batch))}
