"""COMLN (Deleu, Kanaa, Feng, Kerg, Bengio, Lajoie, Bacon 2022, "Continuous-time
meta-learning with forward mode differentiation"; code tristandeleu/jax-comln).

A task adapts a linear classifier W [N ways, d] on meta-learned features Phi [M support
examples, d] by gradient flow on the mean softmax cross-entropy,

    dW/dt = -(1/M) (P - Y)^T Phi,   P = softmax(Phi W^T),   W(0) = W0,

up to a meta-learned horizon T = exp(log_t). Writing W(t) = W0 - s(t)^T Phi, the flow is
ds/dt = (P - Y) / M with logits Phi W0^T - K s, K = Phi Phi^T [M, M], so the state
never depends on d. The meta-gradient (`flow`'s custom VJP) integrates the forward-mode
sensitivities with the state: with A_i = (diag p_i - p_i p_i^T) / M,

    dB_ij/dt = delta_ij A_i - A_i sum_m K_im B_mj                       [M, M, N, N]
    dz_imj/dt = -A_i (sum_k K_ik z_kmj + delta_im s_j + delta_ij s_m)   [M, M, M, N]

(ds_i = sum_j B_ij u_j + sum_mj z_imj phi_m . dphi_j for the logit perturbation
u_j = dW0 phi_j + W0 dphi_j); given G = dL/dW(T), C_j = sum_i B_ij^T G phi_i and
D_jm = sum_i (G phi_i) . z_imj give

    dL/dW0 = G - C^T Phi,  dL/dPhi = -(s G + C W0 + D Phi),  dL/dT = -<grad L_train(W(T)), G>.

Nothing is stored per solver step, so memory does not grow with T. The solver is
classical Runge-Kutta 4 with ceil(T / dt) equal steps (the paper's code uses adaptive
Dormand-Prince; a fixed step keeps one compiled program for every T); `flow_unrolled`
is the same solve with a fixed step count through which autodiff can go, the
reference of the tests.
"""

from functools import partial
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.learners import meta, optim
from complab.learners.base import AbstractLearner
from complab.learners.supervised import State


def _rk4(field: Callable, y: Any, h: Array) -> Any:
    add = lambda a, b, c: jax.tree.map(lambda u, v: u + c * v, a, b)  # noqa: E731
    k1 = field(y)
    k2 = field(add(y, k1, h / 2))
    k3 = field(add(y, k2, h / 2))
    k4 = field(add(y, k3, h))
    return jax.tree.map(lambda u, a, b, c, d: u + h / 6 * (a + 2 * b + 2 * c + d), y, k1, k2, k3, k4)


def _probs(s, phi, kernel, w0):
    return jax.nn.softmax(phi @ w0.T - kernel @ s, axis=-1)


def _s_field(phi, y, w0):
    kernel = phi @ phi.T
    return lambda s: (_probs(s, phi, kernel, w0) - y) / phi.shape[0]


def _sensitivity_field(phi, y, w0):
    m = phi.shape[0]
    kernel, eye = phi @ phi.T, jnp.eye(m, dtype=phi.dtype)

    def field(state):
        s, b, z = state
        p = _probs(s, phi, kernel, w0)
        a = (jax.vmap(jnp.diag)(p) - p[:, :, None] * p[:, None, :]) / m  # [M, N, N]
        db = eye[:, :, None, None] * a[:, None] - jnp.einsum("iab,ijbc->ijac", a, jnp.einsum("im,mjbc->ijbc",
                                                                                            kernel, b))
        source = (jnp.einsum("ik,kmjb->imjb", kernel, z) + eye[:, :, None, None] * s[None, None]
                  + eye[:, None, :, None] * s[None, :, None])
        return (p - y) / m, db, -jnp.einsum("iab,imjb->imja", a, source)

    return field


def _integrate(field: Callable, y0: Any, t: Array, dt: float) -> Any:
    n = jnp.maximum(jnp.ceil(t / dt), 1.0)
    return jax.lax.fori_loop(0, n.astype(jnp.int32), lambda _, y: _rk4(field, y, t / n), y0)


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def flow(w0: Float[Array, "n d"], phi: Float[Array, "m d"], y: Float[Array, "m n"], t: Array, dt: float):
    """W(T) of the gradient flow from W0 on the support (features phi, one-hot labels y)."""
    s = _integrate(_s_field(phi, y, w0), jnp.zeros_like(y), t, dt)
    return w0 - s.T @ phi


