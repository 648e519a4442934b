"""Supervised learning by a gradient optimiser (Optax) on a task's loss.

The model is applied to each sequence with `jax.vmap`; the loss is the task's.
The optimiser is Adam or AdamW with linear warmup then cosine decay to
`final_lr_frac * lr` (1.0: constant after warmup), and optional global-norm clipping; weight decay (AdamW) is
not applied to 1-D parameters (biases, norms, decay rates).
"""

from dataclasses import dataclass
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from complab.learners.base import AbstractLearner, State
from complab.tasks.base import Batch


@dataclass(frozen=True)
class Config:
    lr: float = 1e-3
    steps: int = 1000  # for the schedule's length
    warmup: int = 0
    final_lr_frac: float = 1.0  # cosine decay to this fraction of lr; 1.0: constant
    weight_decay: float = 0.0  # > 0: AdamW
    clip: float = 0.0  # global-norm clip; 0: none
    b1: float = 0.9
    b2: float = 0.999


def optimizer(cfg: Config) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, cfg.lr, cfg.warmup, max(cfg.steps, cfg.warmup + 1), end_value=cfg.final_lr_frac * cfg.lr
    )
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim > 1, params)  # noqa: E731
    parts = [optax.clip_by_global_norm(cfg.clip)] if cfg.clip else []
    parts.append(optax.adamw(schedule, cfg.b1, cfg.b2, weight_decay=cfg.weight_decay, mask=decay_mask))
    return optax.chain(*parts)


class Supervised(AbstractLearner):
    cfg: Config = eqx.field(static=True)
    loss: Callable

    def init(self, key: jax.Array, model: eqx.Module) -> State:
        del key
        opt_state = optimizer(self.cfg).init(eqx.filter(model, eqx.is_inexact_array))
        return State(model=model, opt_state=opt_state, step=jnp.zeros((), jnp.int32))

    def step(self, key: jax.Array, state: State, batch: Batch) -> tuple[State, dict]:
        del key

        def objective(model):
            return self.loss(jax.vmap(model)(batch.x), batch)

        loss, grads = eqx.filter_value_and_grad(objective)(state.model)
        params = eqx.filter(state.model, eqx.is_inexact_array)
        updates, opt_state = optimizer(self.cfg).update(grads, state.opt_state, params)
        model = eqx.apply_updates(state.model, updates)
        return State(model=model, opt_state=opt_state, step=state.step + 1), {"loss": loss}
