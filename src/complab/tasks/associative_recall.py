"""Associative recall with a random seed beside the input (von Oswald, Kobayashi, Akram,
Steger 2024, "Learning randomized algorithms with transformers").

A sequence shows N keys (one-hot identities, in a random order), each followed by its
value in {-1, +1}^V, then one of the keys again; the target is that key's value. The
loss reads the query position only. A model whose memory holds fewer than N
independent values (the linear attention of models/seeded_memory.py with key width
M < N) cannot recall every key of every input; which keys it keeps may depend on a
random seed r given as an extra input, drawn by `seeds`: one of `seed_count` seeds as
a one-hot vector, or, with `seed_count` 0, a standard normal vector of `seed_dim`.

Metrics (`recall`): exact recall (every bit's sign right) and the squared error of one
input under each of several seeds, from which the experiments take the probability of
success per input, percentiles over inputs, and majority votes over seeds.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean


@dataclass(frozen=True)
class Config:
    keys: int = 8  # N
    value_bits: int = 8  # V
    seed_count: int = 16  # distinct seeds (one-hot); 0: Gaussian seeds
    seed_dim: int = 8  # the Gaussian seeds' width

    def __post_init__(self):
        require(self.keys >= 2 and self.value_bits >= 1 and self.seed_count >= 0 and self.seed_dim >= 1,
                f"associative recall needs keys >= 2, value_bits >= 1, seed_count >= 0 and seed_dim >= 1; got {self}")

    @property
    def seed_width(self) -> int:
        return self.seed_count or self.seed_dim


class AssociativeRecall(AbstractTask):
    cfg: Config
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.keys + self.cfg.value_bits, self.cfg.value_bits

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        k_order, k_values, k_query = jax.random.split(key, 3)
        order = jax.vmap(lambda k: jax.random.permutation(k, c.keys))(jax.random.split(k_order, batch_size))
        values = jnp.where(jax.random.bernoulli(k_values, 0.5, (batch_size, c.keys, c.value_bits)), 1.0, -1.0)
        query = jax.random.randint(k_query, (batch_size,), 0, c.keys)
        pairs = jnp.concatenate([jax.nn.one_hot(order, c.keys), values], -1)
        ask = jnp.concatenate([jax.nn.one_hot(order[jnp.arange(batch_size), query], c.keys),
                               jnp.zeros((batch_size, c.value_bits))], -1)
        x = jnp.concatenate([pairs, ask[:, None]], 1)
        y = jnp.zeros((batch_size, c.keys + 1, c.value_bits)).at[:, -1].set(values[jnp.arange(batch_size), query])
        mask = jnp.zeros((batch_size, c.keys + 1)).at[:, -1].set(1.0)
        return Batch(x=x, y=y, mask=mask, info={"query_key": order[jnp.arange(batch_size), query]})

    def seeds(self, key: jax.Array, shape: tuple[int, ...]) -> Array:
        """Random seeds [*shape, seed_width]."""
        c = self.cfg
        if c.seed_count:
            return jax.nn.one_hot(jax.random.randint(key, shape, 0, c.seed_count), c.seed_count)
        return jax.random.normal(key, shape + (c.seed_dim,))

    def fixed_seed(self, shape: tuple[int, ...]) -> Array:
        """The deterministic model's seed: always the same (seed 0, or the zero vector)."""
        c = self.cfg
        seed = jax.nn.one_hot(0, c.seed_count) if c.seed_count else jnp.zeros(c.seed_dim)
        return jnp.broadcast_to(seed, shape + (c.seed_width,))

    def loss(self, pred: Array, batch: Batch) -> Array:
        return masked_mean(jnp.mean((pred - batch.y) ** 2, -1), batch.mask)


def recall(pred: Array, target: Array) -> dict[str, Array]:
    """Per prediction [..., V] against its target [..., V]: exact recall and squared error."""
    return {"success": jnp.all(jnp.sign(pred) == target, -1).astype(jnp.float32),
            "error": jnp.mean((pred - target) ** 2, -1)}
