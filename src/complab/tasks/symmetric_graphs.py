"""Graph colouring on vertex-transitive graphs, where no deterministic permutation-
equivariant model can colour properly (von Oswald, Kobayashi, Akram, Steger 2024 use
such symmetric graphs to show that transformers learn to break symmetry with a seed).

The family: the cycles C5, C6 and C8, the complete bipartite K_{3,3}, the 3-cube Q3 and
the Petersen graph (every node alike; C5 and Petersen need 3 colours, the others 2). An input is one of them with
its nodes in a random order, padded to `max_nodes` (`valid` marks the real ones).

A model gives each node a distribution p_i over `colours`; the training loss is the
share of edges whose ends would draw the same colour, sum_{ij in E} p_i . p_j / |E|;
a colouring (argmax per node) is proper when no edge is monochromatic. A deterministic
equivariant model sees identical nodes and gives them one colour: never proper.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab.config import require


def _cycle(n: int) -> list[tuple[int, int]]:
    return [(i, (i + 1) % n) for i in range(n)]


def _cube() -> list[tuple[int, int]]:
    return [(a, a ^ (1 << b)) for a in range(8) for b in range(3) if a < a ^ (1 << b)]


def _petersen() -> list[tuple[int, int]]:
    return _cycle(5) + [(5 + i, 5 + (i + 2) % 5) for i in range(5)] + [(i, 5 + i) for i in range(5)]


GRAPHS = {
    "C5": (5, _cycle(5)), "C6": (6, _cycle(6)), "C8": (8, _cycle(8)),
    "K33": (6, [(i, 3 + j) for i in range(3) for j in range(3)]),
    "Q3": (8, _cube()), "Petersen": (10, _petersen()),
}
CHROMATIC = {"C5": 3, "C6": 2, "C8": 2, "K33": 2, "Q3": 2, "Petersen": 3}  # the fewest colours each needs


@dataclass(frozen=True)
class Config:
    graphs: tuple[str, ...] = tuple(GRAPHS)
    colours: int = 3

    def __post_init__(self):
        unknown = [g for g in self.graphs if g not in GRAPHS]
        require(bool(self.graphs) and not unknown, f"graphs must be among {', '.join(GRAPHS)}; got {self.graphs}")
        need = max(CHROMATIC[g] for g in self.graphs)
        require(self.colours >= need, f"{', '.join(self.graphs)} need {need} colours, got colours={self.colours}")

    @property
    def max_nodes(self) -> int:
        return max(GRAPHS[g][0] for g in self.graphs)


def adjacency(name: str, size: int) -> np.ndarray:
    """The graph's adjacency matrix padded to `size` nodes."""
    n, edges = GRAPHS[name]
    a = np.zeros((size, size), np.float32)
    for i, j in edges:
        a[i, j] = a[j, i] = 1.0
    return a


class SymmetricGraphs:
    """The family as padded arrays; `sample` draws graphs with their nodes permuted."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        size = cfg.max_nodes
        self.adjacency = jnp.asarray(np.stack([adjacency(g, size) for g in cfg.graphs]))
        self.valid = jnp.asarray(np.stack([np.arange(size) < GRAPHS[g][0] for g in cfg.graphs]))

    def sample(self, key: jax.Array, batch_size: int, which: Array | None = None) -> dict[str, Array]:
        """`batch_size` graphs (the family in turn, or `which` [batch] indices) with permuted nodes."""
        k_perm = key
        if which is None:
            which = jnp.arange(batch_size) % len(self.cfg.graphs)
        size = self.cfg.max_nodes
        perms = jax.vmap(lambda k: jax.random.permutation(k, size))(jax.random.split(k_perm, batch_size))
        adj, valid = self.adjacency[which], self.valid[which]
        adj = jax.vmap(lambda a, p: a[p][:, p])(adj, perms)
        valid = jax.vmap(lambda v, p: v[p])(valid, perms)
        return {"adjacency": adj, "valid": valid, "graph": which}


def conflict(probs: Array, adjacency: Array) -> Array:
    """The share of edges whose ends would draw the same colour: probs [..., n, C], adjacency [..., n, n]."""
    same = jnp.einsum("...ic,...jc,...ij->...", probs, probs, adjacency)
    return same / adjacency.sum((-1, -2))


def proper(colours: Array, adjacency: Array) -> Array:
    """Whether the colouring [..., n] (integers) leaves no edge monochromatic."""
    same = (colours[..., :, None] == colours[..., None, :]) & (adjacency > 0)
    return ~same.any((-1, -2))
