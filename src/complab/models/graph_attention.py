"""A transformer whose attention is masked to each node's neighbourhood (itself and the
nodes it shares an edge with): the "GNN-like local attention masks" of von Oswald,
Kobayashi, Akram, Steger 2024. Pre-LayerNorm blocks of masked multi-head softmax
attention and a GELU MLP, a linear readout per node.

Nodes carry no identity: the input features are what the caller gives (a random seed
per node, or the same vector for all). The model is permutation-equivariant, so on a
vertex-transitive graph with identical inputs every node gets the same output.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab.config import require


@dataclass(frozen=True)
class Config:
    width: int = 32
    heads: int = 4
    layers: int = 3

    def __post_init__(self):
        require(self.width >= 1 and self.heads >= 1 and self.width % self.heads == 0 and self.layers >= 1,
                f"graph attention needs width divisible by heads >= 1 and layers >= 1, got {self}")


class _Block(eqx.Module):
    norm1: eqx.nn.LayerNorm
    attention: eqx.nn.MultiheadAttention
    norm2: eqx.nn.LayerNorm
    mlp: eqx.nn.MLP

    def __init__(self, cfg: Config, key: jax.Array):
        k1, k2 = jax.random.split(key)
        self.norm1, self.norm2 = eqx.nn.LayerNorm(cfg.width), eqx.nn.LayerNorm(cfg.width)
        self.attention = eqx.nn.MultiheadAttention(cfg.heads, cfg.width, key=k1)
        self.mlp = eqx.nn.MLP(cfg.width, cfg.width, 4 * cfg.width, 1, activation=jax.nn.gelu, key=k2)

    def __call__(self, h: Array, mask: Array) -> Array:
        z = jax.vmap(self.norm1)(h)
        h = h + self.attention(z, z, z, mask=mask)
        return h + jax.vmap(self.mlp)(jax.vmap(self.norm2)(h))


class GraphAttention(eqx.Module):
    embed: eqx.nn.Linear
    blocks: list
    norm: eqx.nn.LayerNorm
    readout: eqx.nn.Linear

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        k_in, k_out, *k_blocks = jax.random.split(key, 2 + cfg.layers)
        self.embed = eqx.nn.Linear(d_in, cfg.width, key=k_in)
        self.blocks = [_Block(cfg, k) for k in k_blocks]
        self.norm = eqx.nn.LayerNorm(cfg.width)
        self.readout = eqx.nn.Linear(cfg.width, d_out, key=k_out)

    def __call__(self, x: Float[Array, "nodes d_in"], adjacency: Float[Array, "nodes nodes"],
                 valid: Bool[Array, " nodes"]) -> Float[Array, "nodes d_out"]:
        """Outputs per node; padding nodes (not `valid`) neither send nor receive."""
        n = x.shape[0]
        mask = ((adjacency > 0) | jnp.eye(n, dtype=bool)) & valid[None, :] & valid[:, None]
        mask = mask | jnp.eye(n, dtype=bool)  # a padding node attends to itself only
        h = jax.vmap(self.embed)(x)
        for block in self.blocks:
            h = block(h, mask)
        return jax.vmap(self.readout)(jax.vmap(self.norm)(h))
