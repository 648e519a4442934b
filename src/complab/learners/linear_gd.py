"""Full-batch gradient descent of a two-layer linear network y^ = W2 W1 x on whitened inputs
(E[x x^T] = I), through the input-output correlation S31 = E[y x^T] alone (Saxe et al.):

    E = S31 - W2 W1,   W1 += eta W2^T E',   W2 += eta E' W1^T,

with E' = E, or E with each input column (an item, a task) weighted by `weights[step]`
(an engagement schedule that scales each task's loss). Its loss is the unweighted
|E|_F^2 / 2 before the step.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners.base import AbstractLearner


class State(eqx.Module):
    w1: Array
    w2: Array
    step: Array


class TwoLayerLinearGD(AbstractLearner):
    target: Array  # S31 [outputs, inputs]
    eta: float = eqx.field(static=True)
    weights: Array | None = None  # [steps, inputs]; the last row holds after the schedule ends

    def init(self, key: jax.Array, model: tuple) -> State:
        del key
        return State(*model, jnp.zeros((), jnp.int32))

    def params(self, state: State) -> tuple:
        return state.w1, state.w2

    def step(self, key: jax.Array, state: State, batch: None) -> tuple[State, dict]:
        del key, batch
        err = self.target - state.w2 @ state.w1
        drive = err
        if self.weights is not None:
            drive = err * self.weights[jnp.minimum(state.step, self.weights.shape[0] - 1)][None, :]
        new = State(state.w1 + self.eta * state.w2.T @ drive, state.w2 + self.eta * drive @ state.w1.T,
                    state.step + 1)
        return new, {"loss": 0.5 * jnp.sum(err**2)}
