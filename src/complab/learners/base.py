"""The learner interface (DESIGN: Learner).

`init(key, model) -> State` and `step(key, state, batch) -> (State, metrics)`, both
pure and jittable. Each learner defines its own State, an Equinox module (a model and
optimizer statistics; an ES search point and its last gradient estimate; a
meta-learner's slow and fast weights), and names its trainable parameters with
`params(state)`: the training loop checks those for non-finite values (optimizer
statistics may legitimately hold inf). A batch is any pytree (a batch of sequences,
an episode of support and query sets) or None when the learner makes its own
evaluations. `metrics` is a dict of scalars that always holds "loss". The training
loop runs many steps inside one jit, so a step must not call back into Python.

A learner holds what it needs to compute its loss (for supervised learning, the
task's loss function), so `step` sees only the batch.
"""

import abc
from typing import Any

import equinox as eqx
import jax
from jaxtyping import Array


class AbstractLearner(eqx.Module):
    @abc.abstractmethod
    def init(self, key: jax.Array, model: Any) -> eqx.Module:
        """The training state before the first step."""

    @abc.abstractmethod
    def step(self, key: jax.Array, state: eqx.Module, batch: Any) -> tuple[eqx.Module, dict[str, Array]]:
        """One update on one batch (None for learners that make their own evaluations)."""

    @abc.abstractmethod
    def params(self, state: eqx.Module) -> Any:
        """The trainable parameters in `state` (a pytree), checked for finiteness."""
