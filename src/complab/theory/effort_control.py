"""Optimal control of learning effort (Carrasco-Davis, Masis, Saxe, "Meta-learning
strategies through value maximization in neural networks", arXiv 2310.19919).

A two-layer linear network learns tasks that are its input-output modes (singular
values s_k). An engagement signal psi_k(t) in [0, psi_max] scales task k's loss, so from
a decoupled, balanced start (each mode's two layer strengths equal, b_k) one gradient step
of size dt is

    b_k <- b_k + dt psi_k b_k (s_k - b_k^2),   a_k = b_k^2 the mode's strength,

exactly (gradient descent on the network, tested), and as dt -> 0 the classic
tau da/dt = 2 psi a (s - a). Performance is L(t) = sum_k (s_k - a_k)^2 / 2 (unweighted: what
the learner is judged by). The value of a schedule is

    V = sum_t dt [e^{-t / tau_gamma} (-L(t)) - beta sum_k psi_k(t)^2],

discounted performance minus the effort's cost, and the whole trajectory is
differentiable: the experiment's learner ascends V in a piecewise-constant psi
(`schedule`) by Adam through it.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array


def trajectory(psi: Array, s: Array, a0: float, dt: float) -> tuple[Array, Array]:
    """Mode strengths a [steps, modes] (before each step) and performance loss L [steps]
    under the engagement psi [steps, modes]."""

    def step(b, p):
        a = b**2
        return b + dt * p * b * (s - a), (a, 0.5 * jnp.sum((s - a) ** 2))

    _, (a, loss) = jax.lax.scan(step, jnp.full(s.shape, jnp.sqrt(a0)), psi)
    return a, loss


def value(psi: Array, s: Array, a0: float, dt: float, tau_gamma: float, beta: float) -> Array:
    """Discounted performance minus effort cost of a schedule psi [steps, modes]."""
    _, loss = trajectory(psi, s, a0, dt)
    t = dt * jnp.arange(psi.shape[0])
    return jnp.sum(dt * jnp.exp(-t / tau_gamma) * -loss) - beta * dt * jnp.sum(psi**2)


def schedule(theta: Array, steps: int, psi_max: float) -> Array:
    """psi [steps, modes] from control parameters theta [intervals, modes]: psi_max sigmoid(theta),
    held constant over each of the equal intervals."""
    return jnp.repeat(psi_max * jax.nn.sigmoid(theta), steps // theta.shape[0], axis=0)
