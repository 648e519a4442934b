"""The (overlapping) tree environment of Meulemans, Schug, Kobayashi, Daw, Wayne 2023
("Would I have gotten that reward? Long-term credit assignment by counterfactual
contribution analysis"; their `envs/tree.py` and `configs/tree.py`), as a tabular MDP.

Levels: an episode walks `depth` levels d = 0..L-1 from the root, one a step, with
`branching` b actions. Level d holds N_d positions, N_0 = 1 and N_{d+1} = (b - o) N_d + o
for the state overlap o in [0, b]. Position p's children are the b consecutive positions
p (b - o) - floor((b - o) / 2) + a, a = 0..b-1, taken modulo N_{d+1}: distinct actions
lead to distinct children, neighbours p and p + 1 share exactly o children (nodes further
apart share b - k (b - o) when that is positive), and the children of a level cover the
next one, whose ends join in a circle (node 0's first children are the level's last
positions). o = 0 is a tree: each state is reached by one action sequence only, so a
later state reveals every earlier action. o = b makes the next state a function of the
last action alone (N_d = b below the root).

States are numbered level by level: index = sum_{j<d} N_j + p (the authors'
`compute_state_idx`, which evaluates a closed form of that sum in float32; here it is
summed in integers: the same indices at depth 4, branching 6 and every overlap, checked
once). The agent observes the state (the authors: (depth, position, offset), a table row
per state).

Rewards: deterministic per (state, action), r = ((index + 9973 a + offset) mod R) -
floor((R - 1) / 2): R = 5 values {-2, ..., 2} (the authors' `number_different_rewards`
5, `negative_rewards`, `action_dependent_reward` with their prime 9973; as 9973 = 3 mod 5,
the six actions of a state give every value once and one of them twice), and `offset`
drawn once per env seed as the authors draw it, jax.random.randint(PRNGKey(seed), (), 0,
number of states) (their sweep: seeds 100-109), with jax's threefry in its 2023
(non-partitionable) mode so that the draw is theirs. Only offset mod R matters: the env
seeds give at most R different reward tables per overlap. Every step is rewarded
(`only_reward_last_timestep` False, nothing sparsified) and the return is the undiscounted
sum of the L rewards. Reward objects (COCOA-reward's hindsight): the R values.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require

PRIME = 9973  # the authors' multiplier of the action in the reward's hash


@dataclass(frozen=True)
class Config:
    depth: int = 4
    branching: int = 6
    overlap: int = 0
    rewards: int = 5
    seed: int = 100

    def __post_init__(self):
        require(self.depth >= 1 and self.branching >= 2 and 0 <= self.overlap <= self.branching and self.rewards >= 2,
                f"the tree needs depth >= 1, branching >= 2, overlap in [0, branching] and rewards >= 2; got {self}")


def level_sizes(depth: int, branching: int, overlap: int) -> list[int]:
    """N_d, the number of positions at each level d = 0..depth-1."""
    sizes = [1]
    for _ in range(depth - 1):
        sizes.append((branching - overlap) * sizes[-1] + overlap)
    return sizes


def children(positions: np.ndarray, size_next: int, branching: int, overlap: int) -> np.ndarray:
    """[P, b]: the next level's position reached from each of `positions` by each action."""
    base = branching - overlap
    return (np.asarray(positions)[:, None] * base + np.arange(branching) - base // 2) % size_next


def authors_offset(seed: int, states: int) -> int:
    """The reward hash's offset of env seed `seed`, drawn as the authors' `Tree.reset` does
    (jax's bits of 2023: `jax_threefry_partitionable` became the default later)."""
    with jax.threefry_partitionable(False):
        return int(jax.random.randint(jax.random.PRNGKey(seed), (), 0, states))


class Tree(eqx.Module):
    depth: int = eqx.field(static=True)
    level: Int[Array, " states"]  # the level of each state
    next_state: Int[Array, "states actions"]  # a last-level state points to itself (its step ends the episode)
    objects: Int[Array, "states actions"]  # the reward value's index of each (state, action)
    reward_probs: Float[Array, "states actions objects"]  # one-hot: the rewards are deterministic
    values: Float[Array, " objects"]
    offset: Array  # the reward hash's offset (an array, so that env seeds share compiled code)

    def __init__(self, cfg: Config):
        b, sizes = cfg.branching, level_sizes(cfg.depth, cfg.branching, cfg.overlap)
        starts = np.cumsum([0] + sizes[:-1])
        index = np.arange(sum(sizes))
        level = np.repeat(np.arange(cfg.depth), sizes)
        nxt = np.repeat(index[:, None], b, 1)
        for d in range(cfg.depth - 1):
            here = starts[d] + np.arange(sizes[d])
            nxt[here] = starts[d + 1] + children(np.arange(sizes[d]), sizes[d + 1], b, cfg.overlap)
        offset = authors_offset(cfg.seed, len(index))
        objects = (index[:, None] + PRIME * np.arange(b)[None, :] + offset) % cfg.rewards
        self.depth = cfg.depth
        self.level = jnp.asarray(level, jnp.int32)
        self.next_state = jnp.asarray(nxt, jnp.int32)
        self.objects = jnp.asarray(objects, jnp.int32)
        self.reward_probs = jax.nn.one_hot(self.objects, cfg.rewards)
        self.values = jnp.arange(cfg.rewards, dtype=jnp.float32) - (cfg.rewards - 1) // 2
        self.offset = jnp.asarray(offset, jnp.int32)

    @property
    def states(self) -> int:
        return self.level.shape[0]

    @property
    def last(self) -> Array:
        """The states whose step ends the episode (the last level)."""
        return self.level == self.depth - 1

    def rollout(self, key: jax.Array, policy: Float[Array, "states actions"]):
        """One episode under `policy` (action probabilities per state): (states, actions,
        reward objects, rewards), each [depth]."""

        def body(s, k):
            a = jax.random.categorical(k, jnp.log(policy[s]))
            u = self.objects[s, a]
            return self.next_state[s, a], (s, a, u, self.values[u])

        _, out = jax.lax.scan(body, jnp.zeros((), jnp.int32), jax.random.split(key, self.depth))
        return out
