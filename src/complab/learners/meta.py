"""The pieces every meta-learner shares: episodes, the split of a model into fast and
slow parameters, and a differentiable inner loop.

An episode batch is a dict of arrays with a leading task axis: "support_x" [tasks, n,
d], "support_y", "query_x", "query_y" (as `Hyperteacher.episodes` and the few-shot
samplers make them; other keys ride along). A student maps a set of inputs [n, d] to
outputs [n, out]; a loss is `loss(model, x, y) -> scalar`, the mean over the set.

Fast parameters are those the inner loop adapts, named by a regular expression
searched in each parameter's path (`jax.tree_util.keystr`, e.g. ".readout.weight",
".embedding"), as learning-rate groups are named (learners/optim.py): ".*" adapts
every parameter (MAML, learned initialisation), r"\\.readout" the readout only (ANIL),
r"\\.embedding" a hypernetwork student's task embedding (Schug et al. ICLR 2024). The
slow parameters stay at their meta-learned values inside an episode; the fast ones
start from theirs.

The inner optimiser (`Inner`) is written out here so that gradients flow through it:
SGD, or Adam with its epsilon inside the square root (the square root of a zero
second moment has no derivative) and optional decoupled weight decay (AdamW). Its
steps run in a `lax.scan`, so differentiating through them stores every step (the
memory of second-order MAML grows with the number of steps). `first_order` stops the
gradient of each update: d(adapted)/d(initial) = I, first-order MAML. A `gate` multiplies
each update after that stop, so sparse-MAML's mask gets a gradient even first order.
"""

import re
from dataclasses import dataclass
from typing import Any, Callable, Literal

import equinox as eqx
import jax
import jax.numpy as jnp

from complab.config import require
from complab.errors import ConfigError

EPISODE_KEYS = ("support_x", "support_y", "query_x", "query_y")


@dataclass(frozen=True)
class Inner:
    kind: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.01
    steps: int = 10
    weight_decay: float = 0.0  # decoupled, on the fast parameters (Adam + decay = AdamW)
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        require(self.kind in ("sgd", "adam"), f"the inner optimiser is sgd or adam, got {self.kind!r}")
        require(self.lr > 0 and self.steps >= 0 and self.weight_decay >= 0,
                f"the inner loop needs lr > 0, steps >= 0 and weight_decay >= 0; got lr={self.lr}, "
                f"steps={self.steps}, weight_decay={self.weight_decay}")
        require(0 <= self.b1 < 1 and 0 <= self.b2 < 1 and self.eps > 0,
                f"inner Adam needs b1, b2 in [0, 1) and eps > 0; got {self.b1}, {self.b2}, {self.eps}")


def fast_spec(model: Any, fast: str) -> Any:
    """A pytree of bools over `model`: True at the inexact arrays whose path matches `fast`."""

    def pick(path, leaf):
        return eqx.is_inexact_array(leaf) and re.search(fast, jax.tree_util.keystr(path)) is not None

    spec = jax.tree_util.tree_map_with_path(pick, model)
    if not any(jax.tree.leaves(spec)):
        names = [jax.tree_util.keystr(p) for p, v in jax.tree_util.tree_leaves_with_path(model)
                 if eqx.is_inexact_array(v)]
        raise ConfigError(f"the fast-parameter pattern {fast!r} matches no parameter of {type(model).__name__}; "
                          f"its parameters are: {', '.join(names)}")
    return spec


def split(model: Any, fast: str) -> tuple[Any, Any]:
    """(fast, slow) halves of `model` (eqx.partition); `eqx.combine` joins them."""
    return eqx.partition(model, fast_spec(model, fast))


def check_episode(batch: Any) -> None:
    if not isinstance(batch, dict) or any(k not in batch for k in EPISODE_KEYS):
        have = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ConfigError(f"a meta-learner trains on episodes, dicts with {', '.join(EPISODE_KEYS)}; got {have}")


def tree_dot(a: Any, b: Any) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def sq_norm(tree: Any) -> jax.Array:
    return tree_dot(tree, tree)


def cosine(a: Any, b: Any) -> jax.Array:
    """cos between two pytrees of the same structure (flattened)."""
    return tree_dot(a, b) / jnp.sqrt(sq_norm(a) * sq_norm(b) + 1e-30)


def descend(objective: Callable[[Any], jax.Array], fast: Any, inner: Inner, gate: Any = None,
            first_order: bool = False) -> tuple[Any, jax.Array]:
    """`inner.steps` optimiser steps on `objective(fast)` from `fast`; returns the result and
    the objective before the first step. `gate` (a pytree like `fast`, or None) multiplies
    each update elementwise (sparse-MAML's mask)."""
    zeros = jax.tree.map(jnp.zeros_like, fast)

    def step(carry, t):
        params, m, v = carry
        value, g = jax.value_and_grad(objective)(params)
        if inner.kind == "sgd":
            update = jax.tree.map(lambda gi: -inner.lr * gi, g)
        else:
            m = jax.tree.map(lambda mi, gi: inner.b1 * mi + (1 - inner.b1) * gi, m, g)
            v = jax.tree.map(lambda vi, gi: inner.b2 * vi + (1 - inner.b2) * gi * gi, v, g)
            c1, c2 = 1 - inner.b1 ** (t + 1.0), 1 - inner.b2 ** (t + 1.0)
            update = jax.tree.map(lambda mi, vi: -inner.lr * (mi / c1) / jnp.sqrt(vi / c2 + inner.eps ** 2), m, v)
        if inner.weight_decay:
            update = jax.tree.map(lambda u, p: u - inner.lr * inner.weight_decay * p, update, params)
        update = jax.tree.map(lambda u, p: u.astype(p.dtype), update, params)
        if first_order:
            update = jax.lax.stop_gradient(update)
        if gate is not None:  # after the stop: a first-order gate still learns through phi + gate * update
            update = jax.tree.map(lambda u, gt: u * gt, update, gate)
        return (jax.tree.map(jnp.add, params, update), m, v), value

    (out, _, _), values = jax.lax.scan(step, (fast, zeros, zeros), jnp.arange(inner.steps, dtype=jnp.float32))
    first = values[0] if inner.steps else objective(fast)
    return out, first


def adapt(loss: Callable, model: Any, fast: str, x: jax.Array, y: jax.Array, inner: Inner, gate: Any = None,
          first_order: bool = False, learn_init: bool = True) -> tuple[Any, jax.Array]:
    """The model after the inner loop on (x, y) (only its fast parameters move), and the
    support loss before adaptation. `learn_init=False` stops the gradient at the fast
    parameters' starting values: every task starts from the same fixed point, which the
    outer loop does not learn."""
    f, slow = split(model, fast)
    if not learn_init:
        f = jax.lax.stop_gradient(f)
    out, before = descend(lambda p: loss(eqx.combine(p, slow), x, y), f, inner, gate, first_order)
    return eqx.combine(out, slow), before


def per_task(fn: Callable, batch: dict) -> Any:
    """`fn(support_x, support_y, query_x, query_y)` mapped over the tasks of an episode batch."""
    return jax.vmap(fn)(*(batch[k] for k in EPISODE_KEYS))
