"""Evolution strategies: gradient estimates from antithetic function evaluations, and
a learner that descends along them. No data: the learner evaluates its objective
itself (`ctx.fit(..., data=None)`).

Every estimator spends 2P evaluations per step (P antithetic pairs), so they compare
at equal cost. With d the dimension, sigma the finite-difference scale and
delta(u) = (f(x + sigma u) - f(x - sigma u)) / (2 sigma):

- `Antithetic` (plain ES): u_1..u_P ~ N(0, I_d); g = (1/P) sum_j delta(u_j) u_j.
- `PastDirection` (Meier, Mujika, Gauy, Steger 2019, "Improving gradient estimation
  in evolutionary strategies with past descent directions"): the previous estimate
  s is one direction; P - 1 Gaussian directions are orthonormalised against it and
  each other (QR), giving an orthonormal basis D = [s/|s|, u_2..u_P]; g = sum_j
  delta(d_j) d_j, the projection of the gradient onto span(D) (exact for linear f).
  Since s lies in that span, cos(g, grad f) >= |cos(s, grad f)|: the estimate is
  never worse than its surrogate, and for a linear f the part of the gradient it
  misses shrinks by about (1 - (P-1)/(d-1)) per step. The paper's abstract states
  these properties; its exact weighting of non-orthogonal samples could not be read,
  so this orthonormal form is our reading (specs: marked unverified).
- `Guided` (Maheswaranathan et al. 2018, Guided ES) with the previous estimate as
  its k = 1 surrogate subspace U: u ~ N(0, alpha/d I + (1 - alpha) U U^T);
  g = (1/P) sum_j delta(u_j) u_j.

At the first step (no previous estimate) the surrogate-based estimators use only
random directions. The step size is an array of the learner (not a static
setting), so a sweep over it compiles once.
"""

from dataclasses import dataclass
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from complab.config import require
from complab.learners import optim
from complab.learners.base import AbstractLearner


def _deltas(f, x, sigma, dirs):
    """delta(u) for each row u of `dirs`."""
    return jax.vmap(lambda u: (f(x + sigma * u) - f(x - sigma * u)) / (2 * sigma))(dirs)


def _unit(s):
    n = jnp.linalg.norm(s)
    return s / jnp.where(n > 0, n, 1.0), n > 0


def _orthonormalise(z: Float[Array, "d p"]) -> Float[Array, "d p"]:
    """Orthonormal columns spanning those of `z`, the first keeping its direction:
    classical Gram-Schmidt with reorthogonalisation, one column at a time (XLA's
    Householder QR is ~25x slower on a CPU for d >> p)."""

    def column(j, q):
        v = z[:, j]
        for _ in range(2):  # "twice is enough" (Giraud et al. 2005)
            v = v - q @ (q.T @ v)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, z.shape[1], column, jnp.zeros_like(z), unroll=True)


@dataclass(frozen=True)
class Antithetic:
    pairs: int = 10  # P
    sigma: float = 0.01

    def __post_init__(self):
        require(self.pairs >= 1 and self.sigma > 0, f"pairs must be >= 1 and sigma > 0, got {self.pairs}, "
                f"{self.sigma}")

    def estimate(self, key, f, x, surrogate):
        u = jax.random.normal(key, (self.pairs, x.size))
        return _deltas(f, x, self.sigma, u) @ u / self.pairs


@dataclass(frozen=True)
class PastDirection(Antithetic):
    """P directions, the surrogate's included (the fields and their checks are Antithetic's)."""

    def estimate(self, key, f, x, surrogate):
        z = jax.random.normal(key, (x.size, self.pairs))
        s, has = _unit(surrogate)
        z = z.at[:, 0].set(jnp.where(has, s, z[:, 0]))
        basis = _orthonormalise(z)  # the first column stays s
        return basis @ _deltas(f, x, self.sigma, basis.T)


