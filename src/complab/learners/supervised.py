"""Supervised learning by a gradient optimizer (learners/optim.py) on a loss.

The loss is `loss(model, batch, key) -> scalar`; `key` feeds what is random in the
forward pass (dropout, randomized positions). For a sequence task,
`per_example(task.loss)` applies the model to each sequence with `jax.vmap`, one key
per sequence, in training mode, passing the batch's `info["valid"]` (the real tokens
of padded sequences) when the task gives it. So the same learner trains a sequence
model on a task and a committee machine on a stream of single samples.
"""

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners import optim
from complab.learners.base import AbstractLearner


class State(eqx.Module):
    model: Any
    opt_state: Any
    step: Array


def predict(model: Any, batch: Any, key: jax.Array | None = None, train: bool = False) -> Array:
    """A sequence model's outputs for every sequence of a batch (one key per sequence when
    `key` is given; the real tokens from the batch's `info["valid"]` when it has them)."""
    keys = None if key is None else jax.random.split(key, batch.x.shape[0])
    valid = batch.info.get("valid")
    return jax.vmap(lambda x, k, v: model(x, key=k, valid=v, train=train))(batch.x, keys, valid)


def at_last(task_loss: Callable) -> Callable:
    """`per_example` for a task whose loss reads only the last position of each sequence
    (its mask is zero elsewhere): the model computes that position alone (`model.last`),
    and the task's loss sees the batch cut to it. The value is the same."""

    return jax.tree_util.Partial(_at_last, task_loss)


def _at_last(task_loss, model, batch, key):
    keys = None if key is None else jax.random.split(key, batch.x.shape[0])
    valid = batch.info.get("valid")
    pred = jax.vmap(lambda x, k, v: model.last(x, key=k, valid=v, train=True))(batch.x, keys, valid)
    return task_loss(pred[:, None], eqx.tree_at(lambda b: (b.y, b.mask), batch, (batch.y[:, -1:],
                                                                               batch.mask[:, -1:])))


def _per_example(task_loss, model, batch, key):
    return task_loss(predict(model, batch, key, train=True), batch)


def per_example(task_loss: Callable) -> Callable:
    """A task's `loss(pred, batch)` as a loss of the model: the model maps each example of `batch.x`.
    The loss is a `Partial`, so a task's bound method (an Equinox pytree) travels as data: runs
    whose tasks differ only in their arrays (a seed's split) share one compiled training step,
    and the task's arrays are arguments of the program, not constants baked into it."""
    return jax.tree_util.Partial(_per_example, task_loss)


def with_norm_penalty(loss: Callable, strength: float) -> Callable:
    """`loss` plus `strength` times the sum of the Frobenius norms (not squared) of every
    trainable array, the L2 term of Singh et al.'s code (icl-dynamics `main.py`); the
    norm of an all-zero array adds nothing and has gradient zero."""

    return jax.tree_util.Partial(_norm_penalised, loss, strength)


def _norm_penalised(loss, strength, model, batch, key):
    norms = [jnp.sqrt(jnp.sum(jnp.square(w)) + 1e-24) for w in jax.tree.leaves(eqx.filter(model,
                                                                                   eqx.is_inexact_array))]
    return loss(model, batch, key) + strength * sum(norms)


class Supervised(AbstractLearner):
    cfg: optim.Config = eqx.field(static=True)
    loss: Callable

    def init(self, key: jax.Array, model: Any) -> State:
        del key
        params = eqx.filter(model, eqx.is_inexact_array)
        return State(model=model, opt_state=optim.start(self.cfg, params), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array)

    def step(self, key: jax.Array, state: State, batch: Any) -> tuple[State, dict]:
        loss, grads = eqx.filter_value_and_grad(self.loss)(state.model, batch, key)
        model, opt_state = optim.descend(self.cfg, grads, state.opt_state, self.params(state), state.model)
        return State(model=model, opt_state=opt_state, step=state.step + 1), {"loss": loss}
