"""The encode-process-decode neural algorithmic reasoner of Ibarz et al. 2022 ("A
Generalist Neural Algorithmic Learner", arXiv 2209.11142; google-deepmind/clrs
`_src/nets.py`, `encoders.py`, `decoders.py`): per-algorithm linear encoders and
decoders around one processor (models/gmpnn.py), shared by every algorithm in the
multi-task model.

One step t (t = 0 .. steps-1), for one example of n node slots:
- encode: node features x_i = sum of linear encodings of the node inputs and node hints
  (masks, scalars, one-hot masks); edge features e_ij = encodings of the edge inputs plus,
  for each pointer hint, a linear encoding of P(pointer of i = j). The hints are the true
  frame 0 at t = 0 and afterwards the model's own predictions, fed back soft (sigmoid of
  mask logits, softmax of pointer and one-hot logits over the real nodes, scalars as
  they are): no teacher forcing.
- process: h <- processor(x, e, h), starting from h = 0;
- decode from h_t = [x || h_prev || h] and e_t = [e || edge messages]: each hint of frame
  t+1 (mask, scalar: a linear read-out per node; one-hot mask: logits over nodes;
  pointer: logits_ij = p4(max(p1(h_t,i), p2(h_t,j) + p3(e_t,ij))), CLRS's pointer
  decoder with the edge index as in models/gmpnn.py: CLRS's code reads e_ji there).
An example runs its own `length - 1` steps (at least one, as CLRS); after that its state
is frozen, and the output pointer is decoded from the state of its last step (CLRS
freezes its output predictions after an example's last step).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from complab.models import gmpnn
from complab.models.gmpnn import apply

NEG = -1e9


@dataclass(frozen=True)
class Signature:
    """What a model must encode and decode for one algorithm."""

    node_inputs: int
    edge_inputs: int
    hints: tuple[tuple[str, str], ...]  # (name, kind): kind in pointer, mask, scalar, mask_one


class PointerDecoder(eqx.Module):
    p1: eqx.nn.Linear
    p2: eqx.nn.Linear
    p3: eqx.nn.Linear
    p4: eqx.nn.Linear

    def __init__(self, node_dim: int, edge_dim: int, width: int, *, key: jax.Array):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.p1, self.p2 = eqx.nn.Linear(node_dim, width, key=k1), eqx.nn.Linear(node_dim, width, key=k2)
        self.p3, self.p4 = eqx.nn.Linear(edge_dim, width, key=k3), eqx.nn.Linear(width, 1, key=k4)

    def __call__(self, h: Array, e: Array, valid: Array) -> Float[Array, "n n"]:
        m = jnp.maximum(apply(self.p1, h)[:, None], apply(self.p2, h)[None, :] + apply(self.p3, e))
        return jnp.where(valid[None, :], apply(self.p4, m)[..., 0], NEG)


class Heads(eqx.Module):
    """One algorithm's encoders and decoders."""

    node_in: eqx.nn.Linear
    edge_in: eqx.nn.Linear | None
    hint_in: dict[str, eqx.nn.Linear]
    hint_out: dict[str, eqx.Module]
    output: PointerDecoder
    kinds: dict[str, str] = eqx.field(static=True)

    def __init__(self, sig: Signature, width: int, edge_dim: int, *, key: jax.Array):
        k_n, k_e, k_o, *ks = jax.random.split(key, 3 + 2 * len(sig.hints))
        self.kinds = dict(sig.hints)
        self.node_in = eqx.nn.Linear(sig.node_inputs, width, key=k_n)
        self.edge_in = eqx.nn.Linear(sig.edge_inputs, width, key=k_e) if sig.edge_inputs else None
        self.hint_in = {name: eqx.nn.Linear(1, width, key=k) for (name, _), k in zip(sig.hints, ks[::2])}
        self.hint_out = {name: PointerDecoder(3 * width, edge_dim, width, key=k) if kind == "pointer"
                         else eqx.nn.Linear(3 * width, 1, key=k) for (name, kind), k in zip(sig.hints, ks[1::2])}
        self.output = PointerDecoder(3 * width, edge_dim, width, key=k_o)

    def encode(self, x, edges, hints, width):
        n = x.shape[0]
        node = apply(self.node_in, x)
        edge = apply(self.edge_in, edges) if self.edge_in is not None else jnp.zeros((n, n, width))
        for name, kind in self.kinds.items():
            if kind == "pointer":
                edge = edge + apply(self.hint_in[name], hints[name][..., None])
            else:
                node = node + apply(self.hint_in[name], hints[name][..., None])
        return node, edge

    def decode_hints(self, h, e, valid) -> dict[str, Array]:
        out = {}
        for name, kind in self.kinds.items():
            if kind == "pointer":
                out[name] = self.hint_out[name](h, e, valid)
            else:
                logits = apply(self.hint_out[name], h)[..., 0]
                out[name] = jnp.where(valid, logits, NEG) if kind == "mask_one" else logits
        return out

    def soften(self, logits: dict, valid) -> dict[str, Array]:
        """Predicted hints as the next step's inputs."""
        soft = {}
        for name, kind in self.kinds.items():
            v = logits[name]
            soft[name] = (jax.nn.softmax(v, -1) if kind in ("pointer", "mask_one")
                          else jax.nn.sigmoid(v) if kind == "mask" else v) * (valid if v.ndim == 1 else 1.0)
        return soft

    def harden(self, hints: dict, n: int) -> dict[str, Array]:
        """True hints (pointers as indices) as inputs."""
        return {k: jax.nn.one_hot(v, n) if self.kinds[k] == "pointer" else v.astype(jnp.float32)
                for k, v in hints.items()}


