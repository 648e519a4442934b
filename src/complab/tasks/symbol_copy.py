"""The copy-memory task with a long delay (Hochreiter & Schmidhuber 1997; in the form of
Arjovsky, Shah, Bengio 2016, as the nnRNN code `copytask.py` and the hierarchical-RNN
literature use it).

`symbols` symbols from an alphabet of `alphabet` (8) are shown, then `delay - 1` blanks,
a cue, and `symbols` more blanks, during which the model must output the symbols in
order; everywhere else the target is the blank. Length delay + 2 symbols. Input channels
are one-hot: the alphabet, the blank, the cue; output classes: the alphabet and the
blank. The loss is the cross-entropy over every step (`loss_on` "all": the standard form,
whose memoryless baseline, predicting the blank and then uniform symbols, is
symbols log(alphabet) / (delay + 2 symbols)) or over the recall steps only ("recall":
baseline log(alphabet)); the metric is the accuracy on the recalled symbols (chance
1 / alphabet).

Worked example (symbols 2, alphabet 8, delay 3): inputs s1 s2 _ _ C _ _, targets
_ _ _ _ _ s1 s2 (length 7).
"""

import math
from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean


@dataclass(frozen=True)
class Config:
    symbols: int = 10
    alphabet: int = 8
    delay: int = 100
    loss_on: Literal["all", "recall"] = "all"  # the steps the loss averages over

    def __post_init__(self):
        require(self.symbols >= 1 and self.alphabet >= 2 and self.delay >= 1 and self.loss_on in ("all", "recall"),
                f"the copy task needs symbols >= 1, alphabet >= 2, delay >= 1 and loss_on all or recall; got {self}")

    @property
    def length(self) -> int:
        return self.delay + 2 * self.symbols

    @property
    def baseline(self) -> float:
        """The memoryless cross-entropy: blanks right, symbols uniform."""
        share = self.symbols / self.length if self.loss_on == "all" else 1.0
        return share * math.log(self.alphabet)


class SymbolCopy(AbstractTask):
    cfg: Config
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.alphabet + 2, self.cfg.alphabet + 1

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        blank, cue = c.alphabet, c.alphabet + 1
        s = jax.random.randint(key, (batch_size, c.symbols), 0, c.alphabet)
        x = jnp.full((batch_size, c.length), blank).at[:, :c.symbols].set(s).at[:, c.delay + c.symbols - 1].set(cue)
        y = jnp.full((batch_size, c.length), blank).at[:, c.length - c.symbols:].set(s)
        recall = jnp.zeros((batch_size, c.length)).at[:, c.length - c.symbols:].set(1.0)
        mask = recall if c.loss_on == "recall" else jnp.ones((batch_size, c.length))
        return Batch(x=jax.nn.one_hot(x, c.alphabet + 2), y=y, mask=mask, info={"recall": recall})

    def position_loss(self, pred: Float[Array, "... classes"], y: Int[Array, "..."]) -> Float[Array, "..."]:
        """The cross-entropy at each position (what a learner taking the sequence a piece at
        a time weights and sums)."""
        return -jnp.take_along_axis(jax.nn.log_softmax(pred, -1), y[..., None], -1)[..., 0]

    def loss(self, pred: Float[Array, "batch time classes"], batch: Batch) -> Float[Array, ""]:
        return masked_mean(self.position_loss(pred, batch.y), batch.mask)

    def metrics(self, pred: Float[Array, "batch time classes"], batch: Batch) -> dict[str, Array]:
        """Loss and the accuracy on the recalled symbols."""
        right = (pred.argmax(-1) == batch.y).astype(pred.dtype)
        return {"loss": self.loss(pred, batch), "recall_accuracy": masked_mean(right, batch.info["recall"])}
