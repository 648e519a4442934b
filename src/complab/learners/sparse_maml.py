"""Sparse-MAML (von Oswald, Zhao, Kobayashi, Schug, Caccia, Zucchet, Sacramento 2021,
"Learning where to learn: gradient sparsity in meta and continual learning").

MAML (learners/maml.py) whose inner updates pass through a meta-learned binary mask,
one entry per fast parameter: the inner loop changes a weight only where its mask is
on. The mask is a step function of real mask parameters m, 1[m >= 0], whose gradient
is passed straight through (d mask / d m = 1); m is meta-learned with the model by the
outer optimiser, differentiated through the inner loop or first order (the paper's
code: first order, the mask still learning through `phi - lr * mask * grad`). As in
that code, m starts random and centred, m ~ `mask_shift` + U(-`mask_scale`,
`mask_scale`), so about half the weights adapt at first (a large shift: all on, plain
MAML, or all off).

Metrics add "mask_on", the fraction of fast parameters whose mask is on;
`mask_fraction(state)` gives it per parameter array.
"""

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require
from complab.learners import meta, optim
from complab.learners.base import AbstractLearner


class State(eqx.Module):
    model: Any
    mask: Any  # real mask parameters, shaped like the fast parameters
    opt_state: Any
    step: Array


def straight_through_step(m: Array) -> Array:
    """1[m >= 0] forward, identity gradient backward."""
    return m + jax.lax.stop_gradient((m >= 0).astype(m.dtype) - m)


class SparseMAML(AbstractLearner):
    """MAML's fields (learners/maml.py) plus the mask's initial distribution."""

    outer: optim.Config = eqx.field(static=True)
    inner: meta.Inner = eqx.field(static=True)
    loss: Callable  # loss(model, x, y) -> scalar
    fast: str = eqx.field(static=True, default=".*")
    first_order: bool = eqx.field(static=True, default=False)
    mask_scale: float = eqx.field(static=True, default=0.1)
    mask_shift: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        require(self.mask_scale >= 0, f"mask_scale must be >= 0, got {self.mask_scale}")

    def init(self, key: jax.Array, model: Any) -> State:
        fast, _ = meta.split(model, self.fast)
        leaves, tree = jax.tree.flatten(fast)
        keys = jax.random.split(key, len(leaves))
        mask = jax.tree.unflatten(tree, [self.mask_shift + jax.random.uniform(
            k, p.shape, p.dtype, -self.mask_scale, self.mask_scale) for k, p in zip(keys, leaves)])
        params = (eqx.filter(model, eqx.is_inexact_array), mask)
        return State(model=model, mask=mask, opt_state=optim.start(self.outer, params), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array), state.mask

    def adapt(self, model: Any, mask: Any, x: Array, y: Array) -> tuple[Any, Array]:
        """The model adapted to one task's support set through the mask, and the support loss before."""
        gate = jax.tree.map(straight_through_step, mask)
        return meta.adapt(self.loss, model, self.fast, x, y, self.inner, gate=gate, first_order=self.first_order)

    def adapt_state(self, state: State, x: Array, y: Array) -> Any:
        return self.adapt(state.model, state.mask, x, y)[0]

    def episode_loss(self, model: Any, mask: Any, batch: dict) -> tuple[Array, dict]:
        def task(sx, sy, qx, qy):
            adapted, before = self.adapt(model, mask, sx, sy)
            return self.loss(adapted, qx, qy), before

        query, support = meta.per_task(task, batch)
        return query.mean(), {"support_loss": support.mean()}

    def step(self, key: jax.Array, state: State, batch: dict) -> tuple[State, dict]:
        del key
        meta.check_episode(batch)
        (loss, aux), grads = eqx.filter_value_and_grad(
            lambda mm, b: self.episode_loss(*mm, b), has_aux=True)((state.model, state.mask), batch)
        (model, mask), opt_state = optim.descend(self.outer, grads, state.opt_state, self.params(state),
                                                 (state.model, state.mask))
        return State(model=model, mask=mask, opt_state=opt_state, step=state.step + 1), {"loss": loss, **aux,
                                                                                         "mask_on": _on(mask)}


def _on(mask: Any) -> Array:
    leaves = jax.tree.leaves(mask)
    return sum((m >= 0).sum() for m in leaves) / sum(m.size for m in leaves)


def mask_fraction(state: State) -> dict[str, float]:
    """The fraction of entries whose mask is on, per fast parameter array (by path)."""
    return {jax.tree_util.keystr(p): float((m >= 0).mean()) for p, m in jax.tree_util.tree_leaves_with_path(
        state.mask)}
