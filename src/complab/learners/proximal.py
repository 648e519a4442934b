"""Meta-learning on a regularised inner problem solved to (near) equilibrium: the base of
implicit differentiation (learners/implicit.py) and the contrastive rule
(learners/contrastive.py).

The meta-parameters theta are the model's parameters. Per task, the fast parameters phi
(named by a pattern, learners/meta.py) minimise the inner objective

    L_in(phi, theta) = L_support(phi, theta_slow) + (lam / 2) |phi - theta_fast|^2,

a learned initialisation held by a proximal pull (Rajeswaran et al. 2019, iMAML;
Zucchet et al. 2022), found by `inner.steps` optimiser steps from theta_fast. Nothing is
differentiated through those steps: phi* is treated as the fixed point, and a subclass
says how the meta-gradient of L_out(phi*(theta), theta_slow) = the query loss is
estimated (`task_gradient`). Memory therefore does not grow with the inner steps.
"""

import abc
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require
from complab.learners import meta, optim
from complab.learners.base import AbstractLearner
from complab.learners.supervised import State


class Proximal(AbstractLearner):
    outer: optim.Config = eqx.field(static=True)
    inner: meta.Inner = eqx.field(static=True)
    loss: Callable  # loss(model, x, y) -> scalar
    lam: float = eqx.field(static=True, default=1.0)
    fast: str = eqx.field(static=True, default=".*")

    def __check_init__(self):
        require(self.lam > 0, f"the proximal strength lam must be > 0, got {self.lam}")

    def init(self, key: jax.Array, model: Any) -> State:
        del key
        meta.fast_spec(model, self.fast)
        params = eqx.filter(model, eqx.is_inexact_array)
        return State(model=model, opt_state=optim.start(self.outer, params), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array)

    def inner_loss(self, phi: Any, theta: Any, x: Array, y: Array) -> Array:
        centre, slow = meta.split(theta, self.fast)
        pull = meta.sq_norm(jax.tree.map(jnp.subtract, phi, centre))
        return self.loss(eqx.combine(phi, slow), x, y) + 0.5 * self.lam * pull

    def outer_loss(self, phi: Any, theta: Any, x: Array, y: Array) -> Array:
        return self.loss(eqx.combine(phi, meta.split(theta, self.fast)[1]), x, y)

    def solve(self, theta: Any, sx: Array, sy: Array, start: Any = None, nudge: tuple | None = None) -> Any:
        """The inner solution from `start` (theta_fast when None): minimises L_in, plus
        beta * L_out on (qx, qy) when `nudge` = (beta, qx, qy). Not differentiated."""
        theta = jax.lax.stop_gradient(theta)
        phi = meta.split(theta, self.fast)[0] if start is None else start

        def objective(p):
            value = self.inner_loss(p, theta, sx, sy)
            if nudge is not None:
                beta, qx, qy = nudge
                value = value + beta * self.outer_loss(p, theta, qx, qy)
            return value

        return jax.lax.stop_gradient(meta.descend(objective, phi, self.inner)[0])

    @abc.abstractmethod
    def task_gradient(self, theta: Any, sx: Array, sy: Array, qx: Array, qy: Array) -> tuple[Array, Any]:
        """(query loss at the inner solution, the meta-gradient estimate) of one task."""

    def meta_gradient(self, theta: Any, batch: dict) -> tuple[Array, Any]:
        losses, grads = meta.per_task(lambda *a: self.task_gradient(theta, *a), batch)
        return losses.mean(), jax.tree.map(lambda g: g.mean(0), grads)

    def step(self, key: jax.Array, state: State, batch: dict) -> tuple[State, dict]:
        del key
        meta.check_episode(batch)
        loss, grads = self.meta_gradient(state.model, batch)
        model, opt_state = optim.descend(self.outer, grads, state.opt_state, self.params(state), state.model)
        return State(model=model, opt_state=opt_state, step=state.step + 1), {"loss": loss}
