"""HotTopic functions (Lengler & Steger 2018, "Drift analysis and evolutionary algorithms
revisited"): strictly monotone pseudo-Boolean functions on which the (1+1) EA with mutation
rate c/n needs exponential time for c > 2.2.

For levels i = 1..L draw A_i, a uniformly random set of floor(alpha n) positions, and B_i,
a uniformly random subset of A_i of floor(beta n) positions. The level of x is the largest i
whose B_i holds at least (1 - eps)|B_i| ones (0 if none); then

    f(x) = level(x) n^2 + n |x on A_{level+1}| + |x off A_{level+1}|,

so the EA first fills the "hot" set A_{level+1}, whatever it loses elsewhere (at level L
there is no hot set and f is OneMax on top). With large c each accepted step flips about c
bits outside the hot set, mostly ones to zeros, and the zero density settles above eps:
each new B_i then starts unsatisfied and the levels are climbed one by one, in time
proportional to L (exponential in n in the construction). With small c the density falls
below eps, random B_i are satisfied already, and the level jumps.

The definition (the level is the largest satisfied index, not a prefix of satisfied ones)
and the values alpha = 0.25, beta = 0.05, eps = 0.05 follow the public simulations of
zuxu/MuOneEA-HotTopic (Lengler & Zou's (mu+1)-EA study); the papers' text was not
retrievable here.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from complab.config import require


@dataclass(frozen=True)
class Config:
    n: int = 1000
    levels: int = 100
    alpha: float = 0.25
    beta: float = 0.05
    eps: float = 0.05

    def __post_init__(self):
        require(0 < self.beta < self.alpha <= 1 and 0 < self.eps < 1,
                f"HotTopic needs 0 < beta < alpha <= 1 and 0 < eps < 1; got alpha={self.alpha}, beta={self.beta}, "
                f"eps={self.eps}")
        require(self.levels >= 1 and int(self.beta * self.n) >= 1,
                f"levels >= 1 and beta n >= 1 (each B_i holds a position); got levels={self.levels}, "
                f"beta n={self.beta * self.n:g}")


class HotTopic:
    """One draw of the sets: `hot` is A as 0/1 rows (levels + 1, n), its last row empty (no
    hot set at the top level); `guard` is B (levels, n); `need` the ones a B_i must hold."""

    def __init__(self, cfg: Config, key: jax.Array):
        n, a, b = cfg.n, int(cfg.alpha * cfg.n), int(cfg.beta * cfg.n)
        # level i's sets come from fold_in(key, i): a function with more levels extends one with fewer
        order = jax.vmap(lambda i: jax.random.permutation(jax.random.fold_in(key, i), n))(jnp.arange(cfg.levels))
        rows = jnp.arange(cfg.levels)[:, None]
        self.cfg = cfg
        self.hot = jnp.zeros((cfg.levels + 1, n), jnp.int32).at[rows, order[:, :a]].set(1)
        self.guard = jnp.zeros((cfg.levels, n), jnp.int32).at[rows, order[:, :b]].set(1)  # a uniform b-subset of A_i
        self.need = int(np.ceil((1 - cfg.eps) * b - 1e-9))

    def level(self, x) -> int:
        ok = np.flatnonzero(np.asarray(self.guard) @ np.asarray(x) >= self.need)
        return int(ok[-1]) + 1 if ok.size else 0

    def __call__(self, x) -> int:
        """f(x), exactly, in Python integers (the reference for the vectorised EA)."""
        x = np.asarray(x, np.int64)
        lv = self.level(x)
        hot = int(np.asarray(self.hot[lv]) @ x)
        return lv * self.cfg.n**2 + self.cfg.n * hot + int(x.sum()) - hot
