"""Few-shot classification as a sequence, the two settings of Irie, Schlag, Csordás,
Schmidhuber 2022 (modern SRWM, code IDSIA/modern-srwm/supervised_learning), over the
digit classes of tasks/digits.py (digits x rotations; meta-train digits 0-4, meta-test
5-9: no class and no image shared).

An episode draws `ways` distinct classes of its split, labelled 0..ways-1 in a random
order. Tokens are concat(image [64], one-hot label [ways]).

- "sync" (main_few_shot_sync.py): the `ways * shots` support images in a random order,
  each with its own label, then one query of a random class with a zero label; the
  target and the loss are at the query only.
- "delayed" (main_few_shot_delayed*.py): `ways * shots` images in a random order, each
  fed with the label of the image before it (zero first); a prediction of each image's
  own label at every step. `info["shot"]` counts the earlier images of the same class,
  whose labels the model has seen by then (0: the class's first image).
"""

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp

from complab.config import require
from complab.tasks import digits
from complab.tasks.base import Batch, masked_mean, one_hot_cross_entropy

FORMS = ("sync", "delayed")


@dataclass(frozen=True)
class Config:
    form: Literal["sync", "delayed"] = "sync"
    ways: int = 5
    shots: int = 1
    train_digits: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self):
        require(self.form in FORMS, f"form must be one of {', '.join(FORMS)}, got {self.form!r}")
        require(1 <= self.shots and self.shots + 1 <= digits.PER_CLASS,
                f"shots must be in [1, {digits.PER_CLASS - 1}], got {self.shots}")
        digits.Config(ways=self.ways, train_digits=self.train_digits)  # refuses impossible ways / digits


class FewShotSequences(digits.Digits):
    cfg: Config

    @property
    def dims(self) -> tuple[int, int]:
        return 64 + self.cfg.ways, self.cfg.ways

    @property
    def length(self) -> int:
        c = self.cfg
        return c.ways * c.shots + (c.form == "sync")

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        k_x, k_order, k_q = jax.random.split(key, 3)
        extra = int(c.form == "sync")
        x, _ = self._draw(k_x, split, batch_size, c.shots + extra)  # [batch, ways, shots (+1), 64]
        n = c.ways * c.shots
        order = jnp.argsort(jax.random.uniform(k_order, (batch_size, n)), -1)
        images = jnp.take_along_axis(x[:, :, :c.shots].reshape(batch_size, n, 64), order[..., None], 1)
        labels = jnp.take_along_axis(jnp.broadcast_to(jnp.repeat(jnp.arange(c.ways), c.shots), (batch_size, n)),
                                     order, 1)
        if c.form == "sync":
            q = jax.random.randint(k_q, (batch_size,), 0, c.ways)
            query = jnp.take_along_axis(x[:, :, -1], q[:, None, None], axis=1)
            images = jnp.concatenate([images, query], 1)
            labels = jnp.concatenate([labels, q[:, None]], 1)
            shown = jax.nn.one_hot(labels, c.ways).at[:, -1].set(0.0)
            mask = jnp.zeros(labels.shape).at[:, -1].set(1.0)
        else:
            shown = jnp.pad(jax.nn.one_hot(labels, c.ways)[:, :-1], ((0, 0), (1, 0), (0, 0)))
            mask = jnp.ones(labels.shape)
        same = labels[:, :, None] == labels[:, None, :]
        shot = jnp.tril(same, -1).sum(-1)  # earlier images of the same class
        return Batch(x=jnp.concatenate([images, shown], -1), y=jax.nn.one_hot(labels, c.ways), mask=mask,
                     info={"label": labels, "shot": shot})

    def loss(self, pred, batch: Batch):
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred, batch: Batch) -> dict:
        right = (pred.argmax(-1) == batch.info["label"]).astype(jnp.float32)
        return {"loss": self.loss(pred, batch), "accuracy": masked_mean(right, batch.mask)}

    def shot_accuracy(self, pred, batch: Batch) -> jax.Array:
        """[shots] accuracy of the predictions made after k labelled images of the same class (delayed form)."""
        right = (pred.argmax(-1) == batch.info["label"]).astype(jnp.float32)
        hit = jax.nn.one_hot(batch.info["shot"], self.cfg.shots) * batch.mask[..., None]
        return (right[..., None] * hit).sum((0, 1)) / hit.sum((0, 1))
