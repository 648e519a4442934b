"""The learner interface (DESIGN: Learner).

`init(key, model) -> State` and `step(key, state, batch) -> (State, metrics)`, both
pure and jittable; `state.model` is the current model and `metrics` a dict of
scalars that always holds "loss". The training loop (runner's `ctx.fit`) runs many
steps inside one jit with `lax.scan`, so a step must not call back into Python.

A learner holds what it needs to compute its loss (for supervised learning, the
task's loss function), so `step` sees only the batch.
"""

import abc

import equinox as eqx
import jax
from jaxtyping import Array

from complab.tasks.base import Batch


class State(eqx.Module):
    model: eqx.Module
    opt_state: object
    step: Array


class AbstractLearner(eqx.Module):
    @abc.abstractmethod
    def init(self, key: jax.Array, model: eqx.Module) -> State:
        """The training state before the first step."""

    @abc.abstractmethod
    def step(self, key: jax.Array, state: State, batch: Batch) -> tuple[State, dict[str, Array]]:
        """One update on one batch."""
