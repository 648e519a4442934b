"""The compositional-preferences grid world (Schug, Kobayashi, Akram, Wolczyk, Proca, von
Oswald, Pascanu, Sacramento, Steger, ICLR 2024; code smonsays/modular-hyperteacher,
metax/data/envs/preference.py and metax/data/imitation.py), read from the authors' code:

- A 7 x 7 map of two rooms joined by a corridor (`LAYOUT`: 19 free cells). Each episode
  places `objects` = 4 objects and the agent on distinct free cells, uniformly; every
  object has one of `features` = 8 feature types, drawn uniformly with replacement.
- Actions NOTHING, UP, RIGHT, DOWN, LEFT; a move into a wall stays. Stepping on an object
  picks it up (it disappears) for reward r(f) = sum_m w_m B[m, f]; NOTHING ends the
  episode, as does the time limit of `horizon` = 8 actions. Discount 0.9.
- `modules` = 8 preference modules, the rows of B ~ N(0, 1) [modules, features], drawn
  from `split_seed` (the authors draw them from the run's seed).
- A task is a combination of 1 to `max_hot` = 3 modules (8 + 28 + 56 = 92) with weights
  e ~ Exp(1) on its modules, w = e / (sum e + 1), shifted to 0.5 w + 0.5 (in (0.5, 1)),
  drawn afresh for every task sample, as the authors' continuous combinations.
- Splits of the combinations, as the paper's: "random" holds out the last
  int(0.25 x 92) = 23 of a permutation drawn from `split_seed`; "non_compositional"
  holds out every combination that uses the last module (29), which training never
  shows. Split "train" draws in-distribution combinations, "test" held-out ones.
- Targets: the optimal Q-values of all five actions, by `horizon` finite-horizon Bellman
  backups from Q = 0 over (agent cell x objects still there), NOTHING backed up as a
  self-loop, as the authors' `demonstrate`. Time is not part of the state, so late in an
  episode Q still counts rewards the time limit will cut off. A trajectory is the greedy rollout of those
  Q-values (ties to the lowest action, NOTHING first) from the start: `horizon`
  observations s_0 .. s_7 with their Q-values; `mask` keeps the steps up to and
  including the one where NOTHING is taken, as the authors' `~done`.
- The loss is theirs: 0.5 x squared error summed over the five actions, averaged over
  the unmasked steps.

Observations. The authors' observation is the 7 x 7 x 10 grid one-hot (8 feature
channels holding the objects still there, the agent, the walls). Here only the 19 free
cells' 9 varying channels are kept, plus one constant input that stands for the
constant wall map: every other input of the 490 is constant, so a first layer sees the
same information and can compute the same functions (the wall channel acts as a bias,
which the bias-free hypernetwork students need), at 172 inputs instead of 490.

Episodes for meta-learning (`episodes`): per task `shots` support and `queries` query
trajectories of the same task (same weights, fresh object placements), flattened to
points; each point's target is its five Q-values followed by its mask (so a meta
learner's loss(model, x, y) can weigh the steps: `q_loss`).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, seedless
from complab.tasks.hyperteacher import layer_combinations

LAYOUT = ("wwwwwww",
          "w  w  w",
          "w  w  w",
          "ww   ww",
          "w  w  w",
          "w  w  w",
          "wwwwwww")
MOVES = ((0, 0), (-1, 0), (0, 1), (1, 0), (0, -1))  # NOTHING, UP, RIGHT, DOWN, LEFT
ACTIONS = len(MOVES)
DISCOUNT = 0.9


@dataclass(frozen=True)
class Config:
    modules: int = 8
    features: int = 8
    objects: int = 4
    max_hot: int = 3
    split: Literal["random", "non_compositional"] = "random"
    frac_ood: float = 0.25
    horizon: int = 8
    split_seed: int = 2020  # the modules B and the random split

    def __post_init__(self):
        require(self.split in ("random", "non_compositional"),
                f"the preference grid's split is random or non_compositional, got {self.split!r}")
        require(1 <= self.objects < len(free_cells()) and self.features >= 1 and self.horizon >= 1,
                f"the preference grid needs 1 <= objects < {len(free_cells())} (its free cells), features >= 1 and "
                f"horizon >= 1; got objects={self.objects}, features={self.features}, horizon={self.horizon}")
        require(self.modules >= 2 and 1 <= self.max_hot <= self.modules and 0 < self.frac_ood < 1,
                f"the preference grid needs modules >= 2, 1 <= max_hot <= modules and 0 < frac_ood < 1; got "
                f"modules={self.modules}, max_hot={self.max_hot}, frac_ood={self.frac_ood}")


def free_cells() -> list[tuple[int, int]]:
    return [(r, c) for r, row in enumerate(LAYOUT) for c, ch in enumerate(row) if ch == " "]


def moves() -> np.ndarray:
    """[cells, actions]: the free cell each action leads to (staying at walls)."""
    cells = free_cells()
    index = {rc: i for i, rc in enumerate(cells)}
    return np.array([[index.get((r + dr, c + dc), i) for dr, dc in MOVES] for i, (r, c) in enumerate(cells)],
                    dtype=np.int32)


def split_combinations(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(in-distribution, held-out) indices into `layer_combinations` (1 .. max_hot modules, by size then
    lexicographically)."""
    combos = layer_combinations(cfg.modules, cfg.max_hot)
    if cfg.split == "non_compositional":
        held = combos[:, -1] == 1
        return np.flatnonzero(~held), np.flatnonzero(held)
    perm = np.random.default_rng(cfg.split_seed).permutation(len(combos))
    n_ood = int(len(combos) * cfg.frac_ood)
    return np.sort(perm[:-n_ood]), np.sort(perm[-n_ood:])


