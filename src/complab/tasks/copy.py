"""The bit-pattern copy task of Zucchet, Meier, Schug, Mujika, Sacramento 2023 ("Online
learning of long-range dependencies"; their `dataloaders/copy.py`).

A pattern of `length` steps of `bits` random bits (Bernoulli(1/2)) is shown, then
`pad` silent steps, then a stop flag (the last input channel) on one step; in the
`length` steps after the flag the model must reproduce the pattern, step by step.
With length 20 and pad 7 (the paper): the flag at t = 27, the output window t in
[28, 48), T = 48. Inputs have `bits + 1` channels and are zero outside the pattern
and the flag. The model emits 2 logits per bit (`bits` independent binary
classifications, the authors' `multidim = 2`); the loss is the 2-class cross-entropy
averaged over the bits and over the output window (the mask), nothing else counts.

Worked example (bits 2, length 2, pad 1; T = 6): x = [b0 0, b1 0, 0 0 0, 0 0 1,
0 0 0, 0 0 0] (bits then flag), targets at t = 4, 5 are b0 and b1.

The paper draws a fixed set of 20k training sequences; here every batch is fresh
(patterns repeat with probability ~2^-(bits length)), and the test split has its own
stream.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean


@dataclass(frozen=True)
class Config:
    bits: int = 7
    length: int = 20  # pattern steps
    pad: int = 7  # silent steps between the pattern and the stop flag

    def __post_init__(self):
        require(self.bits >= 1 and self.length >= 1 and self.pad >= 0,
                f"the copy task needs bits >= 1, length >= 1 and pad >= 0; got {self}")

    @property
    def time(self) -> int:
        return 2 * self.length + self.pad + 1


class Copy(AbstractTask):
    cfg: Config
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.bits + 1, 2 * self.cfg.bits

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        pattern = jax.random.bernoulli(key, 0.5, (batch_size, c.length, c.bits)).astype(jnp.float32)
        start = c.length + c.pad + 1
        x = jnp.zeros((batch_size, c.time, c.bits + 1)).at[:, :c.length, :c.bits].set(pattern)
        x = x.at[:, c.length + c.pad, c.bits].set(1.0)
        y = jnp.zeros((batch_size, c.time, c.bits)).at[:, start:].set(pattern)
        mask = jnp.zeros((batch_size, c.time)).at[:, start:].set(1.0)
        return Batch(x=x, y=y, mask=mask, info={})

    def position_loss(self, pred: Float[Array, "... two_bits"], y: Float[Array, "... bits"]) -> Float[Array, "..."]:
        """At each position: the 2-class cross-entropy averaged over the bits (what online
        learners take one time step at a time)."""
        logp = jax.nn.log_softmax(pred.reshape(*pred.shape[:-1], self.cfg.bits, 2), -1)
        return -jnp.take_along_axis(logp, y.astype(jnp.int32)[..., None], -1)[..., 0].mean(-1)

    def loss(self, pred: Float[Array, "batch time two_bits"], batch: Batch) -> Float[Array, ""]:
        return masked_mean(self.position_loss(pred, batch.y), batch.mask)

    def metrics(self, pred: Float[Array, "batch time two_bits"], batch: Batch) -> dict[str, Array]:
        """Loss, bit accuracy over the output window, and the share of patterns copied whole."""
        guess = pred.reshape(*pred.shape[:-1], self.cfg.bits, 2).argmax(-1)
        right = (guess == batch.y.astype(jnp.int32)).mean(-1)  # [batch, time]
        whole = jnp.where(batch.mask > 0, right == 1.0, True).all(-1)
        return {"loss": self.loss(pred, batch), "bit_accuracy": masked_mean(right, batch.mask),
                "sequence_accuracy": whole.mean()}
