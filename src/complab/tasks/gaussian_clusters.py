"""Few-shot classification of Gaussian clusters hidden among nuisance directions: a
synthetic N-way K-shot family where features are worth meta-learning.

Each episode draws `ways` class centres mu_c ~ N(0, separation^2 I_r) in an
`informative`-dimensional subspace; a point of class c is mu_c + noise_in * eps in that
subspace plus `nuisance` x eps' in the other `dim - informative` directions, rotated
by one fixed random orthogonal matrix (from `seed`) so no input axis is
informative alone. Classes are new in every episode, so a classifier must be
adapted per task; features that project out the nuisance make that adaptation
succeed, features that do not leave it near chance. "train" and "test" differ in
their streams (new clusters of the same family).

`episodes` returns integer labels (support: `shots` per class in class order; query:
`queries` per class); `sample` serves the same in context (tokens concat(x, one-hot
label) of `context_shots` points per class, then a query of a random class with its
label zeroed; cross-entropy at the query).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy


@dataclass(frozen=True)
class Config:
    ways: int = 5
    dim: int = 32
    informative: int = 4
    separation: float = 1.0
    noise_in: float = 0.5
    nuisance: float = 3.0
    context_shots: int = 5  # in-context format: shots per class before the query
    seed: int = 0  # the fixed rotation

    def __post_init__(self):
        require(self.ways >= 2 and 1 <= self.informative <= self.dim and self.context_shots >= 1,
                f"clusters need ways >= 2, 1 <= informative <= dim and context_shots >= 1; got ways={self.ways}, "
                f"informative={self.informative}, dim={self.dim}, context_shots={self.context_shots}")
        require(self.separation > 0 and self.noise_in >= 0 and self.nuisance >= 0,
                f"separation must be > 0 and the noises >= 0, got {self.separation}, {self.noise_in}, {self.nuisance}")


class GaussianClusters(AbstractTask):
    cfg: Config
    rotation: Array
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg
        q, _ = np.linalg.qr(np.random.default_rng(cfg.seed).normal(size=(cfg.dim, cfg.dim)))
        self.rotation = jnp.asarray(q, jnp.float32)

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.dim + self.cfg.ways, self.cfg.ways

    def _points(self, key: jax.Array, centres: Array, labels: Array) -> Array:
        """Points [tasks, n, dim] of the classes `labels` [tasks, n] around `centres` [tasks, ways, informative]."""
        c = self.cfg
        scale = jnp.concatenate([jnp.full(c.informative, c.noise_in), jnp.full(c.dim - c.informative, c.nuisance)])
        points = jax.random.normal(key, labels.shape + (c.dim,)) * scale[None, None]
        points = points.at[..., :c.informative].add(jnp.take_along_axis(centres, labels[..., None], axis=1))
        return points @ self.rotation.T

    def _centres(self, key: jax.Array, tasks: int) -> Array:
        return self.cfg.separation * jax.random.normal(key, (tasks, self.cfg.ways, self.cfg.informative))

    def episodes(self, key: jax.Array, split: str, tasks: int, shots: int, queries: int) -> dict[str, Array]:
        """`shots` support and `queries` query points per class of each task."""
        k_c, k_s, k_q = jax.random.split(self.stream(key, split), 3)
        centres, ways = self._centres(k_c, tasks), jnp.arange(self.cfg.ways)
        sy = jnp.broadcast_to(jnp.repeat(ways, shots), (tasks, shots * self.cfg.ways))
        qy = jnp.broadcast_to(jnp.repeat(ways, queries), (tasks, queries * self.cfg.ways))
        return {"support_x": self._points(k_s, centres, sy), "support_y": sy, "query_x": self._points(k_q, centres, qy),
                "query_y": qy}

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        k_c, k_q, k_x = jax.random.split(key, 3)
        support = jnp.repeat(jnp.arange(c.ways), c.context_shots)
        y = jnp.concatenate([jnp.broadcast_to(support, (batch_size, len(support))),
                             jax.random.randint(k_q, (batch_size, 1), 0, c.ways)], 1)
        x, onehot = self._points(k_x, self._centres(k_c, batch_size), y), jax.nn.one_hot(y, c.ways)
        mask = jnp.zeros(y.shape).at[:, -1].set(1.0)
        return Batch(x=jnp.concatenate([x, onehot.at[:, -1].set(0.0)], -1), y=onehot, mask=mask, info={"label": y})

    def loss(self, pred: Array, batch: Batch) -> Array:
        return one_hot_cross_entropy(pred, batch)
