"""Few-shot classification of handwritten digits (the UCI 8 x 8 digits scikit-learn
distributes, 1,797 images, shipped inside this package: nothing is downloaded).

Classes are (digit, rotation by a multiple of 90 degrees), 40 in all, as Omniglot's
few-shot benchmark multiplies its classes by rotation (Santoro et al. 2016; Finn et al.
2017). Meta-train ("train") classes are the digits `train_digits` in every rotation,
meta-test ("test") classes the other digits: the splits share no class and no image.
An episode draws `ways` distinct classes of its split, relabels them 0..ways-1 in a
random order, and draws `shots` support and `queries` query images per class without
replacement (each class keeps its first 174 images, the smallest class's count).
Pixels are scaled to [0, 1].

`episodes` returns integer labels (support in class order); `sample` serves the same in
context (tokens concat(image, one-hot label), `context_shots` per class, then a query
of a random class with its label zeroed; cross-entropy at the query).
"""

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy

PER_CLASS = 174
DATA = Path(__file__).parent / "data" / "digits.csv.gz"


@dataclass(frozen=True)
class Config:
    ways: int = 5
    train_digits: tuple[int, ...] = (0, 1, 2, 3, 4)
    context_shots: int = 5  # in-context format only

    def __post_init__(self):
        require(set(self.train_digits) < set(range(10)) and len(self.train_digits) >= 1,
                f"train_digits must be a non-empty proper subset of 0..9, got {self.train_digits}")
        n = 4 * min(len(self.train_digits), 10 - len(self.train_digits))
        require(2 <= self.ways <= n and self.context_shots >= 1,
                f"ways must be in [2, {n}] (the classes of the smaller split) and context_shots >= 1; got "
                f"ways={self.ways}, context_shots={self.context_shots}")


def load() -> tuple[np.ndarray, np.ndarray]:
    """(images [1797, 8, 8] with values 0..16, labels) from the copy shipped in this package
    (tasks/data/digits.csv.gz; its README says where it comes from)."""
    table = np.loadtxt(DATA, delimiter=",")
    return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(int)


def _classes() -> np.ndarray:
    """[10 digits, 4 rotations, PER_CLASS, 64] images in [0, 1]."""
    images_all, labels = load()
    out = np.zeros((10, 4, PER_CLASS, 64), np.float32)
    for d in range(10):
        images = images_all[labels == d][:PER_CLASS] / 16.0
        for r in range(4):
            out[d, r] = np.rot90(images, r, axes=(1, 2)).reshape(PER_CLASS, 64)
    return out


class Digits(AbstractTask):
    cfg: Config
    images: dict[str, Array]  # split -> [classes, PER_CLASS, 64]
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg
        classes = _classes()
        test_digits = [d for d in range(10) if d not in cfg.train_digits]
        self.images = {s: jnp.asarray(classes[list(ds)].reshape(-1, PER_CLASS, 64))
                       for s, ds in (("train", cfg.train_digits), ("test", test_digits))}

    @property
    def dims(self) -> tuple[int, int]:
        return 64 + self.cfg.ways, self.cfg.ways

    def _draw(self, key: jax.Array, split: str, tasks: int, per_class: int) -> tuple[Array, Array]:
        """Images [tasks, ways, per_class, 64] of `ways` distinct classes per task (without replacement)."""
        images = self.images[split]
        k_c, k_i = jax.random.split(key)
        classes = jnp.argsort(jax.random.uniform(k_c, (tasks, images.shape[0])), -1)[:, :self.cfg.ways]
        picks = jnp.argsort(jax.random.uniform(k_i, (tasks, self.cfg.ways, PER_CLASS)), -1)[..., :per_class]
        return images[classes[..., None], picks], classes

    def episodes(self, key: jax.Array, split: str, tasks: int, shots: int, queries: int) -> dict[str, Array]:
        require(shots + queries <= PER_CLASS, f"shots + queries must be <= {PER_CLASS} images per class, got "
                f"{shots} + {queries}")
        x, classes = self._draw(self.stream(key, split), split, tasks, shots + queries)
        labels = jnp.arange(self.cfg.ways)

        def flat(part, n):
            return part.reshape(tasks, -1, 64), jnp.broadcast_to(jnp.repeat(labels, n), (tasks, n * self.cfg.ways))

        (sx, sy), (qx, qy) = flat(x[:, :, :shots], shots), flat(x[:, :, shots:], queries)
        return {"support_x": sx, "support_y": sy, "query_x": qx, "query_y": qy, "classes": classes}

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        k_x, k_q = jax.random.split(key)
        x, _ = self._draw(k_x, split, batch_size, c.context_shots + 1)
        q = jax.random.randint(k_q, (batch_size,), 0, c.ways)
        support = x[:, :, :c.context_shots].reshape(batch_size, -1, 64)
        query = jnp.take_along_axis(x[:, :, -1], q[:, None, None], axis=1)
        y = jnp.concatenate([jnp.broadcast_to(jnp.repeat(jnp.arange(c.ways), c.context_shots),
                                              (batch_size, c.ways * c.context_shots)), q[:, None]], 1)
        onehot = jax.nn.one_hot(y, c.ways)
        tokens = jnp.concatenate([jnp.concatenate([support, query], 1), onehot.at[:, -1].set(0.0)], -1)
        mask = jnp.zeros(y.shape).at[:, -1].set(1.0)
        return Batch(x=tokens, y=onehot, mask=mask, info={"label": y})

    def loss(self, pred: Array, batch: Batch) -> Array:
        return one_hot_cross_entropy(pred, batch)
