"""Transformer-XL relative position logits (Dai et al. 2019), as used by Ruoss et al. 2023.

With R_r the sin/cos encoding of a relative distance r (`dim` dimensions, frequencies
w_i = 10000^(-2i/dim)) and per head learned u, v and W_R:

    logit[h, q, k] = (q + u_h) . k  +  (q + v_h) . W_R^h R_{p_q - p_k}

(divided by sqrt(d_k) with the content term). The position term is computed without
building R for every pair: with a = (q + v) W_R split into its sine and cosine halves,
a_s . sin(w (p_q - p_k)) + a_c . cos(w (p_q - p_k))
  = cos(w p_k) . (a_s sin(w p_q) + a_c cos(w p_q)) + sin(w p_k) . (a_c sin(w p_q) - a_s cos(w p_q)),
so any positions (randomized ones too) cost O(T^2 dim) time and O(T dim) memory.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def frequencies(dim: int) -> Float[Array, " half"]:
    half = max(1, dim // 2)
    return 10000.0 ** (-2.0 * jnp.arange(half) / max(dim, 2))


class RelativeXL(eqx.Module):
    u: Float[Array, "heads key"]
    v: Float[Array, "heads key"]
    w_r: Float[Array, "heads key 2 half"]

    def __init__(self, heads: int, key_size: int, dim: int, *, key: jax.Array):
        k_u, k_v, k_r = jax.random.split(key, 3)
        half = max(1, dim // 2)
        self.u = 0.02 * jax.random.normal(k_u, (heads, key_size))
        self.v = 0.02 * jax.random.normal(k_v, (heads, key_size))
        self.w_r = jax.random.normal(k_r, (heads, key_size, 2, half)) / jnp.sqrt(2 * half)

    def logits(self, q: Float[Array, "heads tq key"], k: Float[Array, "heads tk key"], q_pos: Int[Array, " tq"],
               k_pos: Int[Array, " tk"]) -> Float[Array, "heads tq tk"]:
        """Content plus position logits (not yet divided by sqrt(d_k))."""
        content = jnp.einsum("htd,hsd->hts", q + self.u[:, None], k)
        a = jnp.einsum("htd,hdci->htci", q + self.v[:, None], self.w_r)
        w = frequencies(2 * self.w_r.shape[-1])
        angle_q, angle_k = q_pos[:, None] * w[None], k_pos[:, None] * w[None]
        sq, cq, sk, ck = jnp.sin(angle_q), jnp.cos(angle_q), jnp.sin(angle_k), jnp.cos(angle_k)
        a_s, a_c = a[:, :, 0], a[:, :, 1]
        on_cos = a_s * sq[None] + a_c * cq[None]
        on_sin = a_c * sq[None] - a_s * cq[None]
        return content + jnp.einsum("hti,si->hts", on_cos, ck) + jnp.einsum("hti,si->hts", on_sin, sk)

    def direct(self, q, k, q_pos, k_pos):
        """The same logits from R_r built for every pair (the reference, O(T^2 dim) memory)."""
        w = frequencies(2 * self.w_r.shape[-1])
        rel = (q_pos[:, None] - k_pos[None, :])[..., None] * w[None, None]
        r = jnp.stack([jnp.sin(rel), jnp.cos(rel)], -2)  # [tq, tk, 2, half]
        return (jnp.einsum("htd,hsd->hts", q + self.u[:, None], k)
                + jnp.einsum("htd,hdci,tsci->hts", q + self.v[:, None], self.w_r, r))
