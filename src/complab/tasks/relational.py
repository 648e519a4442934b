"""Relational reasoning over objects never seen in training (Webb, Sinha, Cohen 2021, the
ESBN tasks; used by Kerg et al. 2022 for CoRelNet).

Objects: 100 distinct images, the first 10 of each digit in the UCI 8 x 8 digits that ship
with this package (the papers use 100 Unicode glyphs, 32 x 32; identity is the exact
image here too). `held_out` = m of them, chosen by `split_seed`, form the test split's
objects; training problems use only the other 100 - m (m = 0: both splits use all).

Problems (a sequence of object images; the answer is read at the last position):
- "same_diff": two objects, the same one twice (half the time) or two distinct; answer
  same (1) or different (0).
- "rmts" (relational match-to-sample): a source pair, then two target pairs, one of the
  same relation (same/different) as the source and one of the other; answer which target
  pair matches (0 or 1). All pairs use distinct objects.
- "dist3" (distribution of three): a row A B C, then the first two items of a
  permutation of it, then four choices (A, B, C and a distractor, shuffled); answer the
  choice that completes the second row.
- "identity": a row following a rule AAA, ABA or ABB (objects A, B), then the first two
  items of a row with new objects (C, D) following the same rule, then four choices: A,
  B, C and D shuffled, as the authors' code draws them (so appearing in row 2 does not
  give the answer away); answer the completing choice.
"""

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from complab.config import require
from complab.tasks import digits
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy, seedless

OBJECTS = 100
PROBLEMS = {"same_diff": (2, 2), "rmts": (6, 2), "dist3": (9, 4), "identity": (9, 4)}  # length, classes


@dataclass(frozen=True)
class Config:
    problem: Literal["same_diff", "rmts", "dist3", "identity"] = "same_diff"
    held_out: int = 0
    split_seed: int = 0

    def __post_init__(self):
        require(self.problem in PROBLEMS, f"problem must be one of {', '.join(PROBLEMS)}, got {self.problem!r}")
        require(0 <= self.held_out <= OBJECTS - 5, f"held_out must be in [0, {OBJECTS - 5}] (training needs 5 "
                f"objects), got {self.held_out}")


def objects() -> np.ndarray:
    """[100, 64]: the first 10 images of each digit, in [0, 1]."""
    images, labels = digits.load()
    return np.concatenate([images[labels == d][:10].reshape(10, 64) for d in range(10)]) / 16.0


def _distinct(key: Array, pool: Array, count: int) -> Array:
    """`count` distinct objects of `pool` (a random permutation's first entries)."""
    return pool[jax.random.permutation(key, pool.shape[0])[:count]]


def _problem(key: Array, pool: Array, problem: str) -> tuple[Array, Array]:
    """(object indices [length], answer) of one problem over the objects in `pool`."""
    k1, k2, k3, _ = jax.random.split(key, 4)  # four keys: the streams stay as first drawn
    if problem == "same_diff":
        a, b = _distinct(k1, pool, 2)
        same = jax.random.bernoulli(k2)
        return jnp.stack([a, jnp.where(same, a, b)]), same.astype(jnp.int32)
    if problem == "rmts":
        o = _distinct(k1, pool, 5)
        source_same = jax.random.bernoulli(k2)
        swap = jax.random.bernoulli(k3)  # which target pair is the "same" one
        source = jnp.where(source_same, jnp.stack([o[0], o[0]]), jnp.stack([o[0], o[1]]))
        same_pair, diff_pair = jnp.stack([o[2], o[2]]), jnp.stack([o[3], o[4]])
        first, second = jnp.where(swap, diff_pair, same_pair), jnp.where(swap, same_pair, diff_pair)
        answer = jnp.where(source_same, swap.astype(jnp.int32), 1 - swap.astype(jnp.int32))
        return jnp.concatenate([source, first, second]), answer
    if problem == "dist3":
        o = _distinct(k1, pool, 4)
        row2 = o[:3][jax.random.permutation(k2, 3)]
        choices = o[jax.random.permutation(k3, 4)]
        return jnp.concatenate([o[:3], row2[:2], choices]), jnp.argmax(choices == row2[2]).astype(jnp.int32)
    o = _distinct(k1, pool, 4)  # identity rules: A, B for row 1; C, D for row 2
    rule = jax.random.randint(k2, (), 0, 3)  # AAA, ABA, ABB
    pattern = jnp.array([[0, 0, 0], [0, 1, 0], [0, 1, 1]])[rule]
    row1, row2 = o[:2][pattern], o[2:4][pattern]
    choices = o[jax.random.permutation(k3, 4)]  # the problem's own four objects, as the authors' code
    return jnp.concatenate([row1, row2[:2], choices]), jnp.argmax(choices == row2[2]).astype(jnp.int32)


class Relational(AbstractTask):
    cfg: Config  # seedless: the split seed is the array below
    split_seed: Int[Array, ""]
    images: Array  # [100, 64]
    pools: dict[str, Array]
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg, self.split_seed = seedless(cfg), jnp.asarray(cfg.split_seed, jnp.uint32)
        self.images = jnp.asarray(objects(), jnp.float32)
        order = np.random.default_rng(cfg.split_seed).permutation(OBJECTS)
        test = np.sort(order[:cfg.held_out]) if cfg.held_out else np.arange(OBJECTS)
        train = np.sort(order[cfg.held_out:])
        self.pools = {"train": jnp.asarray(train), "test": jnp.asarray(test)}

    @property
    def dims(self) -> tuple[int, int]:
        return 64, PROBLEMS[self.cfg.problem][1]

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        length, classes = PROBLEMS[self.cfg.problem]
        idx, answer = jax.vmap(lambda k: _problem(k, self.pools[split], self.cfg.problem))(
            jax.random.split(key, batch_size))
        y = jnp.zeros((batch_size, length, classes)).at[:, -1].set(jax.nn.one_hot(answer, classes))
        mask = jnp.zeros((batch_size, length)).at[:, -1].set(1.0)
        return Batch(x=self.images[idx], y=y, mask=mask, info={"answer": answer, "objects": idx})

    def loss(self, pred: Array, batch: Batch) -> Array:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Array, batch: Batch) -> dict[str, Array]:
        return {"loss": self.loss(pred, batch), "accuracy": (pred[:, -1].argmax(-1) == batch.info["answer"]).mean()}
