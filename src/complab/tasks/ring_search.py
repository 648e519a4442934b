"""Searching a ring for a hidden goal: the smallest exploration task where a learned
policy gains from a random seed (von Oswald, Kobayashi, Akram, Steger 2024 train an
exploring agent with evolution strategies; this is a reduced form of their grid world).

An agent starts at cell 0 of a ring of n cells; an oblivious adversary hides the goal
in one of the cells 1..n-1. At each of `horizon` steps the agent moves one cell left
or right, by the sign of its policy's output for (its seed, its cell, the time); the
cost is the number of moves until it stands on the goal (`horizon` + 1 if never). Moves are
discrete, so the cost has no useful gradient in the policy's weights.

Any deterministic policy visits the cells in one fixed order, and the goal hidden in
the last of them costs at least n - 1 moves. A policy that picks a direction by its
seed and keeps it costs k or n - k for the goal at k, n / 2 in expectation whatever k:
the best worst case any policy can have (the expected visiting rank of n - 1 cells is
at least n / 2 on average).
"""

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require


@dataclass(frozen=True)
class Config:
    cells: int = 8
    horizon: int = 16

    def __post_init__(self):
        require(self.cells >= 3 and self.horizon >= self.cells - 1,
                f"ring search needs cells >= 3 and horizon >= cells - 1, got cells={self.cells}, "
                f"horizon={self.horizon}")

    @property
    def goals(self) -> Array:
        return jnp.arange(1, self.cells)


def observation(cfg: Config, cell: Array, t: Array) -> Array:
    """The policy's view besides its seed: its cell (one-hot) and the time (t / horizon)."""
    return jnp.concatenate([jax.nn.one_hot(cell, cfg.cells), (t / cfg.horizon)[None]])


def cost(cfg: Config, policy: Callable[[Array, Array], Array], seed: Array, goal: Array) -> Array:
    """Moves until the agent stands on `goal` (`horizon` + 1 if it never does); `policy(seed, obs)`
    gives a scalar whose sign picks right (+1) or left."""

    def step(carry, t):
        cell, found_at = carry
        move = jnp.where(policy(seed, observation(cfg, cell, t.astype(jnp.float32))) > 0, 1, -1)
        cell = (cell + move) % cfg.cells
        found_at = jnp.where((found_at > cfg.horizon) & (cell == goal), t + 1, found_at)
        return (cell, found_at), None

    start = (jnp.zeros((), jnp.int32), jnp.asarray(cfg.horizon + 1, jnp.int32))
    (_, found_at), _ = jax.lax.scan(step, start, jnp.arange(cfg.horizon, dtype=jnp.int32))
    return found_at.astype(jnp.float32)