def _flow_fwd(w0, phi, y, t, dt):
    m, n = y.shape
    zeros = (jnp.zeros_like(y), jnp.zeros((m, m, n, n), y.dtype), jnp.zeros((m, m, m, n), y.dtype))
    s, b, z = _integrate(_sensitivity_field(phi, y, w0), zeros, t, dt)
    w = w0 - s.T @ phi
    return w, (w0, phi, y, s, b, z, w)


def _flow_bwd(dt, res, g):
    w0, phi, y, s, b, z, w = res
    g_phi = phi @ g.T  # [M, N]: G phi_i
    c = jnp.einsum("ijab,ia->jb", b, g_phi)  # C_j = sum_i B_ij^T G phi_i
    d = jnp.einsum("ia,imja->jm", g_phi, z)
    train_grad = (jax.nn.softmax(phi @ w.T, axis=-1) - y).T @ phi / phi.shape[0]
    return g - c.T @ phi, -(s @ g + c @ w0 + d @ phi), jnp.zeros_like(y), -jnp.vdot(train_grad, g)


flow.defvjp(_flow_fwd, _flow_bwd)


def flow_unrolled(w0, phi, y, t, steps: int):
    """The same solve in `steps` RK4 steps, differentiable by autodiff (stores every step)."""
    field = _s_field(phi, y, w0)
    s = jax.lax.scan(lambda s, _: (_rk4(field, s, t / steps), None), jnp.zeros_like(y), None, length=steps)[0]
    return w0 - s.T @ phi


class Model(eqx.Module):
    """Meta-parameters: a feature network (a set [n, d_in] -> [n, d]), W0 and log T."""

    features: Any
    w0: Float[Array, "ways d"]
    log_t: Array

    def __init__(self, features: Any, ways: int, dim: int, t0: float = 1.0, *, key: jax.Array):
        self.features = features
        self.w0 = jax.random.normal(key, (ways, dim)) / jnp.sqrt(dim)
        self.log_t = jnp.log(jnp.asarray(t0))

    def adapt(self, x: Array, labels: Array, dt: float) -> Array:
        return flow(self.w0, self.features(x), jax.nn.one_hot(labels, self.w0.shape[0]), jnp.exp(self.log_t), dt)

    def logits(self, w: Array, x: Array) -> Array:
        return self.features(x) @ w.T


def cross_entropy(logits: Array, labels: Array) -> Array:
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1).mean()


class COMLN(AbstractLearner):
    """Episodes with integer labels in support_y / query_y (0 .. ways - 1)."""

    outer: optim.Config = eqx.field(static=True)
    dt: float = eqx.field(static=True, default=0.05)  # the solver's largest step

    def __check_init__(self):
        require(self.dt > 0, f"the solver step dt must be > 0, got {self.dt}")

    def init(self, key: jax.Array, model: Model) -> State:
        del key
        params = eqx.filter(model, eqx.is_inexact_array)
        return State(model=model, opt_state=optim.start(self.outer, params), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array)

    def episode_loss(self, model: Model, batch: dict) -> tuple[Array, dict]:
        def task(sx, sy, qx, qy):
            logits = model.logits(model.adapt(sx, sy, self.dt), qx)
            return cross_entropy(logits, qy), (logits.argmax(-1) == qy).mean()

        loss, acc = meta.per_task(task, batch)
        return loss.mean(), {"accuracy": acc.mean(), "horizon": jnp.exp(model.log_t)}

    def step(self, key: jax.Array, state: State, batch: dict) -> tuple[State, dict]:
        del key
        meta.check_episode(batch)
        (loss, aux), grads = eqx.filter_value_and_grad(self.episode_loss, has_aux=True)(state.model, batch)
        model, opt_state = optim.descend(self.outer, grads, state.opt_state, self.params(state), state.model)
        return State(model=model, opt_state=opt_state, step=state.step + 1), {"loss": loss, **aux}
