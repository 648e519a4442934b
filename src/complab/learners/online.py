"""Online gradients for networks of independent diagonal recurrent modules (Zucchet,
Meier, Schug, Mujika, Sacramento 2023, "Online learning of long-range dependencies";
their `online_lru/rec.py`), beside backpropagation through time as the reference.

The network (models/lru_stack.py) runs one step at a time. At step t the error
delta_t^l = dL_t / dh_t^l is backpropagated *spatially* only: through this step's
layers above l, never back in time. Each layer's recurrent parameters keep
eligibility traces, forward in time, of how its own state depends on them:

    e_lam_t = lam * e_lam_{t-1} + h_{t-1}          (dh_t / dlam)
    e_gam_t = lam * e_gam_{t-1} + B u_t            (dh_t / dgamma)
    e_B_t   = lam * e_B_{t-1}   + gamma u_t^T      (dh_t / dB, per state row)

and gets sum_t Re(conj(delta_t) e_t), chained to the parametrisation (lam = exp(-exp(nu)
+ i exp(theta)), gamma = exp(gamma_log), B = B_re + i B_im). Everything else gets its
spatial gradient. The last recurrent layer and everything above it get BPTT's gradient
exactly; below it (the encoder, and the lower layers of a deeper stack, whose temporal
paths through the layers above are dropped) the gradient is approximate. Memory is
constant in the sequence length. Variants (the paper's ablations):

- `truncated`: traces not accumulated (e_lam = h_{t-1}, e_gam = B u_t, e_B = gamma u_t^T),
  i.e. each step's gradient with the previous state held fixed;
- `spatial`: no temporal credit at all (the recurrence lam h_{t-1} is held fixed, so lam
  gets no gradient; gamma and B their one-step gradients).

A per-example loss is `sum_t w_t loss(out_t, y_t)`, with weights w (the task's mask over
its count in the batch, so the sum over the batch is the task's masked mean).
"""

from typing import Any, Callable, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners import optim
from complab.learners.base import AbstractLearner

Mode = Literal["bptt", "online", "truncated", "spatial"]
MODES: tuple[str, ...] = ("bptt", "online", "truncated", "spatial")
RECURRENT = ("nu_log", "theta_log", "gamma_log", "b_re", "b_im")


def bptt(model, x, y, w, position_loss: Callable) -> tuple[Array, Any]:
    """(loss, gradient) of one sequence by backpropagation through time."""
    return eqx.filter_value_and_grad(lambda m: (w * position_loss(m(x), y)).sum())(model)


def _trace_grads(cell, delta, e_lam, e_gam, e_b) -> dict[str, Array]:
    """The recurrent parameters' gradients at one step from the error and the traces."""
    lam, gam = cell.lam, jnp.exp(cell.gamma_log)
    g_lam = jnp.conj(delta) * e_lam
    g_b = jnp.conj(delta)[:, None] * e_b
    return {"nu_log": jnp.real(g_lam * lam * -jnp.exp(cell.nu_log)),
            "theta_log": jnp.real(g_lam * lam * 1j * jnp.exp(cell.theta_log)),
            "gamma_log": gam * jnp.real(jnp.conj(delta) * e_gam),
            "b_re": jnp.real(g_b), "b_im": -jnp.imag(g_b)}


def _replace(grads, i: int, values: dict[str, Array]):
    names = list(values)
    return eqx.tree_at(lambda g: [getattr(g.cells[i], n) for n in names], grads, [values[n] for n in names])


def online(model, x, y, w, position_loss: Callable, mode: Mode = "online") -> tuple[Array, Any]:
    """(loss, gradient) of one sequence by the online rule `mode` (online, truncated or spatial)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def step_loss(p, eps, hs, x_t, y_t, w_t):
        m = eqx.combine(p, static)
        new, out, us = m.step(hs, x_t, eps)
        return w_t * position_loss(out, y_t), (new, us)

    def body(carry, inp):
        hs, traces, acc, total = carry
        x_t, y_t, w_t = inp
        eps = tuple((jnp.zeros(h.shape, x_t.dtype), jnp.zeros(h.shape, x_t.dtype)) for h in hs)
        (loss_t, (new, us)), (g, g_eps) = jax.value_and_grad(step_loss, (0, 1), has_aux=True)(params, eps, hs, x_t,
                                                                                               y_t, w_t)
        new_traces = []
        for i, cell in enumerate(model.cells):
            e_lam, e_gam, e_b = traces[i]
            if mode == "online":
                delta = g_eps[i][0] + 1j * g_eps[i][1]
                bu = us[i] @ (cell.b_re + 1j * cell.b_im).T
                gu = jnp.exp(cell.gamma_log)[:, None] * us[i][None, :]
                lam = cell.lam
                e_lam, e_gam, e_b = lam * e_lam + hs[i], lam * e_gam + bu, lam[:, None] * e_b + gu
                g = _replace(g, i, _trace_grads(cell, delta, e_lam, e_gam, e_b))
            elif mode == "spatial":
                g = _replace(g, i, {"nu_log": jnp.zeros_like(cell.nu_log),
                                    "theta_log": jnp.zeros_like(cell.theta_log)})
            new_traces.append((e_lam, e_gam, e_b))
        acc = jax.tree.map(jnp.add, acc, g)
        return (new, tuple(new_traces), acc, total + loss_t), None

    hs = model.init_state()
    traces = tuple((jnp.zeros_like(h), jnp.zeros_like(h), jnp.zeros(c.b_re.shape, h.dtype))
                   for h, c in zip(hs, model.cells))
    zero = jax.tree.map(jnp.zeros_like, params)
    (_, _, grads, loss), _ = jax.lax.scan(body, (hs, traces, zero, jnp.zeros((), x.dtype)), (x, y, w))
    return loss, grads


def gradient(model, batch, position_loss: Callable, mode: Mode) -> tuple[Array, Any]:
    """(loss, gradient) of a batch (the task's masked mean) by `mode`."""
    w = batch.mask / batch.mask.sum()
    if mode == "bptt":
        one = lambda x, y, w: bptt(model, x, y, w, position_loss)  # noqa: E731
    else:
        one = lambda x, y, w: online(model, x, y, w, position_loss, mode)  # noqa: E731
    losses, grads = jax.vmap(one)(batch.x, batch.y, w)
    return losses.sum(), jax.tree.map(lambda g: g.sum(0), grads)


class State(eqx.Module):
    model: Any
    opt_state: Any


class Online(AbstractLearner):
    """Gradient descent with the gradient of `mode` on an LRU stack."""

    cfg: optim.Config = eqx.field(static=True)
    position_loss: Callable
    mode: str = eqx.field(static=True, default="online")

    def init(self, key: jax.Array, model: Any) -> State:
        del key
        return State(model=model, opt_state=optim.start(self.cfg, self.params_of(model)))

    @staticmethod
    def params_of(model: Any) -> Any:
        return eqx.filter(model, eqx.is_inexact_array)

    def params(self, state: State) -> Any:
        return self.params_of(state.model)

    def step(self, key: jax.Array, state: State, batch: Any) -> tuple[State, dict]:
        del key
        loss, grads = gradient(state.model, batch, self.position_loss, self.mode)
        model, opt_state = optim.descend(self.cfg, grads, state.opt_state, self.params(state), state.model)
        return State(model=model, opt_state=opt_state), {"loss": loss}
