"""The linear transformer as a fast weight programmer (Katharopoulos et al. 2020;
Schlag, Irie, Schmidhuber 2021; the `fwp-formal-lang` code of Irie et al. 2023).

Per head, with phi(z) = ELU(z) + 1 applied to queries and keys:

    q_t = phi(W_q x_t),  k_t = phi(W_k x_t),  v_t = W_v x_t
    W_t = W_{t-1} + v_t k_t^T                     (the fast weights)
    y_t = W_t q_t                                 (`normalise` off: as in that code)
    y_t = W_t q_t / (z_t . q_t),  z_t = sum_{s<=t} k_s   (`normalise` on: Katharopoulos)

and the output W_o concat_h y_t. The parallel form is causal attention with scores
q_t . k_s (s <= t), divided by their row sum when normalising.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.mixers.base import AbstractMixer, head_projections, per_head


@dataclass(frozen=True)
class Config:
    heads: int = 1
    key_size: int = 0  # per head; 0: width / heads
    value_size: int = 0  # per head; 0: width / heads
    normalise: bool = False
    init_scale: float = 1.0

    def __post_init__(self):
        require(self.heads >= 1 and self.key_size >= 0 and self.value_size >= 0 and self.init_scale > 0,
                f"heads must be >= 1, sizes >= 0 and init_scale > 0, got {self}")

    def build(self, dim: int, *, key: jax.Array) -> "LinearTransformer":
        return LinearTransformer(self, dim, key=key)


def elu_plus_one(z):
    return jax.nn.elu(z) + 1.0


class LinearTransformer(AbstractMixer):
    w_q: Float[Array, "heads key dim"]
    w_k: Float[Array, "heads key dim"]
    w_v: Float[Array, "heads value dim"]
    w_o: Float[Array, "dim heads_value"]
    normalise: bool = eqx.field(static=True)

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        size = max(1, dim // cfg.heads)
        dk, dv = cfg.key_size or size, cfg.value_size or size
        self.w_q, self.w_k, self.w_v, self.w_o = head_projections(key, cfg.heads, dk, dv, dim, cfg.init_scale)
        self.normalise = cfg.normalise

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        q, k = elu_plus_one(per_head(self.w_q, x)), elu_plus_one(per_head(self.w_k, x))
        v = per_head(self.w_v, x)
        scores = jnp.einsum("htk,hsk->hts", q, k)
        scores = jnp.where(jnp.tril(jnp.ones(scores.shape[1:], bool)), scores, 0.0)
        if self.normalise:
            scores = scores / scores.sum(-1, keepdims=True)
        y = jnp.einsum("hts,hsv->thv", scores, v)
        return {"pattern": scores, "out": y.reshape(x.shape[0], -1) @ self.w_o.T}

    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        return self.trace(x)["out"]

    def init_state(self):
        h, dk, _ = self.w_q.shape
        return jnp.zeros((h, self.w_v.shape[1], dk)), jnp.zeros((h, dk))

    def step(self, state, x_t):
        fast, z = state
        q, k = elu_plus_one(self.w_q @ x_t), elu_plus_one(self.w_k @ x_t)
        fast = fast + jnp.einsum("hv,hk->hvk", self.w_v @ x_t, k)
        z = z + k
        y = jnp.einsum("hvk,hk->hv", fast, q)
        if self.normalise:
            y = y / jnp.einsum("hk,hk->h", z, q)[:, None]
        return (fast, z), self.w_o @ y.reshape(-1)