@dataclass(frozen=True)
class Guided:
    pairs: int = 10  # P
    sigma: float = 0.01
    alpha: float = 0.5  # weight of the isotropic part

    def __post_init__(self):
        require(self.pairs >= 1 and self.sigma > 0 and 0 < self.alpha <= 1,
                f"pairs must be >= 1, sigma > 0 and alpha in (0, 1], got {self.pairs}, {self.sigma}, {self.alpha}")

    def estimate(self, key, f, x, surrogate):
        k_full, k_sub = jax.random.split(key)
        s, has = _unit(surrogate)
        alpha = jnp.where(has, self.alpha, 1.0)
        full = jax.random.normal(k_full, (self.pairs, x.size))
        sub = jax.random.normal(k_sub, (self.pairs, 1))
        u = jnp.sqrt(alpha / x.size) * full + jnp.sqrt(1 - alpha) * sub * s[None, :]
        return _deltas(f, x, self.sigma, u) @ u / self.pairs


class State(eqx.Module):
    x: Float[Array, " d"]
    surrogate: Float[Array, " d"]  # the last gradient estimate
    step: Array


class ES(AbstractLearner):
    """x <- x - lr * g(x), with g from `estimator`; `objective(x) -> scalar`."""

    estimator: Any = eqx.field(static=True)
    objective: Callable
    lr: Array

    def __init__(self, estimator, objective: Callable, lr: float):
        self.estimator, self.objective, self.lr = estimator, objective, jnp.asarray(lr)

    def init(self, key: jax.Array, x0: Array) -> State:
        del key
        return State(x=x0, surrogate=jnp.zeros_like(x0), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Array:
        return state.x

    def step(self, key: jax.Array, state: State, batch: None) -> tuple[State, dict]:
        del batch
        g = self.estimator.estimate(key, self.objective, state.x, state.surrogate)
        new = State(x=state.x - self.lr * g, surrogate=g, step=state.step + 1)
        return new, {"loss": self.objective(state.x)}

    def cosine(self, key: jax.Array, state: State) -> Array:
        """cos(g, grad f) of a fresh estimate at the current point (the estimator's quality there)."""
        g = self.estimator.estimate(key, self.objective, state.x, state.surrogate)
        true = jax.grad(self.objective)(state.x)
        return g @ true / (jnp.linalg.norm(g) * jnp.linalg.norm(true) + 1e-30)


class ModelState(eqx.Module):
    model: Any
    opt_state: Any
    surrogate: Float[Array, " d"]  # the last gradient estimate, flat
    step: Array


class ModelES(AbstractLearner):
    """ES on a model's trainable parameters for a `loss(model, batch, key)` (the form
    learners/supervised.py takes): the estimator sees the loss as a function of the
    flat parameters, every perturbation on the same batch and key (common random
    numbers), and the estimate goes to a gradient optimizer (learners/optim.py), as
    Salimans et al. 2017 feed theirs to Adam. For models whose loss has no usable
    gradient, or to compare with gradient descent at a known cost (2P + 1 losses a
    step, the last for the reported loss)."""

    estimator: Any = eqx.field(static=True)
    loss: Callable
    cfg: Any = eqx.field(static=True)  # optim.Config

    def init(self, key: jax.Array, model: Any) -> ModelState:
        del key
        params = eqx.filter(model, eqx.is_inexact_array)
        flat, _ = ravel_pytree(params)
        return ModelState(model=model, opt_state=optim.start(self.cfg, params), surrogate=jnp.zeros_like(flat),
                          step=jnp.zeros((), jnp.int32))

    def params(self, state: ModelState) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array)

    def step(self, key: jax.Array, state: ModelState, batch: Any) -> tuple[ModelState, dict]:
        k_est, k_loss = jax.random.split(key)
        params, static = eqx.partition(state.model, eqx.is_inexact_array)
        flat, unravel = ravel_pytree(params)

        def f(x):
            return self.loss(eqx.combine(unravel(x), static), batch, k_loss)

        g = self.estimator.estimate(k_est, f, flat, state.surrogate)
        model, opt_state = optim.descend(self.cfg, unravel(g), state.opt_state, params, state.model)
        return ModelState(model=model, opt_state=opt_state, surrogate=g, step=state.step + 1), {"loss": f(flat)}
