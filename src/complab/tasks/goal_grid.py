"""The compositional-goals grid world (Schug, Kobayashi, Akram, Wolczyk, Proca, von Oswald,
Pascanu, Sacramento, Steger, ICLR 2024; code smonsays/modular-hyperteacher,
metax/data/envs/grid.py), read from the authors' code:

- An `size` x `size` = 11 x 11 grid, cell index row * size + col, in one of `mazes` = 5
  mazes. Maze i is the authors' "random maze" (after mazelab) drawn by
  `np.random.default_rng(maze_seed + i)`: a (size + 2)-square grid with a wall border,
  `density` = int(0.75 ((size + 2) // 2)^2) = 27 random walks of wall from even points,
  each up to `complexity` = int(0.75 x 5 x 2 (size + 2)) = 97 steps two cells at a time
  into cells not yet wall (`random_maze`), then the border cropped off.
- Actions UP, RIGHT, DOWN, LEFT (a move into a wall or off the grid stays) and
  `interactions` = 2 interactions: 4 + 2 = 6 actions.
- A task is (direction, interaction, maze, object), enumerated as itertools.product in that
  order: 4 x 2 x 5 x 5 = 200 tasks. The direction is the quadrant the goal lies in: rows
  and columns split at size // 2 + 1 (0: top left, 1: top right, 2: bottom left, 3:
  bottom right; the top and left halves take the middle row and column).
- An episode, all drawn afresh: the goal object (of the task's object type) on a uniform
  free cell of the task's quadrant of the task's maze; the agent's start uniform over the
  free cells at least `size` steps from the goal (shortest path); `distractors` = 4
  distractor objects, their types uniform with replacement over the other object types,
  on distinct free cells drawn uniformly. The authors draw the distractors' cells
  independently of the goal and the start, so a distractor may hide the goal; here they
  are drawn among the free cells other than the goal's and the start's (a deliberate fix).
- Reward 1 only for the task's interaction (action 4 + interaction) on the goal's cell,
  which ends the episode.
- Observation: the size x size x (objects + 2) one-hot grid flattened (row, column,
  channel) to 847 inputs: channels 0 .. objects - 1 the type of the object on each object
  cell (goal and distractors alike: nothing marks the goal), then the walls, then the agent.
- Demonstrations (behaviour cloning; the model is never rolled out): `horizon` = 120
  steps of the optimal actions, the shortest path from the start to the goal and then
  the interaction, repeated. x_t is the observation before action t (the agent stays on
  the goal once there), the target its action one-hot, and the mask keeps the moves and
  the first interaction (the episode is done after it). Among equal shortest paths the
  path is the one the authors' scipy Dijkstra predecessors give: walking back from the
  goal, each cell's predecessor is the neighbour with the largest cell index among those
  one step closer to the start. That path lies in the start's own shortest-path tree (from
  the next cell on, the tie rule could pick another path), so the tables kept are per maze
  the all-pairs distances and predecessors [mazes, start, cell], and a demonstration walks
  back from the goal in the start's tree (a lookup scan).
- Splits of the 200 tasks, as the paper's: "random" holds out the last int(0.25 x 200) =
  50 of a permutation drawn from `split_seed` (as the preference grid's, NumPy's
  generator) and refuses a seed whose training tasks miss a value of some factor (as the
  authors assert); "non_compositional" holds out every task of the last direction (50),
  which training never shows. Split "train" draws in-distribution tasks, "test" held-out
  ones; each draw is uniform over the split's tasks.
- The loss is the masked softmax cross-entropy over the actions, averaged over the
  unmasked steps; the metric adds the masked accuracy of the argmax action.

Refused mazes: the task checks (with the seed's mazes, when it is built) that every maze
is connected, that every free cell of every quadrant has a start at least `size` away
(the authors would sample the start from an all-zero distribution), that there are free
cells for the distractors, and that every demonstration reaches its goal and interacts
within `horizon` steps. The maze algorithm grows walls as trees that never close a loop,
so its mazes are always connected; the check guards other sizes and future changes.

Both seeds are data: the task keeps its config with `split_seed` and `maze_seed` 0 and the
seeds as arrays, so runs that differ only in their seeds share compiled programs (the
authors draw the mazes from the run's seed).

Episodes for meta-learning (`episodes`): per task `shots` support and `queries` query
demonstrations of the same task (fresh layouts), flattened to points; each point's target
is its action one-hot followed by its mask, as the preference grid packs [targets, mask]
(`ce_loss` and `accuracy` read them). The authors use one support and one query episode.
"""

