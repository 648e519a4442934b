"""Softmax attention (Vaswani et al. 2017), causal or not, with the relative position
schemes that live inside attention:

- "none": no position information (NoPE);
- "rope": rotary embeddings (Su et al. 2021): each pair (2i, 2i+1) of query and key
  dimensions is rotated by the angle p / 10000^(2i / d_k), p the token's position;
- "alibi": a linear bias -m_h |p_q - p_k| per head, m_h = 2^(-8 h / H) (Press et al. 2022);
  not causal, keys to the left get +0.5 m_h (as in Ruoss et al.'s code), else left and
  right would be indistinguishable;
- "t5": a learned bias per head and relative-position bucket (Raffel et al. 2020): half
  the buckets hold exact distances, the rest log-spaced distances up to `max_distance`;
  bidirectional when not causal;
- "xl": Transformer-XL relative logits (Dai et al. 2019; relative_xl.py), the default of
  Ruoss et al.'s code.

Absolute encodings (sin/cos, learned) belong to the embedding (models/positions.py).
Positions default to 0..T-1; `positions` may pass others, e.g. the randomized scheme of
Ruoss et al. 2023, which the sequence model draws. `valid` marks the real tokens of a
padded sequence; keys at the others get no weight.

Scores (q_t . k_s) / sqrt(d_k) + bias; the output W_o concat_h sum_s softmax_s v_s. The
causal layer also has the recurrent form (`init_state`, `step`): a key-value cache of
`max_len` entries, so it decodes token by token.
"""

from dataclasses import dataclass
from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from complab.config import require
from complab.models.mixers.base import AbstractMixer, head_projections, per_head
from complab.models.mixers.relative_xl import RelativeXL

Encoding = Literal["none", "rope", "alibi", "t5", "xl"]


@dataclass(frozen=True)
class Config:
    heads: int = 1
    key_size: int = 0  # per head; 0: width / heads
    value_size: int = 0
    causal: bool = True
    encoding: Encoding = "none"
    max_len: int = 512  # the recurrent form's cache
    t5_buckets: int = 32
    t5_max_distance: int = 128
    init_scale: float = 1.0

    def __post_init__(self):
        require(self.heads >= 1 and self.key_size >= 0 and self.value_size >= 0 and self.max_len >= 1
                and self.t5_buckets >= 4 and self.t5_max_distance >= self.t5_buckets and self.init_scale > 0,
                "attention needs heads, max_len >= 1, sizes >= 0, 4 <= t5_buckets <= t5_max_distance and "
                f"init_scale > 0, got {self}")

    def build(self, dim: int, *, key: jax.Array) -> "SoftmaxAttention":
        return SoftmaxAttention(self, dim, key=key)


def rotate(x: Float[Array, "... time d"], positions: Int[Array, " time"]) -> Float[Array, "... time d"]:
    """Rotary embedding of the last axis (pairs of dimensions), at the given positions."""
    half = x.shape[-1] // 2
    freq = 10000.0 ** (-jnp.arange(half) / max(half, 1))
    angle = positions[:, None].astype(x.dtype) * freq[None, :]
    lead = (1,) * (x.ndim - 2)
    cos, sin = jnp.cos(angle).reshape(lead + angle.shape), jnp.sin(angle).reshape(lead + angle.shape)
    x1, x2 = x[..., :half], x[..., half:2 * half]
    rotated = jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)
    return jnp.concatenate([rotated, x[..., 2 * half:]], -1)  # an odd last dimension is not rotated


def t5_bucket(distance: Int[Array, "..."], buckets: int, max_distance: int, bidirectional: bool) -> Int[Array, "..."]:
    """T5's bucket of a relative position q - k."""
    offset = jnp.zeros_like(distance)
    if bidirectional:
        buckets //= 2
        offset = jnp.where(distance < 0, buckets, 0)
        distance = jnp.abs(distance)
    else:
        distance = jnp.maximum(distance, 0)
    exact = buckets // 2
    log_bucket = exact + (jnp.log(jnp.maximum(distance, 1) / exact) / jnp.log(max_distance / exact)
                          * (buckets - exact)).astype(distance.dtype)
    return offset + jnp.where(distance < exact, distance, jnp.minimum(log_bucket, buckets - 1))


