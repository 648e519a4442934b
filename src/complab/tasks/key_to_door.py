"""The linear key-to-door environment ("treasure conveyor") of Meulemans, Schug, Kobayashi,
Daw, Wayne 2023 ("Would I have gotten that reward? Long-term credit assignment by
counterfactual contribution analysis"; their `envs/treasure_conveyor.py` and
`configs/canonical_conveyorlength_*.py`), as a tabular MDP.

A corridor of L cells walked left to right, one cell per step (L steps). Cell 0 holds a
key, cell L-2 a door, cell L-1 is empty unless the door was opened; cells 1..L-3 hold an
apple on the left or the right (probability 0.8 in all, a fixed layout drawn from
`layout_seed`) or nothing. Actions: pick the key, pick left, pick right, open the door.
Picking the apple on its side gives 0.1 or 0.9 (each with probability 1/2); opening the
door while holding the key puts a treasure in the last cell, worth 0.2, collected there
whatever the action. All rewards are scaled by 23 / L. The treasure depends on the very
first action and nothing between; the apples add reward noise that has nothing to do
with it: the long-term credit assignment problem.

States are (position, key held, treasure present): index 4 p + 2 key + treasure. The
agent observes exactly this (the authors' observation, position / L with the cell's
content and the key count, carries the same information). Reward objects (what COCOA's
hindsight conditions on): the reward values 0, apple-low, apple-high, treasure.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require

PICK_KEY, PICK_LEFT, PICK_RIGHT, OPEN_DOOR = range(4)
ACTIONS = 4
EMPTY, LEFT, RIGHT = range(3)
OBJECTS = ("none", "apple 0.1", "apple 0.9", "treasure")


@dataclass(frozen=True)
class Config:
    length: int = 23
    apple_prob: float = 0.8
    layout_seed: int = 2022

    def __post_init__(self):
        require(self.length >= 4 and 0 <= self.apple_prob <= 1,
                f"key-to-door needs length >= 4 and apple_prob in [0, 1]; got {self}")


class KeyToDoor(eqx.Module):
    cfg: Config = eqx.field(static=True)
    layout: Int[Array, " length"]  # EMPTY / LEFT / RIGHT per cell
    next_state: Int[Array, "states actions"]
    reward_probs: Float[Array, "states actions objects"]
    values: Float[Array, " objects"]

    def __init__(self, cfg: Config):
        self.cfg = cfg
        n = cfg.length
        p = cfg.apple_prob
        layout = np.zeros(n, np.int32)  # the authors' draw, so seed 2022 gives their corridor
        layout[1:n - 2] = np.random.default_rng(cfg.layout_seed).choice(a=[EMPTY, LEFT, RIGHT], size=n - 3,
                                                                       p=[1 - p, p / 2, p / 2])
        scale = 23.0 / n
        self.values = scale * jnp.array([0.0, 0.1, 0.9, 0.2])
        nxt = np.zeros((4 * n, ACTIONS), np.int32)
        probs = np.zeros((4 * n, ACTIONS, len(OBJECTS)))
        probs[..., 0] = 1.0
        for pos in range(n):
            for key in (0, 1):
                for tr in (0, 1):
                    s = 4 * pos + 2 * key + tr
                    for a in range(ACTIONS):
                        k2 = key | int(pos == 0 and a == PICK_KEY)
                        t2 = int(pos == n - 2 and key == 1 and a == OPEN_DOOR)
                        nxt[s, a] = 4 * min(pos + 1, n - 1) + 2 * k2 + t2 if pos < n - 1 else s
                        apple = (layout[pos] == LEFT and a == PICK_LEFT) or (layout[pos] == RIGHT and a == PICK_RIGHT)
                        if apple:
                            probs[s, a] = [0.0, 0.5, 0.5, 0.0]
                        elif pos == n - 1 and tr:
                            probs[s, a] = [0.0, 0.0, 0.0, 1.0]
        self.layout = jnp.asarray(layout)
        self.next_state = jnp.asarray(nxt)
        self.reward_probs = jnp.asarray(probs, jnp.float32)

    @property
    def states(self) -> int:
        return 4 * self.cfg.length

    def position(self, s: Array) -> Array:
        return s // 4

    def rollout(self, key: jax.Array, policy: Float[Array, "states actions"]):
        """One episode under `policy` (action probabilities per state): (states, actions,
        reward objects, rewards), each [L]."""

        def body(s, k):
            k_a, k_r = jax.random.split(k)
            a = jax.random.categorical(k_a, jnp.log(policy[s]))
            u = jax.random.categorical(k_r, jnp.log(self.reward_probs[s, a]))
            return self.next_state[s, a], (s, a, u, self.values[u])

        _, out = jax.lax.scan(body, jnp.zeros((), jnp.int32), jax.random.split(key, self.cfg.length))
        return out
