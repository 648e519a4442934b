"""The contrastive meta-learning rule (Zucchet, Schug, von Oswald, Zhao, Sacramento 2022,
"A contrastive rule for meta-learning"), equilibrium propagation for the inner problem
of learners/proximal.py.

Two inner solves: the free phase phi_0 minimises L_in(phi, theta); the nudged phase
phi_beta, started from phi_0, minimises L_in(phi, theta) + beta L_out(phi, theta). The
meta-gradient estimate is the difference of the parameter gradients of the two phases,

    g = (1 / beta) [d_theta (L_in + beta L_out)(phi_beta, theta) - d_theta L_in(phi_0, theta)],

first derivatives only. As beta -> 0 with the phases at their minima, g tends to the
implicit-differentiation meta-gradient (learners/implicit.py); its bias is O(beta)
plus what the finite inner solves leave, divided by beta: a nudged phase that goes on
descending an unconverged free objective adds that drift / beta. `symmetric` (the
paper's symmetric estimate) nudges by +beta and -beta from the same free solution and
takes (1 / 2 beta) [d_theta (L_in + beta L_out)(phi_beta) - d_theta (L_in - beta
L_out)(phi_-beta)]: the drift is common to both and cancels, and the bias is O(beta^2).
`nudged_steps` (0: `inner.steps`) sets the length of the nudged phases.
"""

import dataclasses

import equinox as eqx
import jax
from jaxtyping import Array

from complab.config import require
from complab.learners.proximal import Proximal


class Contrastive(Proximal):
    beta: float = eqx.field(static=True, default=0.1)
    nudged_steps: int = eqx.field(static=True, default=0)
    symmetric: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        require(self.beta > 0 and self.nudged_steps >= 0,
                f"the contrastive rule needs beta > 0 and nudged_steps >= 0, got {self.beta}, {self.nudged_steps}")

    def task_gradient(self, theta, sx: Array, sy: Array, qx: Array, qy: Array):
        free = self.solve(theta, sx, sy)
        nudged_solver = self if not self.nudged_steps else dataclasses.replace(
            self, inner=dataclasses.replace(self.inner, steps=self.nudged_steps))
        query = self.outer_loss(free, theta, qx, qy)

        def total(t, phi, beta):
            return self.inner_loss(phi, t, sx, sy) + beta * self.outer_loss(phi, t, qx, qy)

        def phase_gradient(beta):
            phi = free if beta == 0 else nudged_solver.solve(theta, sx, sy, start=free, nudge=(beta, qx, qy))
            return eqx.filter_grad(total)(theta, phi, beta)

        low = -self.beta if self.symmetric else 0.0
        return query, jax.tree.map(lambda a, b: (a - b) / (self.beta - low), phase_gradient(self.beta),
                                   phase_gradient(low))