import dataclasses
import functools
import itertools
from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean, one_hot_cross_entropy, seedless

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # UP, RIGHT, DOWN, LEFT as (row, col) steps
DIRECTIONS = 4  # the goal's quadrant
FACTORS = ("direction", "interaction", "maze", "object")


@dataclass(frozen=True)
class Config:
    size: int = 11
    mazes: int = 5
    objects: int = 5
    interactions: int = 2
    distractors: int = 4
    horizon: int = 120
    split: Literal["random", "non_compositional"] = "random"
    frac_ood: float = 0.25
    maze_seed: int = 2020  # maze i from maze_seed + i
    split_seed: int = 2020  # the random split

    def __post_init__(self):
        require(self.split in ("random", "non_compositional"),
                f"the goal grid's split is random or non_compositional, got {self.split!r}")
        require(self.size >= 7 and self.size % 2 == 1,
                f"the goal grid's mazes need an odd size >= 7, got size={self.size}")
        require(self.mazes >= 1 and self.objects >= 2 and self.interactions >= 1 and self.distractors >= 0,
                f"the goal grid needs mazes >= 1, objects >= 2 (distractors take the other types), "
                f"interactions >= 1 and distractors >= 0; got mazes={self.mazes}, objects={self.objects}, "
                f"interactions={self.interactions}, distractors={self.distractors}")
        require(self.horizon >= 1 and 0 < self.frac_ood < 1,
                f"the goal grid needs horizon >= 1 and 0 < frac_ood < 1; got horizon={self.horizon}, "
                f"frac_ood={self.frac_ood}")


