"""The processors of Ibarz et al. 2022 ("A Generalist Neural Algorithmic Learner", arXiv
2209.11142, section 3.2; google-deepmind/clrs `_src/processors.py`, PGN/MPNN with
`use_triplets` and `gated`): one message-passing step over a fully connected graph of
the real nodes (the input graph reaches the processor only through the edge features,
as CLRS's MPNN). Node i aggregates the messages m_ij built from e_ij, as the paper's
equations write it; CLRS's code indexes the edge of a message as e[sender, receiver],
the transpose, which differs only for asymmetric edge features (pointer hints).

Triplet-GMPNN, with z_i = [x_i || h_i] (node features and the previous hidden state):
  m_ij = MLP(f1(z_i) + f2(z_j) + f_e(e_ij))   (f1 + f2 + f_e is the MLP's first layer; then
                                              ReLU, a linear layer, ReLU, a linear layer:
                                              CLRS's `msgs_mlp_sizes = [h, h]`)
  h_i' = LayerNorm(ReLU(o1(z_i) + o2(max_j m_ij)))    (j over the real nodes)
  t_ijk = psi1(z_i) + psi2(z_j) + psi3(z_k) + psi_e1(e_ij) + psi_e2(e_ik) + psi_e3(e_jk)
          (8 features), edge messages e'_jk = ReLU(o3(max_i t_ijk))  (i over the real nodes)
  gate g_i = sigmoid(g3(ReLU(g1(z_i) + g2(max_j m_ij)))), g3's bias -3 (mostly keep the
  old state at the start); h_i <- g_i * h_i' + (1 - g_i) * h_i.
The plain MPNN is the same step without triplets and without the gate. The graph-level
terms f_g(g), psi_g(g) are left out: no algorithm here has a graph-level input or hint, so
g = 0 and they would only add constant biases. As CLRS, the edge messages e' feed the
decoders of this step (the next step re-encodes edges from the inputs and hints).

Padding: a node that is not `valid` sends nothing (masked out of every max), so it never
changes a real node's state or a real pair's edge message.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab.config import require

KINDS = ("triplet_gmpnn", "mpnn")
NEG = -1e9


@dataclass(frozen=True)
class Config:
    kind: str = "triplet_gmpnn"
    width: int = 128
    triplet_features: int = 8
    gate_bias: float = -3.0

    def __post_init__(self):
        require(self.kind in KINDS, f"processor kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        require(self.width >= 1 and self.triplet_features >= 1,
                f"width and triplet_features must be >= 1; got {self.width}, {self.triplet_features}")


def apply(layer: eqx.nn.Linear, x: Array) -> Array:
    """A linear layer on the last axis of `x`, whatever its leading axes."""
    y = x @ layer.weight.T
    return y if layer.bias is None else y + layer.bias.reshape((1,) * (y.ndim - 1) + (-1,))


class Triplets(eqx.Module):
    node: tuple[eqx.nn.Linear, ...]  # psi1, psi2, psi3
    edge: tuple[eqx.nn.Linear, ...]  # psi_e1, psi_e2, psi_e3
    out: eqx.nn.Linear  # o3

    def __init__(self, width: int, features: int, *, key: jax.Array):
        ks = jax.random.split(key, 7)
        self.node = tuple(eqx.nn.Linear(2 * width, features, key=k) for k in ks[:3])
        self.edge = tuple(eqx.nn.Linear(width, features, key=k) for k in ks[3:6])
        self.out = eqx.nn.Linear(features, width, key=ks[6])

    def __call__(self, z: Array, e: Array, valid: Array) -> Float[Array, "n n width"]:
        t1, t2, t3 = (apply(f, z) for f in self.node)
        e1, e2, e3 = (apply(f, e) for f in self.edge)
        # the terms that depend on i, maximised over the real i: [i, j, k, f] -> [j, k, f]
        over_i = t1[:, None, None] + e1[:, :, None] + e2[:, None, :]
        over_i = jnp.where(valid[:, None, None, None], over_i, NEG).max(0)
        t = over_i + t2[:, None] + t3[None, :] + e3
        return jax.nn.relu(apply(self.out, t))


class Gate(eqx.Module):
    g1: eqx.nn.Linear
    g2: eqx.nn.Linear
    g3: eqx.nn.Linear

    def __init__(self, width: int, bias: float, *, key: jax.Array):
        k1, k2, k3 = jax.random.split(key, 3)
        self.g1, self.g2 = eqx.nn.Linear(2 * width, width, key=k1), eqx.nn.Linear(width, width, key=k2)
        g3 = eqx.nn.Linear(width, width, key=k3)
        self.g3 = eqx.tree_at(lambda m: m.bias, g3, jnp.full((width,), bias, jnp.float32))  # not weak-typed

    def __call__(self, z: Array, agg: Array) -> Array:
        return jax.nn.sigmoid(apply(self.g3, jax.nn.relu(apply(self.g1, z) + apply(self.g2, agg))))


class Processor(eqx.Module):
    f1: eqx.nn.Linear
    f2: eqx.nn.Linear
    fe: eqx.nn.Linear
    mlp: tuple[eqx.nn.Linear, eqx.nn.Linear]
    o1: eqx.nn.Linear
    o2: eqx.nn.Linear
    norm: eqx.nn.LayerNorm
    triplets: Triplets | None
    gate: Gate | None

    def __init__(self, cfg: Config, *, key: jax.Array):
        h = cfg.width
        ks = jax.random.split(key, 9)
        self.f1, self.f2 = eqx.nn.Linear(2 * h, h, key=ks[0]), eqx.nn.Linear(2 * h, h, key=ks[1])
        self.fe = eqx.nn.Linear(h, h, key=ks[2])
        self.mlp = (eqx.nn.Linear(h, h, key=ks[3]), eqx.nn.Linear(h, h, key=ks[4]))
        self.o1, self.o2 = eqx.nn.Linear(2 * h, h, key=ks[5]), eqx.nn.Linear(h, h, key=ks[6])
        self.norm = eqx.nn.LayerNorm(h)
        triplet = cfg.kind == "triplet_gmpnn"
        self.triplets = Triplets(h, cfg.triplet_features, key=ks[7]) if triplet else None
        self.gate = Gate(h, cfg.gate_bias, key=ks[8]) if triplet else None

    def __call__(self, x: Float[Array, "n width"], e: Float[Array, "n n width"], hidden: Float[Array, "n width"],
                 valid: Bool[Array, " n"]) -> tuple[Array, Array | None]:
        """(the new hidden state [n, width], the edge messages [n, n, width] or None)."""
        z = jnp.concatenate([x, hidden], -1)
        m = apply(self.f1, z)[:, None] + apply(self.f2, z)[None, :] + apply(self.fe, e)  # [i (receiver), j, h]
        m = apply(self.mlp[1], jax.nn.relu(apply(self.mlp[0], jax.nn.relu(m))))
        agg = jnp.where(valid[None, :, None], m, NEG).max(1)
        new = jax.vmap(self.norm)(jax.nn.relu(apply(self.o1, z) + apply(self.o2, agg)))
        if self.gate is not None:
            g = self.gate(z, agg)
            new = g * new + (1 - g) * hidden
        edges = self.triplets(z, e, valid) if self.triplets is not None else None
        return new, edges
