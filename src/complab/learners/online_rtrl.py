"""Fully online training of the gated cell (models/gated_cell.py) with an RTRL estimator
(learners/rtrl.py) on the string-memorisation stream (tasks/copy_stream.py), as
Benzing et al. 2019 train it: every time step, each stream feeds one symbol, the
sensitivity advances, and the weights move on that step's gradient (delta^T G~ for the
recurrent W, the exact one-step gradient for the readout), averaged over the streams.
A stream's state and sensitivity restart with each new sequence. The learner makes
its own data (its batch is None); its state carries the streams and the curriculum.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners import optim, rtrl
from complab.learners.base import AbstractLearner
from complab.models.gated_cell import GatedCell
from complab.tasks import copy_stream as stream


class State(eqx.Module):
    cell: GatedCell
    opt_state: Any
    h: Array  # [batch, n]
    g: rtrl.Sensitivity  # batched
    streams: stream.Streams
    t_cur: Array
    average: Array


class OnlineRTRL(AbstractLearner):
    cfg: optim.Config = eqx.field(static=True)
    estimator: rtrl.Estimator = eqx.field(static=True)
    task: stream.Config = eqx.field(static=True)
    batch: int = eqx.field(static=True, default=16)

    def init(self, key: jax.Array, model: GatedCell) -> State:
        del key
        n, a = model.n, model.w.shape[0]
        g = jax.vmap(lambda _: rtrl.start(self.estimator, n, a, model.w.dtype))(jnp.arange(self.batch))
        return State(model, optim.start(self.cfg, self.params_of(model)), jnp.zeros((self.batch, n), model.w.dtype),
                     g, stream.start(self.task, self.batch), jnp.ones((), jnp.int32), jnp.ones(()))

    @staticmethod
    def params_of(model: GatedCell) -> Any:
        return eqx.filter(model, eqx.is_inexact_array)

    def params(self, state: State) -> Any:
        return self.params_of(state.cell)

    def step(self, key: jax.Array, state: State, batch: None) -> tuple[State, dict]:
        del batch
        k_data, k_signs = jax.random.split(key)
        cell = state.cell
        streams = stream.refresh(self.task, k_data, state.streams, state.t_cur)
        x, y, fresh = stream.symbols(streams)
        keep = (~fresh).astype(state.h.dtype)
        h = state.h * keep[:, None]
        g = jax.tree.map(lambda a: a * keep.reshape((-1,) + (1,) * (a.ndim - 1)), state.g)
        h, big_h, d, hat = jax.vmap(cell.jacobians)(h, jax.nn.one_hot(x, stream.VOCAB, dtype=h.dtype))
        g = jax.vmap(lambda k, g, hh, dd, hat: rtrl.advance(self.estimator, k, g, hh, dd, hat))(
            jax.random.split(k_signs, self.batch), g, big_h, d, hat)

        def loss(w_out, h):
            logits = jnp.concatenate([h, jnp.ones(1, h.dtype)]) @ w_out
            return -jax.nn.log_softmax(logits)

        def one(h, y):
            return jax.value_and_grad(lambda w_out, h: loss(w_out, h)[y], (0, 1))(cell.w_out, h)

        losses, (g_out, delta) = jax.vmap(one)(h, y)
        g_w = jax.vmap(lambda g, dl: rtrl.gradient(self.estimator, g, dl))(g, delta).mean(0)
        grads = eqx.tree_at(lambda c: (c.w, c.w_out), self.params(state), (g_w, g_out.mean(0)))
        cell, opt_state = optim.descend(self.cfg, grads, state.opt_state, self.params(state), cell)
        bits = losses.mean() / jnp.log(2.0)
        t_cur, average = stream.curriculum(self.task, state.t_cur, state.average, bits)
        new = State(cell, opt_state, h, g, stream.advance(streams), t_cur, average)
        return new, {"loss": bits, "t_cur": t_cur.astype(bits.dtype)}
