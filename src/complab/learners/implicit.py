"""Implicit differentiation of the inner solution (Rajeswaran, Finn, Kakade, Levine 2019,
iMAML; the reference meta-gradient of Zucchet et al. 2022).

At a minimum phi* of L_in (learners/proximal.py) the implicit function theorem gives

    dL_out/dtheta = d_theta L_out - (d2_{theta phi} L_in) H^-1 d_phi L_out,
    H = d2_{phi phi} L_in,

where H^-1 d_phi L_out is solved by `cg_steps` conjugate-gradient iterations on
Hessian-vector products, and the mixed term is the theta-gradient of
<d_phi L_in(phi*, theta), v>. Exact when phi* is the exact minimum and CG converges.
"""

import equinox as eqx
import jax
from jax.scipy.sparse.linalg import cg
from jaxtyping import Array

from complab.config import require
from complab.learners import meta
from complab.learners.proximal import Proximal


class Implicit(Proximal):
    cg_steps: int = eqx.field(static=True, default=20)

    def __check_init__(self):
        require(self.cg_steps >= 1, f"cg_steps must be >= 1, got {self.cg_steps}")

    def task_gradient(self, theta, sx: Array, sy: Array, qx: Array, qy: Array):
        phi = self.solve(theta, sx, sy)
        query, g_out = jax.value_and_grad(self.outer_loss)(phi, theta, qx, qy)
        inner_grad = jax.grad(self.inner_loss)

        def hvp(v):
            return jax.jvp(lambda p: inner_grad(p, theta, sx, sy), (phi,), (v,))[1]

        v = jax.lax.stop_gradient(cg(hvp, g_out, maxiter=self.cg_steps)[0])
        direct = eqx.filter_grad(lambda t: self.outer_loss(phi, t, qx, qy))(theta)
        mixed = eqx.filter_grad(lambda t: meta.tree_dot(inner_grad(phi, t, sx, sy), v))(theta)
        return query, jax.tree.map(lambda a, b: a - b, direct, mixed)
