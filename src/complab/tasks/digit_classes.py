"""Ten-way classification of the UCI 8 x 8 handwritten digits (tasks/digits.py's copy
shipped inside this package, 1,797 images): the stand-in this lab uses where a paper
trains a classifier on MNIST or Fashion-MNIST, which cannot be downloaded here.

Split: per digit, the images in a fixed order (a permutation from `split_seed`; the pixel
permutation and the label noise draw from their own streams of it), the
first `test_frac` of them held out ("test"), the rest for training ("train"): 1,347
and 450 images at the defaults, disjoint. Pixels are scaled to [0, 1]. `label_noise`
replaces that fraction of the training labels by a different class drawn uniformly
(fixed by `split_seed`; test labels stay clean); `info["corrupted"]` marks them.

Forms of one image as a sequence: "flat" (one token of 64 pixels, for feedforward
nets), "rows" (8 tokens of 8 pixels, row-wise sequential digits) and "pixels" (64
tokens of one pixel, `permute` applying a fixed pixel permutation: the permuted
sequential-MNIST format). The target and the loss sit at the last position.
Batches are drawn uniformly with replacement; `full(split)` serves a whole split.
`info` holds the label, the image's index in its split and the corruption flag.
"""

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab.config import require
from complab.tasks import digits
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy

CLASSES = 10
FORMS = {"flat": (1, 64), "rows": (8, 8), "pixels": (64, 1)}


@dataclass(frozen=True)
class Config:
    form: Literal["flat", "rows", "pixels"] = "flat"
    permute: bool = False  # a fixed pixel permutation (from split_seed) before the form
    test_frac: float = 0.25
    label_noise: float = 0.0  # fraction of training labels replaced by another class
    split_seed: int = 0

    def __post_init__(self):
        require(self.form in FORMS, f"form must be one of {', '.join(FORMS)}, got {self.form!r}")
        require(0.05 <= self.test_frac <= 0.5, f"test_frac must be in [0.05, 0.5], got {self.test_frac}")
        require(0 <= self.label_noise < 1, f"label_noise must be in [0, 1), got {self.label_noise}")


def split_arrays(cfg: Config) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """split -> (images [n, 64] in [0, 1], labels [n], corrupted [n]) in NumPy."""
    images, labels = digits.load()
    images = images.reshape(-1, 64) / 16.0
    rng, pixel_rng, noise_rng = (np.random.default_rng([cfg.split_seed, i]) for i in range(3))
    if cfg.permute:
        images = images[:, pixel_rng.permutation(64)]
    parts: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for d in range(CLASSES):
        idx = np.flatnonzero(labels == d)[rng.permutation(int((labels == d).sum()))]
        n_test = round(cfg.test_frac * len(idx))
        parts["test"].append(idx[:n_test])
        parts["train"].append(idx[n_test:])
    out = {}
    for split, chunks in parts.items():
        idx = np.sort(np.concatenate(chunks))
        y = labels[idx].copy()
        corrupted = np.zeros(len(idx), bool)
        if split == "train" and cfg.label_noise > 0:
            noisy = np.sort(noise_rng.permutation(len(idx))[:round(cfg.label_noise * len(idx))])
            y[noisy] = (y[noisy] + noise_rng.integers(1, CLASSES, len(noisy))) % CLASSES
            corrupted[noisy] = True
        out[split] = (images[idx].astype(np.float32), y, corrupted)
    return out


class DigitClasses(AbstractTask):
    cfg: Config
    images: dict[str, Array]
    labels: dict[str, Array]
    corrupted: dict[str, Array]
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg
        arrays = split_arrays(cfg)
        self.images = {s: jnp.asarray(a[0]) for s, a in arrays.items()}
        self.labels = {s: jnp.asarray(a[1]) for s, a in arrays.items()}
        self.corrupted = {s: jnp.asarray(a[2]) for s, a in arrays.items()}

    @property
    def dims(self) -> tuple[int, int]:
        return FORMS[self.cfg.form][1], CLASSES

    def size(self, split: str) -> int:
        return int(self.labels[split].shape[0])

    def _batch(self, split: str, index: Array) -> Batch:
        steps, width = FORMS[self.cfg.form]
        labels = self.labels[split][index]
        y = jnp.zeros((len(index), steps, CLASSES)).at[:, -1].set(jax.nn.one_hot(labels, CLASSES))
        mask = jnp.zeros((len(index), steps)).at[:, -1].set(1.0)
        return Batch(x=self.images[split][index].reshape(-1, steps, width), y=y, mask=mask,
                     info={"label": labels, "index": index, "corrupted": self.corrupted[split][index]})

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        return self._batch(split, jax.random.randint(key, (batch_size,), 0, self.labels[split].shape[0]))

    def full(self, split: str) -> Batch:
        """Every image of `split`, in order."""
        self.stream(jax.random.key(0), split)  # refuses an unknown split
        return self._batch(split, jnp.arange(self.labels[split].shape[0]))

    def loss(self, pred: Array, batch: Batch) -> Array:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Array, batch: Batch) -> dict[str, Array]:
        right = (pred[:, -1].argmax(-1) == batch.info["label"]).astype(jnp.float32)
        return {"loss": self.loss(pred, batch), "accuracy": right.mean()}