class PreferenceGrid(AbstractTask):
    cfg: Config  # seedless: the split seed is the array below
    split_seed: Int[Array, ""]
    basis: Float[Array, "modules features"]
    combos: Int[Array, "count modules"]
    tasks: dict[str, Int[Array, " combos"]]  # each split's combinations, padded to the number of combinations
    counts: dict[str, Int[Array, ""]]
    next_cell: Int[Array, "cells actions"]
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        self.cfg, self.split_seed = seedless(cfg), jnp.asarray(cfg.split_seed, jnp.uint32)
        self.basis = jax.random.normal(jax.random.key(cfg.split_seed), (cfg.modules, cfg.features))
        self.combos = jnp.asarray(layer_combinations(cfg.modules, cfg.max_hot))
        # padded to one length, so that both supports' tasks run through the same compiled code
        n = self.combos.shape[0]
        split = dict(zip(("train", "test"), split_combinations(cfg)))
        self.tasks = {k: jnp.asarray(np.pad(v, (0, n - len(v)))) for k, v in split.items()}
        self.counts = {k: jnp.asarray(len(v)) for k, v in split.items()}
        self.next_cell = jnp.asarray(moves())
        self.splits = ("train", "test")

    @property
    def dims(self) -> tuple[int, int]:
        return self.next_cell.shape[0] * (self.cfg.features + 1) + 1, ACTIONS

    # -- tasks and episodes -------------------------------------------------------------------------------------
    def weights(self, key: jax.Array, split: str, n: int) -> tuple[Int[Array, " n"], Float[Array, "n modules"]]:
        """n tasks of `split`: their combination index and their module weights."""
        k_task, k_w = jax.random.split(key)
        combo = self.tasks[split][jax.random.randint(k_task, (n,), 0, self.counts[split])]
        mask = self.combos[combo].astype(jnp.float32)
        e = jax.random.exponential(k_w, mask.shape) * mask
        w = e / (e.sum(-1, keepdims=True) + 1.0)
        return combo, (0.5 * w + 0.5) * mask

    def layout(self, key: jax.Array) -> tuple[Int[Array, " objects"], Int[Array, " objects"], Int[Array, ""]]:
        """One episode's object cells, object features and the agent's start cell."""
        k_cell, k_feat = jax.random.split(key)
        cells = jax.random.choice(k_cell, self.next_cell.shape[0], (self.cfg.objects + 1,), replace=False)
        return cells[:-1], jax.random.randint(k_feat, (self.cfg.objects,), 0, self.cfg.features), cells[-1]

    def rewards(self, w: Float[Array, " modules"], features: Int[Array, " objects"]) -> Float[Array, " objects"]:
        return (w @ self.basis)[features]

    def transitions(self, obj_cells: Int[Array, " objects"], rewards: Float[Array, " objects"]):
        """For every (cell, objects-left bitmask, action): the next cell, next bitmask and reward."""
        n_obj = self.cfg.objects
        at = jnp.full(self.next_cell.shape[0], -1).at[obj_cells].set(jnp.arange(n_obj))  # object at each cell
        left = jnp.arange(2 ** n_obj)
        cell2 = jnp.broadcast_to(self.next_cell[:, None, :], (self.next_cell.shape[0], 2 ** n_obj, ACTIONS))
        k = at[cell2]
        picked = (k >= 0) & ((left[None, :, None] >> jnp.maximum(k, 0)) & 1).astype(bool)
        left2 = jnp.where(picked, left[None, :, None] & ~(1 << jnp.maximum(k, 0)), left[None, :, None])
        return cell2, left2, jnp.where(picked, rewards[jnp.maximum(k, 0)], 0.0)

    def q_values(self, obj_cells, rewards) -> Float[Array, "cells masks actions"]:
        """Optimal Q by `horizon` Bellman backups from zero (NOTHING a self-loop, as the authors')."""
        cell2, left2, r = self.transitions(obj_cells, rewards)

        def backup(q, _):
            return r + DISCOUNT * q.max(-1)[cell2, left2], None

        q, _ = jax.lax.scan(backup, jnp.zeros(r.shape), None, length=self.cfg.horizon)
        return q

    def optimal_q(self, obs: Float[Array, " d"], w: Float[Array, " modules"]) -> Float[Array, " actions"]:
        """The optimal Q-values under weights `w` at the state that `obs` shows: the
        observation holds the agent's cell and every object still there with its feature,
        all that Q depends on (objects already picked up never count again). Absent
        objects' slots get reward 0, which changes no value."""
        n_cells, f = self.next_cell.shape[0], self.cfg.features
        grid = obs[:-1].reshape(n_cells, f + 1)
        present = grid[:, :f].sum(-1)
        obj_cells = jnp.argsort(-present, stable=True)[:self.cfg.objects]
        rewards = self.rewards(w, grid[obj_cells, :f].argmax(-1)) * present[obj_cells]
        return self.q_values(obj_cells, rewards)[grid[:, f].argmax(), 2 ** self.cfg.objects - 1]

    def observe(self, cell, left, obj_cells, features) -> Float[Array, " d"]:
        n_cells, f = self.next_cell.shape[0], self.cfg.features
        there = ((left >> jnp.arange(self.cfg.objects)) & 1).astype(jnp.float32)
        grid = jnp.zeros((n_cells, f + 1)).at[obj_cells, features].add(there).at[cell, f].set(1.0)
        return jnp.concatenate([grid.ravel(), jnp.ones(1)])

    def rollout(self, key: jax.Array, w: Float[Array, " modules"], policy=None,
                believed: Float[Array, " modules"] | None = None) -> dict[str, Array]:
        """One episode of task weights `w`: observations, optimal Q-values, mask, and the
        discounted return within the time limit of `policy(obs [d]) -> action scores [5]`
        (None: greedy on the optimal Q-values, the expert whose trajectories are the data;
        with `believed` weights, greedy on the optimal Q-values of those weights instead,
        e.g. a planner that ignores which task it is in). The same key gives the same
        episode (objects, features, start) for every policy."""
        obj_cells, features, start = self.layout(key)
        rewards = self.rewards(w, features)
        cell2, left2, r = self.transitions(obj_cells, rewards)
        q = self.q_values(obj_cells, rewards)
        plan = q if believed is None else self.q_values(obj_cells, self.rewards(believed, features))
        full = 2 ** self.cfg.objects - 1

        def step(carry, t):
            cell, left, done, ret = carry
            obs = self.observe(cell, left, obj_cells, features)
            target = q[cell, left]
            action = jnp.argmax(plan[cell, left] if policy is None else policy(obs))
            ret = ret + jnp.where(done, 0.0, DISCOUNT ** t * r[cell, left, action])
            nxt = (cell2[cell, left, action], left2[cell, left, action])
            out = (obs, target, (~done).astype(jnp.float32))
            stop = done | (action == 0)
            return (jnp.where(stop, cell, nxt[0]), jnp.where(stop, left, nxt[1]), stop, ret), out

        init = (start, jnp.asarray(full), jnp.asarray(False), jnp.asarray(0.0))
        (_, _, _, ret), (obs, target, mask) = jax.lax.scan(step, init, jnp.arange(self.cfg.horizon))
        return {"obs": obs, "q": target, "mask": mask, "return": ret}

    def mean_weights(self, split: str = "train", n: int = 4096) -> Float[Array, " modules"]:
        """The average weights of `split`'s tasks (Monte Carlo over a fixed key): what a
        planner that never infers the task would best assume."""
        return self.weights(jax.random.key(0), split, n)[1].mean(0)

    def trajectories(self, key: jax.Array, w: Float[Array, " modules"], n: int, policy=None) -> dict[str, Array]:
        return jax.vmap(lambda k: self.rollout(k, w, policy))(jax.random.split(key, n))

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        """`batch_size` optimal trajectories, each of its own task of `split`."""
        k_w, k_ep = jax.random.split(key)
        combo, w = self.weights(k_w, split, batch_size)
        ep = jax.vmap(lambda k, wi: self.rollout(k, wi))(jax.random.split(k_ep, batch_size), w)
        return Batch(x=ep["obs"], y=ep["q"], mask=ep["mask"], info={"combination": combo, "weights": w})

    def episodes(self, key: jax.Array, split: str, tasks: int, shots: int, queries: int) -> dict[str, Array]:
        """Per task `shots` support and `queries` query trajectories (flattened to points,
        targets [Q-values, mask]); "weights" and "combination" ride along."""
        k_w, k_ep = jax.random.split(self.stream(key, split))
        combo, w = self.weights(k_w, split, tasks)
        ep = jax.vmap(lambda k, wi: self.trajectories(k, wi, shots + queries))(jax.random.split(k_ep, tasks), w)
        x = ep["obs"].reshape(tasks, shots + queries, self.cfg.horizon, -1)
        y = jnp.concatenate([ep["q"], ep["mask"][..., None]], -1).reshape(tasks, shots + queries, self.cfg.horizon, -1)
        s = shots * self.cfg.horizon
        x, y = x.reshape(tasks, -1, x.shape[-1]), y.reshape(tasks, -1, y.shape[-1])
        return {"support_x": x[:, :s], "support_y": y[:, :s], "query_x": x[:, s:], "query_y": y[:, s:],
                "combination": combo, "weights": w}

    def loss(self, pred: Float[Array, "batch time actions"], batch: Batch) -> Float[Array, ""]:
        return (0.5 * ((pred - batch.y) ** 2).sum(-1) * batch.mask).sum() / batch.mask.sum()


def q_loss(model, x: Float[Array, "n d"], y: Float[Array, "n actions_and_mask"]) -> Float[Array, ""]:
    """The authors' masked loss on flattened points whose targets end in their mask."""
    q, mask = y[:, :-1], y[:, -1]
    return (0.5 * ((model(x) - q) ** 2).sum(-1) * mask).sum() / jnp.maximum(mask.sum(), 1.0)
