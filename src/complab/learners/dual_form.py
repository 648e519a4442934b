"""Gradient descent on an MLP that keeps its own dual form (Irie, Csordás, Schmidhuber
2022, "The dual form of neural networks revisited").

A linear layer y = W x + b trained by gradient descent on patterns x_t with error
signals e_t = -lr dL/dy_t ends at W_T = W_0 + sum_t e_t x_t^T (and b_T = b_0 + sum_t
e_t), so for any input q

    W_T q + b_T = W_0 q + b_0 + sum_t e_t (x_t . q + 1),

unnormalised dot attention with the stored inputs as keys, the errors as values and q as
the query. `RecordingSGD` trains an `models/mlp.MLP` by SGD (torch's momentum: v <- beta v
+ g, W <- W - lr v, no dampening) and stores, for every step and example, each layer's
input and its error signal (the gradient of the batch's mean loss with respect to that
example's layer output, so the 1/B is in it). With momentum the error stored at step s
of T reaches the weights scaled by sum_{k=0}^{T-1-s} beta^k (`momentum_scale`).
`dual_output` answers from the memory; `scores` are the attention weights |x_t . q|
that the authors' code ranks training patterns by. The memory holds `capacity` steps
(float64: steps x batch x (the layers' inputs + outputs) x 8 bytes): a fit must not run
longer, or the later steps go unrecorded.
"""

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners.base import AbstractLearner
from complab.models.mlp import MLP


class Memory(eqx.Module):
    keys: tuple[Array, ...]  # per layer [steps, batch, d_in]: the layer's inputs
    errors: tuple[Array, ...]  # per layer [steps, batch, d_out]: -lr dL/dy (before momentum's scaling)
    labels: Array  # [steps, batch]
    index: Array  # [steps, batch]: each pattern's index in the training split


class State(eqx.Module):
    model: MLP
    initial: MLP
    velocity: MLP  # the momentum buffer, shaped as the model
    memory: Memory
    step: Array


class RecordingSGD(AbstractLearner):
    lr: float = eqx.field(static=True)
    momentum: float = eqx.field(static=True)
    capacity: int = eqx.field(static=True)  # the steps the memory holds (the fit's steps)
    batch_size: int = eqx.field(static=True)
    loss: Callable  # loss(pred [batch, time, d_out], batch) -> scalar, a task's loss

    def init(self, key: jax.Array, model: MLP) -> State:
        del key
        dims = [w.shape for w in model.weights]
        n, b, dtype = self.capacity, self.batch_size, model.weights[0].dtype
        memory = Memory(keys=tuple(jnp.zeros((n, b, i), dtype) for _, i in dims),
                        errors=tuple(jnp.zeros((n, b, o), dtype) for o, _ in dims),
                        labels=jnp.zeros((n, b), jnp.int32), index=jnp.zeros((n, b), jnp.int32))
        return State(model=model, initial=model, velocity=jax.tree.map(jnp.zeros_like, model), memory=memory,
                     step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> MLP:
        return state.model

    def step(self, key: jax.Array, state: State, batch) -> tuple[State, dict]:
        del key
        model = state.model
        x = batch.x[:, -1].astype(model.weights[0].dtype)
        hs = jax.vmap(model.inputs)(x)

        def loss_of(shifts):
            return self.loss(jax.vmap(model.logits)(x, shifts)[:, None], batch)

        zero = tuple(jnp.zeros((x.shape[0], w.shape[0]), x.dtype) for w in model.weights)
        loss, deltas = jax.value_and_grad(loss_of)(zero)
        grads = eqx.tree_at(lambda m: m.weights, model, tuple(d.T @ h for d, h in zip(deltas, hs)))
        if model.biases is not None:
            grads = eqx.tree_at(lambda m: m.biases, grads, tuple(d.sum(0) for d in deltas))
        velocity = jax.tree.map(lambda v, g: self.momentum * v + g, state.velocity, grads)
        new = jax.tree.map(lambda p, v: p - self.lr * v, model, velocity)
        t, mem = state.step, state.memory
        memory = Memory(keys=tuple(k.at[t].set(h) for k, h in zip(mem.keys, hs)),
                        errors=tuple(e.at[t].set(-self.lr * d) for e, d in zip(mem.errors, deltas)),
                        labels=mem.labels.at[t].set(batch.info["label"].astype(jnp.int32)),
                        index=mem.index.at[t].set(batch.info["index"].astype(jnp.int32)))
        return State(model=new, initial=state.initial, velocity=velocity, memory=memory, step=t + 1), {"loss": loss}


def momentum_scale(steps: int, momentum: float) -> Array:
    """[steps]: how much of the error stored at step s reaches the weights after `steps`
    steps of SGD with momentum, sum_{k=0}^{steps-1-s} momentum^k (all ones without it)."""
    remaining = jnp.arange(steps, 0, -1)
    return (1 - momentum ** remaining) / (1 - momentum)


def dual_output(state: State, layer: int, q: Array, scale: Array) -> Array:
    """Layer `layer`'s output for inputs q [n, d_in] from its initial weights and the
    memory: W_0 q + b_0 + sum_t scale_t e_t (x_t . q + 1); `scale` [steps] multiplies
    each step's errors (`momentum_scale`, or ones to ignore momentum)."""
    mem, w0 = state.memory, state.initial.weights[layer]
    keys = mem.keys[layer].reshape(-1, w0.shape[1])
    values = (mem.errors[layer] * scale[:, None, None]).reshape(-1, w0.shape[0])
    out = q @ w0.T + (q @ keys.T) @ values
    if state.initial.biases is not None:
        out = out + (state.initial.biases[layer] + values.sum(0))[None]
    return out


def scores(state: State, layer: int, q: Array) -> Array:
    """[n, steps * batch]: the attention weight |x_t . q| of every stored pattern for each input q."""
    keys = state.memory.keys[layer]
    return jnp.abs(q @ keys.reshape(-1, keys.shape[-1]).T)
