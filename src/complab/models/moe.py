"""Mixture-of-experts feedforward blocks (Csordas, Irie, Schmidhuber 2023,
"Approximating two-layer feedforward networks for efficient transformers").

E experts, each a two-layer ReLU network of `expert_size` hidden units; per token a
selection score per expert, the top K experts by score are used, weighted by it:

    sigma-MoE:   s = sigmoid(W_s x),  y = sum_{e in topK(s)} s_e W_2^e relu(W_1^e x)
    softmax-MoE: s = softmax(W_s x),  same sum (the Switch / Shazeer gating)

Expert dropout (training only): each (token, expert) score is dropped with probability
`expert_dropout` before the top-K choice, so a dropped expert is not chosen for that
token; a chosen expert's weight is its score as drawn (the authors' code,
RobertCsordas/moe layers/moe_layer.py: a mask the shape of the scores, after the sigmoid). The regulariser of
the paper, `entropy_regulariser`, is the negative entropy of the selection
distribution softmax(W_s x) averaged over the tokens of a batch, read from the trace
("logits"), added to the loss with the experiment's weight. The experts are
initialised like a dense layer of E * expert_size hidden units (so a dense block and
its MoE start at the same scale) and the rows of W_s to unit norm, as in the paper.

Computation here is dense (every expert runs on every token, the unselected ones
weighted 0): the same function, without the compute saving of the paper's CUDA
kernel; `complab bench` measures what that costs.
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.feedforward import AbstractFeedforward


@dataclass(frozen=True)
class Config:
    experts: int = 16
    expert_size: int = 64
    k: int = 4
    gate: Literal["sigmoid", "softmax"] = "sigmoid"
    expert_dropout: float = 0.0

    def __post_init__(self):
        require(self.experts >= 1 and self.expert_size >= 1 and 1 <= self.k <= self.experts,
                f"a mixture of experts needs experts, expert_size >= 1 and 1 <= k <= experts, got {self}")
        require(0 <= self.expert_dropout < 1, f"expert_dropout must be in [0, 1), got {self.expert_dropout}")

    def build(self, dim: int, *, key: jax.Array) -> "MoE":
        return MoE(self, dim, key=key)


class MoE(AbstractFeedforward):
    w_select: Float[Array, "experts dim"]
    w_in: Float[Array, "experts size dim"]
    w_out: Float[Array, "experts dim size"]
    cfg: Config = eqx.field(static=True)

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        k_s, k_in, k_out = jax.random.split(key, 3)
        hidden = cfg.experts * cfg.expert_size
        w_s = jax.random.normal(k_s, (cfg.experts, dim))
        self.w_select = w_s / jnp.linalg.norm(w_s, axis=1, keepdims=True)
        self.w_in = jax.random.normal(k_in, (cfg.experts, cfg.expert_size, dim)) / jnp.sqrt(dim)
        self.w_out = jax.random.normal(k_out, (cfg.experts, dim, cfg.expert_size)) / jnp.sqrt(hidden)
        self.cfg = cfg

    def trace(self, x: Float[Array, "time dim"], key: jax.Array | None = None) -> dict[str, Array]:
        logits = x @ self.w_select.T  # [time, experts]
        scores = jax.nn.sigmoid(logits) if self.cfg.gate == "sigmoid" else jax.nn.softmax(logits, -1)
        eligible = scores
        if key is not None and self.cfg.expert_dropout > 0:
            kept = jax.random.bernoulli(key, 1.0 - self.cfg.expert_dropout, scores.shape)
            eligible = jnp.where(kept, scores, -1.0)
        _, top = jax.lax.top_k(eligible, self.cfg.k)
        chosen = jnp.zeros_like(scores, bool).at[jnp.arange(x.shape[0])[:, None], top].set(True)
        gates = jnp.where(chosen & (eligible >= 0), scores, 0.0)
        hidden = jax.nn.relu(jnp.einsum("esd,td->tes", self.w_in, x))
        y = jnp.einsum("te,eds,tes->td", gates, self.w_out, hidden)
        return {"logits": logits, "gates": gates, "out": y}

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return self.trace(x[None])["out"][0]


def entropy_regulariser(logits: Float[Array, "... experts"]) -> Float[Array, ""]:
    """Negative entropy of the mean selection distribution over all tokens (minimise it
    to spread tokens over the experts)."""
    p = jnp.mean(jax.nn.softmax(logits, -1).reshape(-1, logits.shape[-1]), axis=0)
    return jnp.sum(p * jnp.log(p + 1e-12))