class SoftmaxAttention(AbstractMixer):
    w_q: Float[Array, "heads key dim"]
    w_k: Float[Array, "heads key dim"]
    w_v: Float[Array, "heads value dim"]
    w_o: Float[Array, "dim heads_value"]
    t5_bias: Float[Array, "heads buckets"] | None
    xl: RelativeXL | None
    cfg: Config = eqx.field(static=True)
    takes_positions: ClassVar[bool] = True

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        size = max(1, dim // cfg.heads)
        self.w_q, self.w_k, self.w_v, self.w_o = head_projections(key, cfg.heads, cfg.key_size or size,
                                                                  cfg.value_size or size, dim, cfg.init_scale)
        self.t5_bias = jnp.zeros((cfg.heads, cfg.t5_buckets)) if cfg.encoding == "t5" else None
        self.xl = (RelativeXL(cfg.heads, self.w_q.shape[1], dim, key=jax.random.fold_in(key, 1))
                   if cfg.encoding == "xl" else None)
        self.cfg = cfg

    def bias(self, q_pos: Int[Array, " tq"], k_pos: Int[Array, " tk"]) -> Float[Array, "heads tq tk"]:
        rel = q_pos[:, None] - k_pos[None, :]
        h = self.w_q.shape[0]
        if self.cfg.encoding == "alibi":
            slopes = 2.0 ** (-8.0 * jnp.arange(1, h + 1) / h)
            dist = jnp.abs(rel).astype(jnp.float32) - (0.0 if self.cfg.causal else 0.5 * (rel > 0))
            return -slopes[:, None, None] * dist[None]
        if self.cfg.encoding == "t5":
            b = t5_bucket(rel, self.cfg.t5_buckets, self.cfg.t5_max_distance, bidirectional=not self.cfg.causal)
            return self.t5_bias[:, b]
        return jnp.zeros((1, rel.shape[0], rel.shape[1]))

    def logits(self, q, k, q_pos, k_pos) -> Float[Array, "heads tq tk"]:
        """Scaled query-key scores plus the position terms."""
        if self.xl is not None:
            return self.xl.logits(q, k, q_pos, k_pos) / jnp.sqrt(q.shape[-1])
        return jnp.einsum("htk,hsk->hts", q, k) / jnp.sqrt(q.shape[-1]) + self.bias(q_pos, k_pos)

    def _qkv(self, x, positions):
        q, k, v = per_head(self.w_q, x), per_head(self.w_k, x), per_head(self.w_v, x)
        if self.cfg.encoding == "rope":
            q, k = rotate(q, positions), rotate(k, positions)
        return q, k, v

    def mix(self, scores: Float[Array, "heads tq tk"], allowed: Bool[Array, "tq tk"],
            v: Float[Array, "heads tk value"]) -> tuple[Array, Float[Array, "tq heads value"]]:
        """The attention pattern over the allowed keys and each head's output."""
        pattern = jax.nn.softmax(jnp.where(allowed[None], scores, -1e30), axis=-1)
        return pattern, jnp.einsum("hts,hsv->thv", pattern, v)

    def trace(self, x: Float[Array, "time dim"], positions: Int[Array, " time"] | None = None,
              valid: Bool[Array, " time"] | None = None) -> dict[str, Array]:
        t = x.shape[0]
        positions = jnp.arange(t) if positions is None else positions
        q, k, v = self._qkv(x, positions)
        scores = self.logits(q, k, positions, positions)
        allowed = jnp.tril(jnp.ones((t, t), bool)) if self.cfg.causal else jnp.ones((t, t), bool)
        if valid is not None:
            allowed = allowed & valid.astype(bool)[None, :]
        pattern, y = self.mix(scores, allowed, v)
        return {"pattern": pattern, "out": y.reshape(t, -1) @ self.w_o.T}

    def __call__(self, x: Float[Array, "time dim"], positions: Int[Array, " time"] | None = None,
                 valid: Bool[Array, " time"] | None = None):
        return self.trace(x, positions, valid)["out"]

    def init_state(self):
        h, dk, _ = self.w_q.shape
        n = self.cfg.max_len
        return (jnp.zeros((h, n, dk)), jnp.zeros((h, n, self.w_v.shape[1])), jnp.zeros(n, jnp.int32),
                jnp.zeros((), jnp.int32))

    def step(self, state, x_t):
        """One token of the causal layer at position = the number of tokens seen (tokens past
        `max_len` are not cached)."""
        keys, values, positions, t = state
        q, k, v = self._qkv(x_t[None], t[None])
        keys, values = keys.at[:, t].set(k[:, 0]), values.at[:, t].set(v[:, 0])
        positions = positions.at[t].set(t)
        scores = self.logits(q, keys, t[None], positions)
        _, y = self.mix(scores, (jnp.arange(keys.shape[1]) <= t)[None], values)
        return (keys, values, positions, t + 1), self.w_o @ y.reshape(-1)
