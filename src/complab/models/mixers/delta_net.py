"""DeltaNet: fast weights written by the delta rule (Schlag, Irie, Schmidhuber 2021,
"Linear transformers are secretly fast weight programmers"; as in Irie et al. 2023's
`fwp-formal-lang` code).

Per head, with phi(z) = ELU(z) + 1 and queries and keys normalised to sum 1:

    q_t = phi(W_q x_t) / sum phi(W_q x_t),  k_t likewise,  v_t = W_v x_t,
    beta_t = sigmoid(w_beta . x_t)                          (a learned write strength)
    W_t = W_{t-1} + beta_t (v_t - W_{t-1} k_t) k_t^T        (replace what k_t retrieves)
    y_t = W_t q_t;  output W_o concat_h y_t.

Chunked parallel form (Yang et al. 2024, "Parallelizing linear transformers with the
delta rule over sequence length"): cut the sequence into chunks of `chunk` tokens. In a
chunk starting from fast weights S, W_t = S + sum_{s<=t} u_s k_s^T with
u_t = beta_t (v_t - S k_t - sum_{s<t} u_s (k_s . k_t)), i.e. with
A = I + diag(beta) tril(K K^T, -1): U = A^{-1} diag(beta) V - (A^{-1} diag(beta) K) S^T
(the "UT transform"); y_t = S q_t + sum_{s<=t} u_s (k_s . q_t). A is unit lower
triangular, so A^{-1} = (I - N)(I + N^2)(I + N^4)... with N = A - I nilpotent:
log2(chunk) matrix products, no triangular solve (XLA's CPU triangular solve hung
inside long runs). A scan over the chunks carries S.
"""

from dataclasses import dataclass

import equinox as eqx
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
    chunk: int = 16  # tokens per chunk of the parallel form (a power of 2)

    def __post_init__(self):
        require(self.heads >= 1 and self.key_size >= 0 and self.value_size >= 0 and self.init_scale > 0,
                f"heads must be >= 1, sizes >= 0 and init_scale > 0, got {self}")
        require(self.chunk >= 1 and self.chunk & (self.chunk - 1) == 0,
                f"chunk must be a power of 2, got {self.chunk}")

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
    chunk: int = eqx.field(static=True)

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        size = max(1, dim // cfg.heads)
        k_proj, k_beta = jax.random.split(key)
        self.w_q, self.w_k, self.w_v, self.w_o = head_projections(k_proj, cfg.heads, cfg.key_size or size,
                                                                  cfg.value_size or size, dim, cfg.init_scale)
        self.w_beta = normal_init(k_beta, (cfg.heads, dim), dim, cfg.init_scale)
        self.chunk = cfg.chunk

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        q, k = _sum_normalised(per_head(self.w_q, x)), _sum_normalised(per_head(self.w_k, x))
        v = per_head(self.w_v, x)
        beta = jax.nn.sigmoid(x @ self.w_beta.T).T  # [heads, time]
        t, c = x.shape[0], self.chunk
        n = -(-t // c)

        def chunks(z):  # [heads, time, ...] -> [chunks, heads, c, ...], zero-padded (beta 0: no write)
            z = jnp.pad(z, [(0, 0), (0, n * c - t)] + [(0, 0)] * (z.ndim - 2))
            return jnp.moveaxis(z.reshape(z.shape[0], n, c, *z.shape[2:]), 1, 0)

        q, k, v, beta = chunks(q), chunks(k), chunks(v), chunks(beta)
        strict = jnp.tril(jnp.ones((c, c), bool), -1)
        nil = beta[..., :, None] * jnp.where(strict, jnp.einsum("nhik,nhjk->nhij", k, k), 0.0)
        inverse, power = jnp.eye(c)[None, None] - nil, nil @ nil
        for _ in range(max(0, c.bit_length() - 2)):  # (I - N)(I + N^2)(I + N^4)... up to N^(c-1)
            inverse, power = inverse + inverse @ power, power @ power
        w, u_v = inverse @ (beta[..., None] * k), inverse @ (beta[..., None] * v)
        causal = jnp.where(jnp.tril(jnp.ones((c, c), bool)), jnp.einsum("nhik,nhjk->nhij", q, k), 0.0)

        def body(fast, inputs):
            q_c, k_c, w_c, uv_c, causal_c = inputs
            u = uv_c - jnp.einsum("hck,hvk->hcv", w_c, fast)
            y = jnp.einsum("hvk,hck->hcv", fast, q_c) + causal_c @ u
            return fast + jnp.einsum("hcv,hck->hvk", u, k_c), (y, u)

        _, (y, u) = jax.lax.scan(body, self.init_state(), (q, k, w, u_v, causal))

        def unchunk(z):  # [chunks, heads, c, d] -> [time, heads, d]
            return jnp.moveaxis(z, 2, 1).reshape(n * c, z.shape[1], z.shape[-1])[:t]

        y, u = unchunk(y), unchunk(u)
        return {"beta": beta.transpose(1, 0, 2).reshape(beta.shape[1], -1)[:, :t], "writes": u,
                "out": y.reshape(t, -1) @ self.w_o.T}

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
