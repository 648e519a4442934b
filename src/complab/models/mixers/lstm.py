"""The LSTM (Hochreiter & Schmidhuber 1997, with forget gates, Gers et al. 2000), as a
mixer: a hidden state of `hidden` units read out to the model width.

    i, f, o = sigmoid(W [x_t; h_{t-1}] + b),  g = tanh(W_g [x_t; h_{t-1}] + b_g)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t),   y_t = W_out h_t

The forget-gate bias starts at 1 (a common choice that helps early memory).
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

    def build(self, dim: int, *, key: jax.Array) -> "LSTM":
        return LSTM(self, dim, key=key)


class LSTM(AbstractRecurrentMixer):
    w: Float[Array, "gates4 dim_hidden"]
    b: Float[Array, " gates4"]
    w_out: Float[Array, "dim hidden"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        n = cfg.hidden
        k_w, k_out = jax.random.split(key)
        self.w = normal_init(k_w, (4 * n, dim + n), dim + n)
        self.b = jnp.zeros(4 * n).at[n:2 * n].set(1.0)  # i, f, o, g: forget bias 1
        self.w_out = normal_init(k_out, (dim, n), n)

    def init_state(self):
        n = self.w_out.shape[1]
        return jnp.zeros(n), jnp.zeros(n)

    def step(self, state, x_t):
        h, c = state
        i, f, o, g = jnp.split(self.w @ jnp.concatenate([x_t, h]) + self.b, 4)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), self.w_out @ h
