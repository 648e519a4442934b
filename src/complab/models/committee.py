"""The soft committee machine: a two-layer network on one input vector (Saad & Solla
1995; Goldt et al. 2019),

    phi(x) = sum_k v_k g(w_k . x / sqrt N),   g(x) = erf(x / sqrt 2).

The 1 / sqrt N keeps preactivations O(1) for x ~ N(0, I_N) and O(1) weights, so the
order parameters Q = w w^T / N and R = w w*^T / N are O(1) (theory/committee_odes.py).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.theory.committee_odes import g


class CommitteeMachine(eqx.Module):
    w: Float[Array, "hidden inputs"]
    v: Float[Array, " hidden"]

    def __init__(self, hidden: int, inputs: int, *, key: jax.Array, init_std: float = 1.0, v0: float = 1.0):
        self.w = init_std * jax.random.normal(key, (hidden, inputs))
        self.v = jnp.full((hidden,), v0)

    def __call__(self, x: Float[Array, " inputs"], *, key: jax.Array | None = None) -> Float[Array, ""]:
        return g(self.w @ x / jnp.sqrt(x.shape[-1])) @ self.v

    def overlaps(self, teacher: "CommitteeMachine") -> tuple[Array, Array]:
        """(Q, R): the student's self-overlap and its overlap with the teacher, over N."""
        n = self.w.shape[1]
        return self.w @ self.w.T / n, self.w @ teacher.w.T / n