# -- mazes and their shortest paths (NumPy, at construction) -----------------------------------------------------
def random_maze(size: int, seed: int) -> np.ndarray:
    """[size, size] bool, True = wall: the authors' random maze (mazelab's algorithm)."""
    n = size + 2
    rng = np.random.default_rng(seed)
    complexity, density = int(0.75 * (5 * (n + n))), int(0.75 * ((n // 2) * (n // 2)))
    grid = np.zeros((n, n), dtype=bool)
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = True
    for _ in range(density):
        x = rng.integers(0, n // 2 + 1) * 2
        y = rng.integers(0, n // 2 + 1) * 2
        grid[y, x] = True
        for _ in range(complexity):
            near = []
            if x > 1:
                near.append((y, x - 2))
            if x < n - 2:
                near.append((y, x + 2))
            if y > 1:
                near.append((y - 2, x))
            if y < n - 2:
                near.append((y + 2, x))
            if near:
                y2, x2 = near[rng.integers(0, len(near))]
                if not grid[y2, x2]:
                    grid[y2, x2] = True
                    grid[y + (y2 - y) // 2, x + (x2 - x) // 2] = True
                    x, y = x2, y2
    return grid[1:-1, 1:-1]


def neighbours(walls: np.ndarray) -> np.ndarray:
    """[cells, 4]: the free cell each move reaches from each cell, -1 into a wall or off the grid."""
    size = walls.shape[0]
    out = np.full((size * size, len(MOVES)), -1, dtype=np.int32)
    for r, c, (a, (dr, dc)) in itertools.product(range(size), range(size), enumerate(MOVES)):
        if 0 <= r + dr < size and 0 <= c + dc < size and not walls[r + dr, c + dc]:
            out[r * size + c, a] = (r + dr) * size + c + dc
    return out


def shortest_paths(walls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs step distances [cells, cells] (cells, i.e. more than any path, where
    unreachable or a wall) and predecessors [start, cell]: the neighbour of the cell one step
    closer to the start with the largest index (the start, walls and unreachable cells their own)."""
    cells = walls.size
    near = neighbours(walls)
    free = ~walls.ravel()
    dist = np.full((cells, cells), cells, dtype=np.int32)
    rows, moves = np.nonzero((near >= 0) & free[:, None])
    dist[rows, near[rows, moves]] = 1
    dist[np.flatnonzero(free), np.flatnonzero(free)] = 0
    for k in range(cells):  # Floyd-Warshall
        np.minimum(dist, dist[:, k:k + 1] + dist[k:k + 1, :], out=dist)
    dist = np.minimum(dist, cells)
    to = np.maximum(near, 0)
    closer = (near >= 0)[None] & (dist[:, to] == dist[:, :, None] - 1) & (dist[:, :, None] < cells)
    best = np.where(closer, near[None], -1).max(-1)
    pred = np.where(best >= 0, best, np.arange(cells)[None, :]).astype(np.int32)
    return dist, pred


def quadrants(size: int) -> np.ndarray:
    """[4, cells] bool: the cells of each direction's quadrant."""
    top = np.arange(size) < size // 2 + 1
    halves = (top, ~top)
    return np.stack([(halves[d // 2][:, None] & halves[d % 2][None, :]).ravel() for d in range(DIRECTIONS)])


def check_mazes(cfg: Config, walls: np.ndarray, dist: np.ndarray) -> None:
    """Refuse mazes ([mazes, size, size], distances [mazes, cells, cells]) the episodes cannot use."""
    cells = cfg.size * cfg.size
    quads = quadrants(cfg.size)
    for i, (w, d) in enumerate(zip(walls, dist)):
        free = ~w.ravel()
        where = f"maze {i} of maze_seed {cfg.maze_seed} (seed {cfg.maze_seed + i})"
        require((d[np.ix_(free, free)] < cells).all(), f"{where} is not connected; choose another maze_seed")
        require(free.sum() >= cfg.distractors + 2,
                f"{where} has {free.sum()} free cells, fewer than the goal, the agent and {cfg.distractors} "
                f"distractors")
        far = ((d >= cfg.size) & (d < cells) & free[None, :]).any(1)
        for q in range(DIRECTIONS):
            goals = free & quads[q]
            require(goals.any() and far[goals].all(),
                    f"{where}: quadrant {q} has no free cell or a free cell with no start {cfg.size} or more "
                    f"steps away; choose another maze_seed")
        longest = d[np.ix_(free, free)].max()
        require(longest < cfg.horizon,
                f"{where} has paths of {longest} steps; horizon={cfg.horizon} must exceed them so that every "
                f"demonstration reaches its goal and interacts")


@functools.cache
def maze_tables(size: int, mazes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """walls [mazes, size, size], distances and predecessors [mazes, cells, cells] (read-only)."""
    walls = np.stack([random_maze(size, seed + i) for i in range(mazes)])
    dist, pred = (np.stack(t) for t in zip(*[shortest_paths(w) for w in walls]))
    for a in (walls, dist, pred):
        a.setflags(write=False)
    return walls, dist, pred


# -- tasks and splits -----------------------------------------------------------------------------------------------
def task_factors(cfg: Config) -> np.ndarray:
    """[tasks, 4]: (direction, interaction, maze, object) of every task, in itertools.product order."""
    return np.array(list(itertools.product(range(DIRECTIONS), range(cfg.interactions), range(cfg.mazes),
                                           range(cfg.objects))), dtype=np.int32)


def split_tasks(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(in-distribution, held-out) task indices, sorted."""
    factors = task_factors(cfg)
    if cfg.split == "non_compositional":
        held = factors[:, 0] == DIRECTIONS - 1
        return np.flatnonzero(~held), np.flatnonzero(held)
    perm = np.random.default_rng(cfg.split_seed).permutation(len(factors))
    n_ood = int(len(factors) * cfg.frac_ood)
    require(n_ood >= 1, f"frac_ood={cfg.frac_ood} holds out none of the goal grid's {len(factors)} tasks")
    train, test = np.sort(perm[:-n_ood]), np.sort(perm[-n_ood:])
    counts = (DIRECTIONS, cfg.interactions, cfg.mazes, cfg.objects)
    for f, (name, count) in enumerate(zip(FACTORS, counts)):
        require(len(np.unique(factors[train, f])) == count,
                f"the goal grid's random split of split_seed {cfg.split_seed} trains on no task of some {name}; "
                f"choose another split_seed")
    return train, test


class GoalGrid(AbstractTask):
    cfg: Config  # both seeds 0: they are the arrays below
    split_seed: Int[Array, ""]
    maze_seed: Int[Array, ""]
    walls: Bool[Array, "mazes cells"]
    dist: Int[Array, "mazes cells cells"]
    pred: Int[Array, "mazes start cells"]
    quadrants: Bool[Array, "4 cells"]
    factors: Int[Array, "tasks 4"]
    tasks: dict[str, Int[Array, " tasks"]]  # each split's tasks, padded to the number of tasks
    counts: dict[str, Int[Array, ""]]
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        walls, dist, pred = maze_tables(cfg.size, cfg.mazes, cfg.maze_seed)
        check_mazes(cfg, walls, dist)
        split = dict(zip(("train", "test"), split_tasks(cfg)))
        self.cfg = dataclasses.replace(seedless(cfg), maze_seed=0)
        self.split_seed, self.maze_seed = (jnp.asarray(s, jnp.uint32) for s in (cfg.split_seed, cfg.maze_seed))
        self.walls = jnp.asarray(walls.reshape(cfg.mazes, -1))
        self.dist, self.pred = jnp.asarray(dist), jnp.asarray(pred)
        self.quadrants = jnp.asarray(quadrants(cfg.size))
        self.factors = jnp.asarray(task_factors(cfg))
        # padded to one length, so that both splits' tasks run through the same compiled code
        n = self.factors.shape[0]
        self.tasks = {k: jnp.asarray(np.pad(v, (0, n - len(v)))) for k, v in split.items()}
        self.counts = {k: jnp.asarray(len(v)) for k, v in split.items()}
        self.splits = ("train", "test")

    @property
    def actions(self) -> int:
        return len(MOVES) + self.cfg.interactions

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.size * self.cfg.size * (self.cfg.objects + 2), self.actions

    # -- tasks and episodes -------------------------------------------------------------------------------------
    def draw(self, key: jax.Array, split: str, n: int) -> Int[Array, " n"]:
        """n task indices of `split`, uniformly."""
        return self.tasks[split][jax.random.randint(key, (n,), 0, self.counts[split])]

    def layout(self, key: jax.Array, task: Int[Array, ""]) -> dict[str, Array]:
        """One episode's goal cell, start cell, distractor cells and distractor types."""
        k_goal, k_start, k_cells, k_types = jax.random.split(key, 4)
        direction, _, maze, obj = self.factors[task]
        cells = self.walls.shape[1]
        index, free = jnp.arange(cells), ~self.walls[maze]
        goal = jax.random.choice(k_goal, cells, p=(free & self.quadrants[direction]).astype(jnp.float32))
        d = self.dist[maze, goal]
        start = jax.random.choice(k_start, cells, p=(free & (d >= self.cfg.size) & (d < cells)).astype(jnp.float32))
        others = (free & (index != goal) & (index != start)).astype(jnp.float32)
        spots = jax.random.choice(k_cells, cells, (self.cfg.distractors,), replace=False, p=others)
        kinds = jax.random.randint(k_types, (self.cfg.distractors,), 0, self.cfg.objects - 1)
        return {"goal": goal, "start": start, "distractor_cells": spots,
                "distractor_types": kinds + (kinds >= obj)}  # the types other than the goal's

    def demonstrate(self, key: jax.Array, task: Int[Array, ""]) -> dict[str, Array]:
        """One optimal demonstration of `task`: observations [horizon, d], actions, mask, the
        agent's cell at each step, and the layout."""
        size, n_obj, horizon = self.cfg.size, self.cfg.objects, self.cfg.horizon
        _, interaction, maze, obj = self.factors[task]
        lay = self.layout(key, task)
        goal, start = lay["goal"], lay["start"]
        tree = self.pred[maze, start]

        def back(cell, _):
            return tree[cell], cell

        _, behind = jax.lax.scan(back, goal, None, length=horizon)  # behind[k]: k steps back from the goal
        steps = self.dist[maze, start, goal]  # < horizon (checked)
        t = jnp.arange(horizon)
        cell = behind[jnp.maximum(steps - t, 0)]
        nxt = behind[jnp.maximum(steps - t - 1, 0)]
        dr, dc = nxt // size - cell // size, nxt % size - cell % size
        move = jnp.where(dr < 0, 0, jnp.where(dc > 0, 1, jnp.where(dr > 0, 2, 3)))
        action = jnp.where(t < steps, move, len(MOVES) + interaction)
        mask = (t <= steps).astype(jnp.float32)
        cells = self.walls.shape[1]
        board = (jnp.zeros((cells, n_obj + 2))
                 .at[jnp.concatenate([goal[None], lay["distractor_cells"]]),
                     jnp.concatenate([obj[None], lay["distractor_types"]])].set(1.0)
                 .at[:, n_obj].set(self.walls[maze].astype(jnp.float32)))
        obs = jnp.broadcast_to(board, (horizon, *board.shape)).at[t, cell, n_obj + 1].set(1.0)
        return {"obs": obs.reshape(horizon, -1), "action": action, "mask": mask, "cell": cell, **lay}

    def demonstrations(self, key: jax.Array, task: Int[Array, ""], n: int) -> dict[str, Array]:
        return jax.vmap(lambda k: self.demonstrate(k, task))(jax.random.split(key, n))

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        """`batch_size` demonstrations, each of its own task of `split`; targets are action one-hots."""
        k_task, k_ep = jax.random.split(key)
        task = self.draw(k_task, split, batch_size)
        ep = jax.vmap(self.demonstrate)(jax.random.split(k_ep, batch_size), task)
        return Batch(x=ep["obs"], y=jax.nn.one_hot(ep["action"], self.actions), mask=ep["mask"],
                     info={"task": task, "factors": self.factors[task]})

    def episodes(self, key: jax.Array, split: str, tasks: int, shots: int, queries: int) -> dict[str, Array]:
        """Per task `shots` support and `queries` query demonstrations (flattened to points,
        targets [action one-hot, mask]); "task" and its "factors" ride along."""
        k_task, k_ep = jax.random.split(self.stream(key, split))
        task = self.draw(k_task, split, tasks)
        ep = jax.vmap(lambda k, i: self.demonstrations(k, i, shots + queries))(jax.random.split(k_ep, tasks), task)
        x = ep["obs"].reshape(tasks, (shots + queries) * self.cfg.horizon, -1)
        y = jnp.concatenate([jax.nn.one_hot(ep["action"], self.actions), ep["mask"][..., None]], -1)
        y = y.reshape(tasks, (shots + queries) * self.cfg.horizon, -1)
        s = shots * self.cfg.horizon
        return {"support_x": x[:, :s], "support_y": y[:, :s], "query_x": x[:, s:], "query_y": y[:, s:],
                "task": task, "factors": self.factors[task]}

    def loss(self, pred: Float[Array, "batch time actions"], batch: Batch) -> Float[Array, ""]:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Float[Array, "batch time actions"], batch: Batch) -> dict[str, Array]:
        hit = (pred.argmax(-1) == batch.y.argmax(-1)).astype(jnp.float32)
        return {"loss": self.loss(pred, batch), "accuracy": masked_mean(hit, batch.mask)}


def ce_loss(model, x: Float[Array, "n d"], y: Float[Array, "n actions_and_mask"]) -> Float[Array, ""]:
    """Masked mean softmax cross-entropy on flattened points whose targets end in their mask."""
    target, mask = y[:, :-1], y[:, -1]
    return (-(jax.nn.log_softmax(model(x)) * target).sum(-1) * mask).sum() / jnp.maximum(mask.sum(), 1.0)


def accuracy(model, x: Float[Array, "n d"], y: Float[Array, "n actions_and_mask"]) -> Float[Array, ""]:
    """Masked accuracy of the argmax action on flattened points whose targets end in their mask."""
    target, mask = y[:, :-1], y[:, -1]
    hit = (model(x).argmax(-1) == target.argmax(-1)).astype(jnp.float32)
    return (hit * mask).sum() / jnp.maximum(mask.sum(), 1.0)
