"""The e-LSTM of Irie et al. 2023 ("Practical computational power of linear
transformers and their recurrent and self-referential extensions"; their
`fwp-formal-lang` code): an LSTM-like cell with element-wise recurrence only.

    z_t = tanh(W_z x_t + w_z * c_{t-1} + b_z)
    f_t = sigmoid(W_f x_t + w_f * c_{t-1} + b_f)
    c_t = f_t * c_{t-1} + (1 - f_t) * z_t
    y_t = sigmoid(W_o [x_t; c_t]) * c_t,  read out to the model width by W_out.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.mixers.base import AbstractRecurrentMixer, normal_init


@dataclass(frozen=True)
class Config:
    hidden: int = 64

    def __post_init__(self):
        require(self.hidden >= 1, f"hidden must be >= 1, got {self.hidden}")

    def build(self, dim: int, *, key: jax.Array) -> "ELSTM":
        return ELSTM(self, dim, key=key)


class ELSTM(AbstractRecurrentMixer):
    w_zf: Float[Array, "hidden2 dim"]
    w_rec: Float[Array, " hidden2"]  # element-wise recurrent weights of z and f
    b: Float[Array, " hidden2"]
    w_o: Float[Array, "hidden dim_hidden"]
    w_out: Float[Array, "dim hidden"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        n = cfg.hidden
        k = jax.random.split(key, 4)
        self.w_zf = normal_init(k[0], (2 * n, dim), dim)
        self.w_rec = normal_init(k[1], (2 * n,), 1)
        self.b = jnp.zeros(2 * n)
        self.w_o = normal_init(k[2], (n, dim + n), dim + n)
        self.w_out = normal_init(k[3], (dim, n), n)

    def init_state(self):
        return jnp.zeros(self.w_out.shape[1])

    def step(self, c, x_t):
        z, f = jnp.split(self.w_zf @ x_t + self.w_rec * jnp.concatenate([c, c]) + self.b, 2)
        f = jax.nn.sigmoid(f)
        c = f * c + (1 - f) * jnp.tanh(z)
        y = jax.nn.sigmoid(self.w_o @ jnp.concatenate([x_t, c])) * c
        return c, self.w_out @ y
