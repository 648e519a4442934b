"""A sequence model behind a per-token feature encoder: each token's first `d_features`
inputs (an image) pass through an MLP, the rest (a label) are appended unchanged, and
the sequence model reads the result; the few-shot models of Irie et al. 2022 put a
Conv4 backbone there (this lab's stand-in: an MLP on 8 x 8 digits)."""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab.config import require
from complab.models import sequence


@dataclass(frozen=True)
class Config:
    net: sequence.Config
    d_features: int = 64
    hidden: int = 64  # the encoder's width and output; 0: no encoder (the features go in as they are)
    depth: int = 1  # the encoder's hidden layers

    def __post_init__(self):
        require(self.d_features >= 1 and self.hidden >= 0 and self.depth >= 1,
                f"need d_features >= 1, hidden >= 0 and depth >= 1, got {self}")


class EncodedSequence(eqx.Module):
    encoder: eqx.nn.MLP | None
    net: sequence.SequenceModel
    d_features: int = eqx.field(static=True)

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        require(d_in > cfg.d_features, f"tokens of {d_in} inputs leave nothing beside {cfg.d_features} features")
        k_e, k_n = jax.random.split(key)
        self.encoder = (eqx.nn.MLP(cfg.d_features, cfg.hidden, cfg.hidden, cfg.depth, activation=jax.nn.relu,
                                   final_activation=jax.nn.relu, key=k_e) if cfg.hidden else None)
        features = cfg.hidden or cfg.d_features
        self.net = sequence.SequenceModel(cfg.net, features + d_in - cfg.d_features, d_out, key=k_n)
        self.d_features = cfg.d_features

    def __call__(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
                 valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, "time d_out"]:
        if self.encoder is not None:
            x = jnp.concatenate([jax.vmap(self.encoder)(x[:, :self.d_features]), x[:, self.d_features:]], -1)
        return self.net(x, key=key, valid=valid, train=train)
