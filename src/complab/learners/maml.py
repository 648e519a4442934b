"""Model-agnostic meta-learning (Finn, Abbeel, Levine 2017) and its relatives, one learner.

Per task of an episode batch the inner loop (learners/meta.py) adapts the model's fast
parameters on the support set from their meta-learned values; the outer loss is the
query loss of the adapted model, averaged over tasks, and the outer optimiser
(learners/optim.py) descends its gradient with respect to every parameter of the model:

- `fast=".*"`, second order: MAML, the learned initialisation, differentiated through
  the inner loop;
- `first_order=True`: first-order MAML (the inner updates' gradients stopped);
- `fast=r"\\.readout"`: ANIL (Raghu et al. 2020), the inner loop on the readout only;
- `fast=r"\\.embedding"` with a hypernetwork student: the inner loop on the task
  embedding, the outer loop on the module templates (Schug et al. ICLR 2024); with
  `learn_init=False` every task's embedding starts from the same fixed value (the
  paper's theory runs), the outer loop learning the templates and readout only.

With zero inner steps the meta-gradient is the supervised gradient of the query loss.
Metrics: "loss" (query, after adaptation) and "support_loss" (before adaptation).
"""

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners import meta, optim
from complab.learners.base import AbstractLearner
from complab.learners.supervised import State


class MAML(AbstractLearner):
    outer: optim.Config = eqx.field(static=True)
    inner: meta.Inner = eqx.field(static=True)
    loss: Callable  # loss(model, x, y) -> scalar
    fast: str = eqx.field(static=True, default=".*")
    first_order: bool = eqx.field(static=True, default=False)
    learn_init: bool = eqx.field(static=True, default=True)  # False: fast parameters start from fixed values

    def init(self, key: jax.Array, model: Any) -> State:
        del key
        meta.fast_spec(model, self.fast)  # refuse a pattern that matches nothing, before training
        params = eqx.filter(model, eqx.is_inexact_array)
        return State(model=model, opt_state=optim.start(self.outer, params), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array)

    def adapt(self, model: Any, x: Array, y: Array) -> tuple[Any, Array]:
        """The model adapted to one task's support set, and the support loss before."""
        return meta.adapt(self.loss, model, self.fast, x, y, self.inner, first_order=self.first_order,
                          learn_init=self.learn_init)

    def adapt_state(self, state: Any, x: Array, y: Array) -> Any:
        """The trained learner's model adapted to one task (what evaluation uses)."""
        return self.adapt(state.model, x, y)[0]

    def episode_loss(self, model: Any, batch: dict) -> tuple[Array, dict]:
        def task(sx, sy, qx, qy):
            adapted, before = self.adapt(model, sx, sy)
            return self.loss(adapted, qx, qy), before

        query, support = meta.per_task(task, batch)
        return query.mean(), {"support_loss": support.mean()}

    def meta_gradient(self, model: Any, batch: dict) -> tuple[Array, dict, Any]:
        (loss, aux), grads = eqx.filter_value_and_grad(self.episode_loss, has_aux=True)(model, batch)
        return loss, aux, grads

    def step(self, key: jax.Array, state: State, batch: dict) -> tuple[State, dict]:
        del key
        meta.check_episode(batch)
        loss, aux, grads = self.meta_gradient(state.model, batch)
        model, opt_state = optim.descend(self.outer, grads, state.opt_state, self.params(state), state.model)
        return State(model=model, opt_state=opt_state, step=state.step + 1), {"loss": loss, **aux}