class Reasoner(eqx.Module):
    processor: gmpnn.Processor
    heads: dict[str, Heads]
    width: int = eqx.field(static=True)

    def __init__(self, cfg: gmpnn.Config, signatures: dict[str, Signature], *, key: jax.Array):
        k_p, *ks = jax.random.split(key, 1 + len(signatures))
        self.width = cfg.width
        self.processor = gmpnn.Processor(cfg, key=k_p)
        edge_dim = 2 * cfg.width if cfg.kind == "triplet_gmpnn" else cfg.width
        self.heads = {a: Heads(s, cfg.width, edge_dim, key=k) for (a, s), k in zip(signatures.items(), ks)}

    def __call__(self, algorithm: str, x: Float[Array, "n k"], edges: Float[Array, "n n k_e"],
                 valid: Bool[Array, " n"], hints0: dict[str, Array], length: Int[Array, ""], steps: int) -> dict:
        """{"output": pointer logits [n, n], "hints": {name: logits of frames 1..steps, [steps, n(, n)]}}."""
        heads, n, w = self.heads[algorithm], x.shape[0], self.width
        last = jnp.maximum(length - 1, 1)

        def step(carry, t):
            h, cur, h_t, e_t = carry
            node, edge = heads.encode(x, edges, cur, w)
            new, msgs = self.processor(node, edge, h, valid)
            h_new = jnp.concatenate([node, h, new], -1)
            e_new = edge if msgs is None else jnp.concatenate([edge, msgs], -1)
            preds = heads.decode_hints(h_new, e_new, valid)
            live = t < last
            keep = lambda a, b: jnp.where(live, a, b)  # noqa: E731
            return (keep(new, h), jax.tree.map(keep, heads.soften(preds, valid), cur), keep(h_new, h_t),
                    keep(e_new, e_t)), preds

        e_dim = heads.output.p3.in_features
        init = (jnp.zeros((n, w)), heads.harden(hints0, n), jnp.zeros((n, 3 * w)), jnp.zeros((n, n, e_dim)))
        (_, _, h_t, e_t), preds = jax.lax.scan(step, init, jnp.arange(steps))
        return {"output": heads.output(h_t, e_t, valid), "hints": preds}
