"""A CLRS algorithm as a task (Veličković et al. 2022; as Ibarz et al. 2022, arXiv
2209.11142, train and test it): random graphs or arrays drawn in JAX, with the algorithm's
inputs, its hint trajectory (tasks/clrs_algorithms.py) and its output pointer.

Sampling follows CLRS's samplers.py. Graphs (BFS, Bellman-Ford): Erdős–Rényi with p drawn
per graph from `p` (training: 0.1, ..., 0.9, as the paper); a pair (i, j), self-loops
included, is an edge when both of its independent Bernoulli(p) draws are 1 (CLRS multiplies
the matrix by its transpose). Bellman-Ford weights: w = sqrt(u1 * u2 + 1e-3), u ~ U[0, 1]
per ordered pair, symmetrised the same way. Inputs: `pos` (a node scalar), the source `s`
(uniform over the nodes), `A` (the weights; 0/1 for BFS) and `adj` = (A + I) != 0. Sorting:
keys ~ U[0, 1]. `pos`: sorted U[0, 1] values per example in training and validation (CLRS's
`randomize_pos`), i / n at test (CLRS's test sets are not randomised).

Splits: "train" and "valid" mix the training sizes (each example draws its size from
`train_sizes`, padded to the largest with a node mask; padding nodes have no edges and
never change a real node's trajectory), "test" is one larger size with CLRS's default
p = 0.5 (its test sets), the out-of-distribution score. Every split pads its hint
trajectories to a fixed number of frames (its number of node slots: no trajectory of these
algorithms is longer), so each split has one shape.

A batch: x [B, n, k] the node inputs (in SPECS order), y [B, n] the output pointer, mask
[B, n] the real nodes, info: "edges" [B, n, n, k_e] the edge inputs, "hints" {name: [B,
frames, n]}, "length" [B] the real frames, "nodes" [B].
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require
from complab.rng import uniform
from complab.tasks import clrs_algorithms as algos
from complab.tasks.base import AbstractTask, Batch, masked_mean

ALGORITHMS = tuple(algos.SPECS)
TRAIN_P = tuple(round(0.1 * i, 1) for i in range(1, 10))


@dataclass(frozen=True)
class Config:
    algorithm: str = "bfs"
    train_sizes: tuple[int, ...] = (4, 7, 11)
    test_size: int = 32
    p: tuple[float, ...] = TRAIN_P
    test_p: float = 0.5

    def __post_init__(self):
        require(self.algorithm in ALGORITHMS, f"algorithm must be one of {', '.join(ALGORITHMS)}; "
                f"got {self.algorithm!r}")
        require(len(self.train_sizes) >= 1 and min(self.train_sizes) >= 2,
                f"train_sizes must be sizes >= 2; got {self.train_sizes}")
        require(self.test_size > max(self.train_sizes),
                f"test_size must exceed every training size ({max(self.train_sizes)}); got {self.test_size}")
        require(all(0 < p <= 1 for p in self.p + (self.test_p,)), f"p values must lie in (0, 1]; got {self.p}, "
                f"{self.test_p}")


def node_inputs(algorithm: str) -> tuple[str, ...]:
    return tuple(k for k, v in algos.SPECS[algorithm]["inputs"].items() if v.startswith("node"))


def edge_inputs(algorithm: str) -> tuple[str, ...]:
    return tuple(k for k, v in algos.SPECS[algorithm]["inputs"].items() if v.startswith("edge"))


def _er(u, n, nodes, p, weighted):
    """Erdős–Rényi from uniforms u [n, n, 2]: edge draws u[..., 0] < p, weights from u[..., 1]."""
    real = jnp.arange(n) < nodes
    half = (u[..., 0] < p).astype(jnp.float32)
    mat = half * half.T * real[:, None] * real[None, :]
    if weighted:
        mat = mat * jnp.sqrt(u[..., 1] * u[..., 1].T + 1e-3)
    return mat


def example(cfg: Config, u: Array, v: Array, n: int, nodes: Array, p: Array, random_pos: bool) -> dict:
    """One example of `nodes` real nodes padded to `n` slots from its uniforms u [n, n, 2] and
    v [n + 1] (one draw per random choice: far less to compile than a key per draw)."""
    real = jnp.arange(n) < nodes
    if random_pos:
        pos = jnp.where(real, jnp.sort(jnp.where(real, v[:n], 2.0)), 0.0)
    else:
        pos = jnp.where(real, jnp.arange(n) / nodes, 0.0)
    if cfg.algorithm == "insertion_sort":
        keys = jnp.where(real, u[0, :, 0], 0.0)
        hints, out, length = algos.insertion_sort(keys, nodes, n)
        return {"x": jnp.stack([pos, keys], -1), "edges": jnp.zeros((n, n, 0)), "y": out, "hints": hints,
                "length": length}
    a = _er(u, n, nodes, p, weighted=cfg.algorithm == "bellman_ford")
    source = jnp.minimum(jnp.floor(v[n] * nodes).astype(jnp.int32), nodes - 1)
    run = algos.bfs if cfg.algorithm == "bfs" else algos.bellman_ford
    hints, out, length = run(a, source, n)
    adj = ((a + jnp.eye(n)) != 0) & real[:, None] & real[None, :]
    x = jnp.stack([pos, (jnp.arange(n) == source).astype(jnp.float32)], -1)
    return {"x": x, "edges": jnp.stack([a, adj.astype(jnp.float32)], -1), "y": out, "hints": hints,
            "length": length}


def _pick(options: tuple, u: Array) -> Array:
    return jnp.asarray(options)[jnp.minimum(jnp.floor(u * len(options)).astype(jnp.int32), len(options) - 1)]


class Clrs(AbstractTask):
    cfg: Config
    splits: tuple[str, ...] = ("train", "valid", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def slots(self, split: str) -> int:
        return self.cfg.test_size if split == "test" else max(self.cfg.train_sizes)

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        n, cfg = self.slots(split), self.cfg
        k_u, k_v = jax.random.split(key)
        u, v = uniform(k_u, (batch_size, n, n, 2)), uniform(k_v, (batch_size, n + 3))
        if split == "test":
            nodes, p = jnp.full((batch_size,), n), jnp.full((batch_size,), cfg.test_p)
        else:
            nodes, p = _pick(cfg.train_sizes, v[:, n + 1]), _pick(cfg.p, v[:, n + 2])
        ex = jax.vmap(lambda a, b, m, q: example(cfg, a, b, n, m, q, split != "test"))(u, v, nodes, p)
        mask = (jnp.arange(n)[None] < nodes[:, None]).astype(jnp.float32)
        return Batch(x=ex["x"], y=ex["y"], mask=mask, info={"edges": ex["edges"], "hints": ex["hints"],
                                                            "length": ex["length"], "nodes": nodes})

    def loss(self, pred: dict, batch: Batch) -> Array:
        """Output loss + hint loss (CLRS's losses.py): pointer cross-entropy over the real
        nodes, binary cross-entropy for masks, cross-entropy over nodes for one-hot masks,
        squared error for scalars; hints averaged over the real nodes of frames 1 .. length-1."""
        return pointer_loss(pred["output"], batch.y, batch.mask) + hint_loss(self.cfg.algorithm, pred["hints"], batch)

    def metrics(self, pred: dict, batch: Batch) -> dict[str, Array]:
        return {"loss": self.loss(pred, batch), "score": score(pred["output"], batch),
                "self_score": self_score(batch)}

    @property
    def dims(self) -> tuple[int, int]:
        return len(node_inputs(self.cfg.algorithm)), len(edge_inputs(self.cfg.algorithm))


def _masked_logits(logits, mask):
    return jnp.where(mask[:, None, :] > 0, logits, -1e9)


def pointer_loss(logits, target, mask):
    """Cross-entropy of pointer logits [B, n, n] (softmax over the real nodes) against
    target pointers [B, n], averaged over the real nodes."""
    logp = jax.nn.log_softmax(_masked_logits(logits, mask))
    ce = -jnp.take_along_axis(logp, target[..., None], -1)[..., 0]
    return masked_mean(ce, mask)


def hint_loss(algorithm: str, hints: dict, batch: Batch) -> Array:
    frames = batch.info["hints"][next(iter(hints))].shape[1]
    steps = jnp.arange(1, frames)
    live = (steps[None] < batch.info["length"][:, None]).astype(jnp.float32)  # [B, frames-1]
    w = live[..., None] * batch.mask[:, None, :]  # [B, frames-1, n]
    total = 0.0
    for name, kind in algos.SPECS[algorithm]["hints"].items():
        p, t = hints[name], batch.info["hints"][name][:, 1:]
        if kind == "pointer":
            logp = jax.nn.log_softmax(jnp.where(batch.mask[:, None, None, :] > 0, p, -1e9))
            err = -jnp.take_along_axis(logp, t[..., None], -1)[..., 0]
        elif kind == "mask":
            err = jnp.maximum(p, 0) - p * t + jnp.log1p(jnp.exp(-jnp.abs(p)))
        elif kind == "mask_one":
            logp = jax.nn.log_softmax(jnp.where(batch.mask[:, None, :] > 0, p, -1e9))
            err = -(logp * t).sum(-1, keepdims=True) * jnp.ones_like(p)  # one value per frame, spread over nodes
        else:
            err = (p - t) ** 2
        total = total + (err * w).sum() / jnp.maximum(w.sum(), 1.0)
    return total


def score(logits, batch: Batch) -> Array:
    """CLRS's score of a pointer output (its "micro-F1"): the fraction of real nodes whose
    argmax pointer is right (over all nodes of the batch)."""
    hit = (_masked_logits(logits, batch.mask).argmax(-1) == batch.y).astype(jnp.float32)
    return masked_mean(hit, batch.mask)


def self_score(batch: Batch) -> Array:
    """The score of the trivial predictor that points every node to itself."""
    hit = (batch.y == jnp.arange(batch.y.shape[1])[None]).astype(jnp.float32)
    return masked_mean(hit, batch.mask)
