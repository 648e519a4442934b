"""The toy model of strategy coopetition (Singh, Moskovitz, Dragutinovic, Hill, Chan,
Saxe 2025, arXiv 2503.05631; the authors' `coopetition_model_solver.py`).

Two mechanisms share the vectors b and c: mechanism 1 (in-context learning) is the
rank-one tensor a (x) b (x) c fitting a* (x) b* (x) c*, mechanism 2 (context-constrained
in-weights learning) is d (x) b (x) c fitting d* (x) b* (x) c*, and using both costs a (x) d:

    L1 = 1/2 mean((a* (x) b* (x) c* - a (x) b (x) c)^2),   L2 likewise with d,
    cost = 1/2 mean((a (x) d)^2),
    loss = (L1 + mu1) (L2 + mu2) + alpha cost,

means over every entry of the tensors, as the authors aggregate (`jnp.mean`). With
mu1 > 0 the first mechanism alone cannot drive the loss to zero; the second can. The
first (smaller, a in R^20 against d in R^160) is learned first through b and c,
which then speed up the second; once it is learned, the cost removes the first:
its loss rises while the total keeps falling. The authors' setting: a, b, c in
R^20, d in R^160, targets and starting points N(0, 1), mu1 = 0.1, mu2 = 0,
alpha = 0.1, plain gradient descent at rate 1 for 16,000 steps.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require

NAMES = "abcd"


@dataclass(frozen=True)
class Config:
    dims: tuple[int, int, int, int] = (20, 20, 20, 160)  # a, b, c, d
    mu1: float = 0.1
    mu2: float = 0.0
    alpha: float = 0.1
    lr: float = 1.0
    steps: int = 16_000

    def __post_init__(self):
        require(len(self.dims) == 4 and min(self.dims) >= 1 and self.lr > 0 and self.steps >= 1
                and min(self.mu1, self.mu2, self.alpha) >= 0,
                f"the toy model needs four dims >= 1, lr > 0, steps >= 1 and mu1, mu2, alpha >= 0; got {self}")


def _outer(*vecs: Array) -> Array:
    letters = NAMES[:len(vecs)]
    return jnp.einsum(",".join(letters) + "->" + letters, *vecs)


def parts(params: dict, target: dict) -> dict[str, Array]:
    """Mechanism 1's loss, mechanism 2's loss and the cost."""
    def fit(k):
        return 0.5 * jnp.mean((_outer(target[k], target["b"], target["c"]) - _outer(params[k], params["b"],
                                                                                  params["c"])) ** 2)

    return {"mechanism1": fit("a"), "mechanism2": fit("d"), "cost": 0.5 * jnp.mean(_outer(params["a"],
                                                                                         params["d"]) ** 2)}


def loss(cfg: Config, params: dict, target: dict) -> Array:
    p = parts(params, target)
    return (p["mechanism1"] + cfg.mu1) * (p["mechanism2"] + cfg.mu2) + cfg.alpha * p["cost"]


def problem(cfg: Config, key: Array) -> tuple[dict, dict]:
    """Targets and starting points, each N(0, 1)."""
    keys = jax.random.split(key, 2 * len(NAMES))
    target = {n: jax.random.normal(keys[2 * i], (d,)) for i, (n, d) in enumerate(zip(NAMES, cfg.dims))}
    start = {n: jax.random.normal(keys[2 * i + 1], (d,)) for i, (n, d) in enumerate(zip(NAMES, cfg.dims))}
    return target, start


def descend(cfg: Config, key: Array) -> dict[str, Array]:
    """Gradient descent from `problem(cfg, key)`: the loss and its parts before each step ([steps] each)."""
    target, params = problem(cfg, key)

    def step(p, _):
        value, grad = jax.value_and_grad(loss, argnums=1)(cfg, p, target)
        return jax.tree.map(lambda w, g: w - cfg.lr * g, p, grad), {"loss": value, **parts(p, target)}

    return jax.lax.scan(step, params, None, length=cfg.steps)[1]
