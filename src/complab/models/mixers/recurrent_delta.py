"""The recurrent delta network (Irie, Schlag, Csordas, Schmidhuber 2021, "Going beyond
linear transformers with recurrent fast weight programmers"; as in Irie et al. 2023's
`fwp-formal-lang` code): DeltaNet whose queries, keys, values and write strengths
also see the previous output, r = tanh(y_{t-1}), through recurrent matrices.

Per head:
    q_t = softmax(W_q x_t + R_q r),  k_t = softmax(W_k x_t + R_k r),
    v_t = W_v x_t + R_v r,           beta_t = sigmoid(w_beta . x_t + r_beta . r)
    W_t = W_{t-1} + beta_t (v_t - W_{t-1} k_t) k_t^T,   y_t = W_t q_t
and the output W_o concat_h y_t. R entries ~ N(0, 1/d) (d the head size). The
feedback through tanh(y) leaves no parallel form: `__call__` runs the steps.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.mixers.base import AbstractRecurrentMixer, head_projections, normal_init


@dataclass(frozen=True)
class Config:
    heads: int = 1
    head_size: int = 0  # keys and values per head; 0: width / heads

    def __post_init__(self):
        require(self.heads >= 1 and self.head_size >= 0, f"heads must be >= 1 and head_size >= 0, got {self}")

    def build(self, dim: int, *, key: jax.Array) -> "RecurrentDelta":
        return RecurrentDelta(self, dim, key=key)


class RecurrentDelta(AbstractRecurrentMixer):
    w_q: Float[Array, "heads size dim"]
    w_k: Float[Array, "heads size dim"]
    w_v: Float[Array, "heads size dim"]
    w_o: Float[Array, "dim heads_size"]
    w_beta: Float[Array, "heads dim"]
    r_qkv: Float[Array, "three heads size size"]
    r_beta: Float[Array, "heads size"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        d = cfg.head_size or max(1, dim // cfg.heads)
        k_proj, k_beta, k_r, k_rb = jax.random.split(key, 4)
        self.w_q, self.w_k, self.w_v, self.w_o = head_projections(k_proj, cfg.heads, d, d, dim)
        self.w_beta = normal_init(k_beta, (cfg.heads, dim), dim)
        self.r_qkv = normal_init(k_r, (3, cfg.heads, d, d), d)
        self.r_beta = normal_init(k_rb, (cfg.heads, d), d)

    def init_state(self):
        h, d, _ = self.w_q.shape
        return jnp.zeros((h, d, d)), jnp.zeros((h, d))

    def step(self, state, x_t):
        fast, y_prev = state
        r = jnp.tanh(y_prev)
        rq, rk, rv = (jnp.einsum("hij,hj->hi", m, r) for m in self.r_qkv)
        q = jax.nn.softmax(self.w_q @ x_t + rq, axis=-1)
        k = jax.nn.softmax(self.w_k @ x_t + rk, axis=-1)
        v = self.w_v @ x_t + rv
        beta = jax.nn.sigmoid(self.w_beta @ x_t + jnp.einsum("hd,hd->h", self.r_beta, r))
        fast = fast + jnp.einsum("hv,hk->hvk", beta[:, None] * (v - jnp.einsum("hvk,hk->hv", fast, k)), k)
        y = jnp.einsum("hvk,hk->hv", fast, q)
        return (fast, y), self.w_o @ y.reshape(-1)
