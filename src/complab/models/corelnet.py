"""CoRelNet (Kerg, Mittal, Rolnick, Bengio, Richards, Lajoie 2022; the authors'
relationaltasks code, models/CoRelNet.py) and an LSTM on the same encoded objects.

Both encode each object image with the same encoder (here an MLP 64 -> 128 -> `dim`, ReLU
after both layers, so z >= 0 as the authors' encoder gives; theirs is ESBN's convolutional
encoder on 32 x 32 glyphs) and apply temporal context normalisation over the whole
sequence: z_hat = gamma * (z - mean_t z) / std_t z + beta, std with torch's unbiased
variance. For match-to-sample the whole six-item sequence is normalised at once, the
relationaltasks default (ESBN's scripts normalise each pair separately, which makes the
task easier for every model).

- "corelnet": the relation matrix R = softmax_row(Z_hat Z_hat^T), entries above the
  diagonal masked before the softmax, then the strictly lower part mirrored above it;
  the answer is MLP(flatten(R)), T^2 -> 256 -> ReLU -> classes. (The authors' main.py
  feeds the head the T(T+1)/2 lower-triangle entries instead; the mirrored matrix holds
  the same numbers twice.) Only similarities reach the decision (the relational
  bottleneck).
- "lstm": an LSTM of 128 units over Z_hat (the zoo's mixer), read out at the last step
  (the authors' LSTM baseline has 512).

Outputs are given at every position, the answer's at the last (the task's mask).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.base import AbstractModel
from complab.models.mixers import lstm

KINDS = ("corelnet", "lstm")


@dataclass(frozen=True)
class Config:
    kind: Literal["corelnet", "lstm"] = "corelnet"
    dim: int = 64
    length: int = 2  # the problem's sequence length (CoRelNet's head reads T^2 similarities)

    def __post_init__(self):
        require(self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        require(self.dim >= 1 and self.length >= 2, f"need dim >= 1 and length >= 2; got {self}")


def relation_matrix(z: Array) -> Array:
    """[T, T]: row softmax of z z^T over j <= i, the strictly lower part mirrored above."""
    t = z.shape[0]
    scores = jnp.where(jnp.triu(jnp.ones((t, t), bool), 1), -jnp.inf, z @ z.T)
    p = jax.nn.softmax(scores, axis=-1)
    return jnp.tril(p) + jnp.tril(p, -1).T


class RelationalNet(AbstractModel):
    kind: str = eqx.field(static=True)
    encoder: eqx.nn.MLP
    gamma: Array
    beta: Array
    head: eqx.nn.MLP | None
    rnn: lstm.LSTM | None
    readout: eqx.nn.Linear | None

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        ke, kh, kr, ko = jax.random.split(key, 4)
        self.kind = cfg.kind
        self.encoder = eqx.nn.MLP(d_in, cfg.dim, 128, 1, activation=jax.nn.relu, final_activation=jax.nn.relu,
                                  key=ke)
        self.gamma, self.beta = jnp.ones(cfg.dim), jnp.zeros(cfg.dim)
        if cfg.kind == "corelnet":
            self.head = eqx.nn.MLP(cfg.length ** 2, d_out, 256, 1, activation=jax.nn.relu, key=kh)
            self.rnn = self.readout = None
        else:
            self.head = None
            self.rnn = lstm.LSTM(lstm.Config(hidden=128), cfg.dim, key=kr)
            self.readout = eqx.nn.Linear(cfg.dim, d_out, key=ko)

    def normalised(self, x: Float[Array, "time d_in"]) -> Array:
        z = jax.vmap(self.encoder)(x)
        mean, std = z.mean(0, keepdims=True), jnp.sqrt(z.var(0, keepdims=True, ddof=1) + 1e-8)
        return self.gamma[None] * (z - mean) / std + self.beta[None]

    def __call__(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> Array:
        z = self.normalised(x)
        if self.kind == "corelnet":
            answer = self.head(relation_matrix(z).reshape(-1))
        else:
            answer = self.readout(self.rnn.recurrent(z)[-1])
        return jnp.zeros((x.shape[0], answer.shape[0])).at[-1].set(answer)

    def trace(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> dict[str, Array]:
        z = self.normalised(x)
        out = {"embedding": z, "out": self(x)}
        if self.kind == "corelnet":
            out["relations"] = relation_matrix(z)
        return out
