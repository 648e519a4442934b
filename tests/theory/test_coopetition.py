"""The coopetition toy model computes the authors' loss, vanishes at the target, and its
descent records the loss before each step."""

import itertools

import jax
import numpy as np

from complab.theory import coopetition


def _direct(cfg, p, t):
    """The loss with explicit loops over the tensors' entries (small dims)."""
    def fit(k):
        err = [(t[k][i] * t["b"][j] * t["c"][m] - p[k][i] * p["b"][j] * p["c"][m]) ** 2
               for i, j, m in itertools.product(range(len(p[k])), range(len(p["b"])), range(len(p["c"])))]
        return 0.5 * np.mean(err)

    cost = 0.5 * np.mean([(a * d) ** 2 for a in p["a"] for d in p["d"]])
    return (fit("a") + cfg.mu1) * (fit("d") + cfg.mu2) + cfg.alpha * cost


def test_the_loss_is_the_authors_formula_and_vanishes_at_the_target_but_for_the_cost():
    cfg = coopetition.Config(dims=(3, 2, 4, 5), mu1=0.1, mu2=0.05, alpha=0.3)
    target, start = coopetition.problem(cfg, jax.random.key(0))
    t, p = ({k: np.asarray(v, np.float64) for k, v in d.items()} for d in (target, start))
    assert np.isclose(float(coopetition.loss(cfg, start, target)), _direct(cfg, p, t), rtol=1e-5)
    at = coopetition.parts(target, target)
    assert float(at["mechanism1"]) == float(at["mechanism2"]) == 0.0 and float(at["cost"]) > 0


def test_the_descent_records_the_loss_before_each_step_and_follows_the_gradient():
    cfg = coopetition.Config(dims=(3, 2, 4, 5), steps=50, lr=0.2)
    trace = coopetition.descend(cfg, jax.random.key(1))
    target, start = coopetition.problem(cfg, jax.random.key(1))
    assert trace["loss"].shape == (50,) and np.isclose(trace["loss"][0], coopetition.loss(cfg, start, target))
    grad = jax.grad(coopetition.loss, argnums=1)(cfg, start, target)
    after = jax.tree.map(lambda w, g: w - cfg.lr * g, start, grad)
    assert np.isclose(trace["loss"][1], coopetition.loss(cfg, after, target), rtol=1e-6)
    assert trace["loss"][-1] < trace["loss"][0]
