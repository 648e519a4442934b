"""Causal linear self-attention (LSA): softmax-free attention, e.g. von Oswald et al.
2023 ("Transformers learn in-context by gradient descent") and Zucchet et al. 2023
("Gated recurrent neural networks discover attention", eq. 1).

Per head h, with q_t = W_Q x_t, k_t = W_K x_t, v_t = W_V x_t:

    y_t = W_O concat_h  sum_{s <= t} v_s^h (k_s^h . q_t^h)

No softmax, no normalisation, no feature map. The recurrent form keeps the fast
weight matrix S_t = S_{t-1} + v_t k_t^T per head and reads y_t = W_O S_t q_t.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.models.mixers.base import AbstractMixer, head_projections, per_head


@dataclass(frozen=True)
class Config:
    heads: int = 1
    key_size: int = 0  # per head; 0 means the model width
    value_size: int = 0  # per head; 0 means the model width
    init_scale: float = 1.0  # weights ~ N(0, init_scale^2 / fan_in)

    def build(self, dim: int, *, key: jax.Array) -> "LinearSelfAttention":
        return LinearSelfAttention(self, dim, key=key)


class LinearSelfAttention(AbstractMixer):
    w_q: Float[Array, "heads key dim"]
    w_k: Float[Array, "heads key dim"]
    w_v: Float[Array, "heads value dim"]
    w_o: Float[Array, "dim heads_value"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        dk, dv = cfg.key_size or dim, cfg.value_size or dim
        self.w_q, self.w_k, self.w_v, self.w_o = head_projections(key, cfg.heads, dk, dv, dim, cfg.init_scale)

    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        return self.trace(x)["out"]

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        pattern = self.attention(x)
        v = per_head(self.w_v, x)
        y = jnp.einsum("hts,hsv->thv", pattern, v)
        return {"pattern": pattern, "out": y.reshape(x.shape[0], -1) @ self.w_o.T}

    def last(self, x: Float[Array, "time dim"]) -> Float[Array, " dim"]:
        """The last query against every key (all are causal to it)."""
        q, k, v = self.w_q @ x[-1], per_head(self.w_k, x), per_head(self.w_v, x)
        y = jnp.einsum("hs,hsv->hv", jnp.einsum("hk,hsk->hs", q, k), v)
        return self.w_o @ y.reshape(-1)

    def init_state(self) -> Float[Array, "heads value key"]:
        h, dk, _ = self.w_q.shape
        return jnp.zeros((h, self.w_v.shape[1], dk))

    def step(self, state, x_t):
        q, k, v = (w @ x_t for w in (self.w_q, self.w_k, self.w_v))
        state = state + jnp.einsum("hv,hk->hvk", v, k)
        y = jnp.einsum("hvk,hk->hv", state, q)
        return state, self.w_o @ y.reshape(-1)

    def attention(self, x: Float[Array, "time dim"]) -> Float[Array, "heads time time"]:
        """The causal (unnormalised) attention scores q_t . k_s, for probes."""
        q, k = per_head(self.w_q, x), per_head(self.w_k, x)
        scores = jnp.einsum("htk,hsk->hts", q, k)
        return jnp.where(jnp.tril(jnp.ones(scores.shape[1:], bool)), scores, 0.0)

