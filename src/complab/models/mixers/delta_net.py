"""DeltaNet: fast weights written by the delta rule (Schlag, Irie, Schmidhuber 2021,
"Linear transformers are secretly fast weight programmers"; as in Irie et al. 2023's
`fwp-formal-lang` code).

Per head, with phi(z) = ELU(z) + 1 and queries and keys normalised to sum 1:

    q_t = phi(W_q x_t) / sum phi(W_q x_t),  k_t likewise,  v_t = W_v x_t,
    beta_t = sigmoid(w_beta . x_t)                          (a learned write strength)
    W_t = W_{t-1} + beta_t (v_t - W_{t-1} k_t) k_t^T        (replace what k_t retrieves)
    y_t = W_t q_t;  output W_o concat_h y_t.

Parallel form (the "UT transform"): W_t = sum_{s<=t} u_s k_s^T with
u_t = beta_t (v_t - sum_{s<t} u_s (k_s . k_t)), i.e. (I + diag(beta) tril(K K^T, -1)) U
= diag(beta) V, one unit-triangular solve per head; then y_t = sum_{s<=t} u_s (k_s . q_t).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.mixers.base import AbstractMixer, head_projections, normal_init, per_head
from complab.models.mixers.linear_transformer import elu_plus_one


@dataclass(frozen=True)
class Config:
    heads: int = 1
    key_size: int = 0  # per head; 0: width / heads
    value_size: int = 0
    init_scale: float = 1.0

    def __post_init__(self):
        require(self.heads >= 1 and self.key_size >= 0 and self.value_size >= 0 and self.init_scale > 0,
                f"heads must be >= 1, sizes >= 0 and init_scale > 0, got {self}")

    def build(self, dim: int, *, key: jax.Array) -> "DeltaNet":
        return DeltaNet(self, dim, key=key)


def _sum_normalised(z):
    p = elu_plus_one(z)
    return p / p.sum(-1, keepdims=True)


class DeltaNet(AbstractMixer):
    w_q: Float[Array, "heads key dim"]
    w_k: Float[Array, "heads key dim"]
    w_v: Float[Array, "heads value dim"]
    w_o: Float[Array, "dim heads_value"]
    w_beta: Float[Array, "heads dim"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        size = max(1, dim // cfg.heads)
        k_proj, k_beta = jax.random.split(key)
        self.w_q, self.w_k, self.w_v, self.w_o = head_projections(k_proj, cfg.heads, cfg.key_size or size,
                                                                  cfg.value_size or size, dim, cfg.init_scale)
        self.w_beta = normal_init(k_beta, (cfg.heads, dim), dim, cfg.init_scale)

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        q, k = _sum_normalised(per_head(self.w_q, x)), _sum_normalised(per_head(self.w_k, x))
        v = per_head(self.w_v, x)
        beta = jax.nn.sigmoid(x @ self.w_beta.T).T  # [heads, time]
        t = x.shape[0]
        strict = jnp.tril(jnp.ones((t, t), bool), -1)
        a = jnp.eye(t)[None] + beta[:, :, None] * jnp.where(strict, jnp.einsum("htk,hsk->hts", k, k), 0.0)
        u = jax.vmap(lambda a, b: jax.scipy.linalg.solve_triangular(a, b, lower=True, unit_diagonal=True))(
            a, beta[:, :, None] * v)
        scores = jnp.where(jnp.tril(jnp.ones((t, t), bool)), jnp.einsum("htk,hsk->hts", q, k), 0.0)
        y = jnp.einsum("hts,hsv->thv", scores, u)
        return {"beta": beta, "writes": u, "out": y.reshape(t, -1) @ self.w_o.T}

    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        return self.trace(x)["out"]

    def init_state(self) -> Float[Array, "heads value key"]:
        h, dk, _ = self.w_q.shape
        return jnp.zeros((h, self.w_v.shape[1], dk))

    def step(self, fast, x_t):
        q, k = _sum_normalised(self.w_q @ x_t), _sum_normalised(self.w_k @ x_t)
        beta = jax.nn.sigmoid(self.w_beta @ x_t)
        retrieved = jnp.einsum("hvk,hk->hv", fast, k)
        fast = fast + jnp.einsum("hv,hk->hvk", beta[:, None] * (self.w_v @ x_t - retrieved), k)
        return fast, self.w_o @ jnp.einsum("hvk,hk->hv", fast, q).reshape(-1)
