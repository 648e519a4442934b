"""The self-referential weight matrix (Irie, Schlag, Csordas, Schmidhuber 2022, "A
modern self-referential weight matrix that learns to modify itself"; the
`modern-srwm` code): one matrix per head that produces its own output, query, key and
write strengths, and rewrites itself with the delta rule.

Per head, with the input split into heads (x_t in R^d) and W = [W_y, W_q, W_k, w_beta]:
    y_t = x_t W_y,  q_t = softmax(x_t W_q),  k_t = softmax(x_t W_k),
    beta_t = sigmoid(x_t w_beta) in R^4 (one strength per part M of W)
    M <- M + k_t^T beta^M_t (q_t M - k_t M)   for each part M (row vectors q, k)
and the output W_o concat_h y_t. The initial W is learned: entries ~ N(0, 1/d),
W_q ~ N(0, 0.01^2 / d), w_beta ~ N(-1, 1/d). No parallel form.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.mixers.base import AbstractRecurrentMixer, normal_init


@dataclass(frozen=True)
class Config:
    heads: int = 1

    def __post_init__(self):
        require(self.heads >= 1, f"heads must be >= 1, got {self.heads}")

    def build(self, dim: int, *, key: jax.Array) -> "SRWM":
        require(dim % self.heads == 0, f"SRWM splits the width into heads: width {dim} is not a multiple of "
                f"heads={self.heads}")
        return SRWM(self, dim, key=key)


class SRWM(AbstractRecurrentMixer):
    w0: Float[Array, "heads d cols"]  # [W_y | W_q | W_k | w_beta], cols = 3d + 4
    w_o: Float[Array, "dim dim"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        h, d = cfg.heads, dim // cfg.heads
        k_y, k_q, k_k, k_b, k_o = jax.random.split(key, 5)
        self.w0 = jnp.concatenate([normal_init(k_y, (h, d, d), d), normal_init(k_q, (h, d, d), d, 0.01),
                                   normal_init(k_k, (h, d, d), d), normal_init(k_b, (h, d, 4), d) - 1.0], -1)
        self.w_o = normal_init(k_o, (dim, dim), dim)

    def init_state(self) -> Float[Array, "heads d cols"]:
        return self.w0

    def step(self, w, x_t):
        h, d, _ = w.shape
        x = x_t.reshape(h, d)
        out = jnp.einsum("hd,hdc->hc", x, w)
        y, q, k, beta = out[:, :d], out[:, d:2 * d], out[:, 2 * d:3 * d], out[:, 3 * d:]
        q, k, beta = jax.nn.softmax(q, -1), jax.nn.softmax(k, -1), jax.nn.sigmoid(beta)
        diff = jnp.einsum("hd,hdc->hc", q, w) - jnp.einsum("hd,hdc->hc", k, w)  # q W - k W, all parts
        strength = jnp.repeat(beta, jnp.array([d, d, d, 4]), axis=-1, total_repeat_length=3 * d + 4)
        w = w + jnp.einsum("hd,hc->hdc", k, strength * diff)
        return w, self.w_o @ y.reshape(-1)
