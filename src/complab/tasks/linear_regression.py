"""In-context linear regression (Garg et al. 2022; von Oswald et al. 2023;
Zucchet et al. 2023, "Gated recurrent neural networks discover attention").

Each sequence has its own regression vector w ~ N(0, I_d). Its first `context` tokens
are pairs (x_i, y_i) with x_i ~ N(0, I_d) and y_i = w.x_i + sigma * eps_i; the last
token is the query (x_q, 0), whose target is y_q = w.x_q + sigma * eps_q. Tokens are
the concatenation [x, y] (width d + 1); only the query position carries a loss.

Worked example (d = 2, context = 2): with w = (1, -1),
    x = [[0.5, 0.1, 0.4], [-1.0, 2.0, -3.0], [0.3, 0.3, 0.0]],  target at the query: 0.0.

Loss: half the squared error at the query, L = E[(y^_q - y_q)^2] / 2, as in the
linear self-attention / gradient-descent literature (von Oswald et al. 2023).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean


@dataclass(frozen=True)
class Config:
    dim: int = 10  # input dimension d
    context: int = 10  # number of (x, y) pairs before the query
    noise: float = 0.0  # standard deviation sigma of the label noise

    def __post_init__(self):
        require(self.dim >= 1 and self.context >= 1 and self.noise >= 0,
                f"linear regression needs dim >= 1, context >= 1 and noise >= 0; got dim={self.dim}, "
                f"context={self.context}, noise={self.noise}")


class LinearRegression(AbstractTask):
    cfg: Config
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.splits = ("train", "test")

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.dim + 1, 1

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        d, n = self.cfg.dim, self.cfg.context
        kw, kx, ke = jax.random.split(key, 3)
        w = jax.random.normal(kw, (batch_size, d))
        x = jax.random.normal(kx, (batch_size, n + 1, d))
        y = jnp.einsum("btd,bd->bt", x, w) + self.cfg.noise * jax.random.normal(ke, (batch_size, n + 1))
        y = y[..., None]
        shown = y.at[:, -1].set(0.0)  # the query's label is hidden
        mask = jnp.zeros((batch_size, n + 1)).at[:, -1].set(1.0)
        return Batch(x=jnp.concatenate([x, shown], -1), y=y, mask=mask, info={"w": w})

    def loss(self, pred: jax.Array, batch: Batch) -> jax.Array:
        return 0.5 * masked_mean(((pred - batch.y) ** 2).sum(-1), batch.mask)
