"""The task interface: `sample(key, split, batch_size) -> Batch` (DESIGN: Task).

A task is an Equinox module holding whatever data defines its splits (for
compositional tasks: arrays of held-out combination indices made from its own
split seed). `sample` is final: it checks the split name and folds it into the key,
so every split draws from its own stream and the test split never replays training
batches whatever key the caller passes. Subclasses implement `generate`, which must
be jittable and deterministic in the key, `loss`, and may add the paper's metrics
(`metrics`: accuracy, sequence accuracy, R^2 as the paper defines it). Splits are
per instance (`splits` may be set in `__init__`, e.g. one per test length).

A task's non-array fields are static under `jax.jit`: a task drawn from a per-run split
seed keeps `seedless(cfg)` as its config and the seed as the array `split_seed`, so runs
that differ only in their seed share compiled programs.
"""

import abc
import dataclasses
from typing import Any

import equinox as eqx
import jax
from jaxtyping import Array, Float

from complab import rng
from complab.errors import ComplabError


class Batch(eqx.Module):
    """A batch of sequences. `mask` marks the positions the loss and metrics use;
    `info` carries ground-truth latents (task vectors, combination ids) for probes."""

    x: Float[Array, "batch time d_in"]
    y: Float[Array, "batch time d_out"]
    mask: Float[Array, "batch time"]
    info: dict[str, Any]


class AbstractTask(eqx.Module):
    splits: eqx.AbstractVar[tuple[str, ...]]

    def sample(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        return self.generate(self.stream(key, split), split, batch_size)

    def stream(self, key: jax.Array, split: str) -> jax.Array:
        """`split`'s own stream of `key` (refusing a split the task does not have): what any
        other format a task serves (e.g. few-shot episodes) draws from."""
        if split not in self.splits:
            raise ComplabError(
                f"{type(self).__name__} has no split {split!r}; its splits are: {', '.join(self.splits)}"
            )
        return rng.named(key, split)

    @abc.abstractmethod
    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        """A batch from `split`'s own stream `key` (already split-specific)."""

    @abc.abstractmethod
    def loss(self, pred: Float[Array, "batch time d_out"], batch: Batch) -> Float[Array, ""]:
        """The training loss of predictions on a batch (a scalar)."""

    def metrics(self, pred: Float[Array, "batch time d_out"], batch: Batch) -> dict[str, Array]:
        """The paper's metrics of predictions on a batch (scalars); tasks add their own."""
        return {"loss": self.loss(pred, batch)}

    @property
    @abc.abstractmethod
    def dims(self) -> tuple[int, int]:
        """(d_in, d_out): the token and target widths, so models can be sized."""


def masked_mean(values: Float[Array, "batch time"], mask: Float[Array, "batch time"]) -> Float[Array, ""]:
    """Mean of `values` over the positions where `mask` is 1."""
    return (values * mask).sum() / mask.sum()


def one_hot_cross_entropy(pred: Float[Array, "batch time classes"], batch: Batch) -> Float[Array, ""]:
    """Cross-entropy of logits against the one-hot targets `batch.y`, averaged over the
    masked positions (the classification tasks' loss)."""
    return masked_mean(-(jax.nn.log_softmax(pred) * batch.y).sum(-1), batch.mask)


def seedless(cfg: Any) -> Any:
    """`cfg` with `split_seed` 0: the static part of a task whose splits are already drawn
    into arrays (its seed kept as the array field `split_seed`)."""
    return dataclasses.replace(cfg, split_seed=0)
