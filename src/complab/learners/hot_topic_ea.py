"""The (1+1) evolutionary algorithm with standard bit mutation at rate c/n on a HotTopic
function (tasks/hot_topic.py), many runs side by side in one jitted scan.

Each step draws the number of flipped bits K ~ Bin(n, c/n) (exactly, by its CDF, up to
K <= 26: P(K > 26) < 1e-9 per step for c <= 6, and such a step flips 26) and K distinct
positions uniformly (Floyd's algorithm), and accepts the offspring when f does not decrease. The state keeps, besides
the bit string, each level's count of ones in B_i and in A_i, so a step costs O(L K), not
O(n): the offspring's level and hot count come from those counts plus the flipped bits.
Besides the step of the optimum (`solved_at`) each run records the step it first reached
the top level (`top_at`): the end of the climb through the levels.
"""

from functools import lru_cache, partial
from math import lgamma, log, log1p

import jax
import jax.numpy as jnp
import numpy as np

from complab.config import require
from complab.tasks.hot_topic import HotTopic

KMAX = 26


@lru_cache(maxsize=64)
def flip_count_cdf(n: int, c: float) -> np.ndarray:
    """P(K <= k) for K ~ Bin(n, c/n), k = 0..KMAX."""
    p = c / n
    pmf = [np.exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * log(p) + (n - k) * log1p(-p))
           for k in range(min(KMAX, n) + 1)]
    return np.minimum(np.cumsum(pmf), 1.0)


@lru_cache(maxsize=8)
def _padded(world: HotTopic) -> tuple[jax.Array, jax.Array]:
    """A and B with a zero column for the padded positions, made once per function (by identity)."""
    return (jnp.concatenate([world.hot, jnp.zeros((world.cfg.levels + 1, 1), jnp.int32)], 1),
            jnp.concatenate([world.guard, jnp.zeros((world.cfg.levels, 1), jnp.int32)], 1))


def _positions(key, k, n):
    """A uniformly random k-subset of range(n) (Floyd), padded with n to KMAX entries."""
    draws = jax.random.uniform(key, (KMAX,))

    def pick(chosen, j):
        u = draws[j]
        top = n - k + j
        r = jnp.minimum(jnp.floor(u * (top + 1)).astype(jnp.int32), top)
        r = jnp.where(jnp.any(chosen == r), top, r)
        return chosen.at[j].set(jnp.where(j < k, r, n)), None
    return jax.lax.scan(pick, jnp.full((KMAX,), n, jnp.int32), jnp.arange(KMAX))[0]


def _level(slack):
    ok = slack >= 0
    return jnp.where(ok.any(), slack.shape[0] - jnp.argmax(ok[::-1]), 0)


def start(world: HotTopic, key: jax.Array, runs: int) -> dict:
    """Uniformly random strings and their counts."""
    return _start(world.guard, world.hot, world.need, key, runs)


@partial(jax.jit, static_argnames=("runs",))
def _start(guard, hot, need, key, runs: int) -> dict:
    n = guard.shape[1]
    x = jax.random.bernoulli(key, 0.5, (runs, n)).astype(jnp.int32)
    slack = x @ guard.T - need
    level = jax.vmap(_level)(slack).astype(jnp.int32)
    return {"x": jnp.concatenate([x, jnp.zeros((runs, 1), jnp.int32)], 1),  # a dummy bit for padded positions
            "slack": slack, "hot": x @ hot.T, "ones": x.sum(1), "level": level,
            "visited": jnp.zeros((runs, hot.shape[0]), bool).at[jnp.arange(runs), level].set(True),
            "solved_at": jnp.where(x.sum(1) == n, 0, -1).astype(jnp.int32),
            "top_at": jnp.where(level == guard.shape[0], 0, -1).astype(jnp.int32), "t": jnp.zeros(runs, jnp.int32)}


@partial(jax.jit, static_argnames=("steps",))
def _advance(hot_rows, guard_rows, state, cdf, key, steps: int):
    n = hot_rows.shape[1] - 1

    def step(s, k):
        kk, kp = jax.random.split(k)
        count = jnp.minimum(jnp.searchsorted(cdf, jax.random.uniform(kk), side="right"), KMAX)
        pos = _positions(kp, count, n)
        sign = jnp.where(pos < n, 1 - 2 * s["x"][pos], 0)
        slack, hot = s["slack"] + guard_rows[:, pos] @ sign, s["hot"] + hot_rows[:, pos] @ sign
        ones = s["ones"] + sign.sum()
        level = _level(slack)
        new = (level, hot[level], ones - hot[level])
        old = (s["level"], s["hot"][s["level"]], s["ones"] - s["hot"][s["level"]])
        better = (new[0] > old[0]) | ((new[0] == old[0]) & (
            (new[1] > old[1]) | ((new[1] == old[1]) & (new[2] >= old[2]))))  # f(y) >= f(x), lexicographically
        take = better & (s["solved_at"] < 0)
        t = s["t"] + 1
        return {"x": s["x"].at[pos].set(jnp.where(take, s["x"][pos] + sign, s["x"][pos])),
                "slack": jnp.where(take, slack, s["slack"]), "hot": jnp.where(take, hot, s["hot"]),
                "ones": jnp.where(take, ones, s["ones"]), "level": jnp.where(take, level, s["level"]),
                "visited": s["visited"].at[jnp.where(take, level, s["level"])].set(True),
                "solved_at": jnp.where((s["solved_at"] < 0) & take & (ones == n), t, s["solved_at"]),
                "top_at": jnp.where((s["top_at"] < 0) & take & (level == guard_rows.shape[0]), t, s["top_at"]),
                "t": t}, None

    def one(s, k):
        return jax.lax.scan(step, s, jax.random.split(k, steps))[0]

    return jax.vmap(one)(state, jax.random.split(key, state["t"].shape[0]))


def advance(world: HotTopic, state: dict, c: float, key: jax.Array, steps: int) -> dict:
    """`steps` more steps of every run (finished runs stay put)."""
    require(0 < c <= 6, f"the mutation constant c must be in (0, 6] (flip counts are drawn up to {KMAX}); got {c}")
    hot, guard = _padded(world)
    return _advance(hot, guard, state, jnp.asarray(flip_count_cdf(world.cfg.n, c)), key, steps)
