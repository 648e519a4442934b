"""Hypernetwork linear attention, HYLA (Schug, Kobayashi, Akram, Sacramento, Pascanu 2024,
"Attention as a hypernetwork"; code smonsays/hypernetwork-attention).

Multi-head attention read as a hypernetwork: for each (query q, key k) pair the H heads'
scores a_qk = (A[1,q,k], ..., A[H,q,k]) are a latent code that configures a value
network applied to x_k. HYLA makes that network nonlinear and normalises the code:

    A[h,q,k] = Q_h[q] . K_h[k] / sqrt(d_k) + bias[h,q,k]       (no softmax)
    A~ = A / sqrt(mean_h A^2 + eps)                               (`rms_heads`: RMS over heads)
    U[q,k] = sum_h A~[h,q,k] V_h[k]                               (the value network's first layer)
    Y_h[q] = sum_k A~[h,q,k] relu(U[q,k])                         (`value_net` "relu"; "linear": no relu)
    out[q] = W_O concat_h Y_h[q]

Ablations as in the paper: `rms_heads=False` (no normalisation across heads) and
`value_net="linear"`. `value_net="none"` aggregates values as attention does,
Y_h[q] = sum_k A~[h,q,k] V_h[k]: with `rms_heads=False` that is the paper's "linear
attention" baseline (raw scaled scores plus the position bias, no softmax, no feature
map), with `rms_heads=True` its "linear attention + RMS head" ablation.
Projections, position schemes (RoPE, ALiBi, T5 bias), causal and
padding masks and the key-value-cache step form are those of softmax attention
(softmax_attention.py); only how scores turn into outputs differs. The paper's
projections carry biases; these do not. Cost: a [T, T, d_v] intermediate per sequence.
"""

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab.models.mixers import softmax_attention
from complab.models.mixers.softmax_attention import SoftmaxAttention

EPS = 1e-6


@dataclass(frozen=True)
class Config(softmax_attention.Config):
    causal: bool = False
    rms_heads: bool = True
    value_net: Literal["relu", "linear", "none"] = "relu"

    def build(self, dim: int, *, key: jax.Array) -> "HYLA":
        return HYLA(self, dim, key=key)


class HYLA(SoftmaxAttention):
    def mix(self, scores: Float[Array, "heads tq tk"], allowed: Bool[Array, "tq tk"],
            v: Float[Array, "heads tk value"]) -> tuple[Array, Float[Array, "tq heads value"]]:
        a = jnp.where(allowed[None], scores, 0.0)
        if self.cfg.rms_heads:
            a = a / jnp.sqrt(jnp.mean(a**2, axis=0, keepdims=True) + EPS)
        if self.cfg.value_net == "none":
            return a, jnp.einsum("hqk,hkv->qhv", a, v)
        hidden = jnp.einsum("hqk,hkv->qkv", a, v)
        if self.cfg.value_net == "relu":
            hidden = jax.nn.relu(hidden)
        return a, jnp.einsum("hqk,qkv->qhv", a, hidden)
