"""Online SGD in two-layer teacher-student networks as ODEs for the order parameters
(Saad & Solla 1995; Goldt, Advani, Saxe, Krzakala, Zdeborova 2019, "Dynamics of
stochastic gradient descent for two-layer neural networks in the teacher-student
setup", NeurIPS; the same equations in sgoldt/pyscm).

Teacher y = sum_m v*_m g(w*_m . x / sqrt N) + sigma z, student phi(x) = sum_k v_k g(w_k
. x / sqrt N), g(x) = erf(x / sqrt 2), x ~ N(0, I_N), loss (phi - y)^2 / 2. Online SGD,
one fresh sample per step, w_k <- w_k - eta dL/dw_k (the paper's eta / sqrt N: the
gradient of g(w . x / sqrt N) carries the other 1 / sqrt N) and v_k <- v_k - (eta_v / N)
dL/dv_k. With
t = steps / N, the order parameters Q = w w^T / N, R = w w*^T / N, T = w* w*^T / N and
v obey, writing c = (-v, v*) for the units (students first, then teachers) and
I2 = E[g g], I3(a, b, c) = E[g'(a) b g(c)], I4(a, b, c, d) = E[g'(a) g'(b) g(c) g(d)],
J2 = E[g' g'] over the preactivations' Gaussian with covariance C = [[Q, R], [R^T, T]]:

    dR_in/dt = eta v_i sum_u c_u I3(i, n, u)
    dQ_ik/dt = eta v_i sum_u c_u I3(i, k, u) + eta v_k sum_u c_u I3(k, i, u)
               + eta^2 v_i v_k [sum_uw c_u c_w I4(i, k, u, w) + sigma^2 J2(i, k)]
    dv_i/dt  = eta_v sum_u c_u I2(i, u)
    eps_g    = (1/2) sum_uw c_u c_w I2(u, w)     (noise-free generalisation error)

The integrals have closed forms for erf (below, from Saad & Solla); the tests check
each against Monte Carlo. `integrate` solves the ODEs with Diffrax; call it with
float64 enabled (the experiment asks for x64).
"""

import diffrax
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

PI = jnp.pi


def g(x):
    return jax.scipy.special.erf(x / jnp.sqrt(2.0))


def i2(C: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """I2[a, b] = E[g(l_a) g(l_b)]."""
    d = 1 + jnp.diag(C)
    return (2 / PI) * jnp.arcsin(C / jnp.sqrt(d[:, None] * d[None, :]))


def j2(C: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """J2[a, b] = E[g'(l_a) g'(l_b)]."""
    c = jnp.diag(C)
    return (2 / PI) / jnp.sqrt(1 + c[:, None] + c[None, :] + c[:, None] * c[None, :] - C**2)


def i3(C: Float[Array, "n n"]) -> Float[Array, "n n n"]:
    """I3[a, b, c] = E[g'(l_a) l_b g(l_c)]."""
    d = 1 + jnp.diag(C)
    L3 = d[:, None] * d[None, :] - C**2  # [a, c]
    num = C[None, :, :] * d[:, None, None] - C[:, :, None] * C[:, None, :]  # C_bc (1 + C_aa) - C_ab C_ac
    return (2 / PI) / jnp.sqrt(L3)[:, None, :] * num / d[:, None, None]


def i4(C: Float[Array, "n n"]) -> Float[Array, "n n n n"]:
    """I4[a, b, c, e] = E[g'(l_a) g'(l_b) g(l_c) g(l_e)]."""
    d = 1 + jnp.diag(C)
    A = d[:, None, None, None]  # 1 + C_aa
    B = d[None, :, None, None]  # 1 + C_bb
    Cc = d[None, None, :, None]
    Ce = d[None, None, None, :]
    ab = C[:, :, None, None]
    ac = C[:, None, :, None]
    ae = C[:, None, None, :]
    bc = C[None, :, :, None]
    be = C[None, :, None, :]
    ce = C[None, None, :, :]
    L4 = A * B - ab**2
    L0 = L4 * ce - bc * be * A - ac * ae * B + ab * ac * be + ab * ae * bc
    L1 = L4 * Cc - bc**2 * A - ac**2 * B + 2 * ab * ac * bc
    L2 = L4 * Ce - be**2 * A - ae**2 * B + 2 * ab * ae * be
    return (4 / PI**2) / jnp.sqrt(L4) * jnp.arcsin(L0 / jnp.sqrt(L1 * L2))


def covariance(Q, R, T):
    return jnp.block([[Q, R], [R.T, T]])


def generalisation_error(Q, R, T, v, v_star):
    """eps_g = E[(phi - y_noise-free)^2] / 2 from the order parameters."""
    c = jnp.concatenate([-v, v_star])
    return 0.5 * c @ i2(covariance(Q, R, T)) @ c


def derivatives(Q, R, v, T, v_star, eta, eta_v, sigma):
    """(dQ/dt, dR/dt, dv/dt); eta_v = 0 keeps the second layer fixed."""
    K = Q.shape[0]
    C = covariance(Q, R, T)
    c = jnp.concatenate([-v, v_star])
    drive = jnp.einsum("abu,u->ab", i3(C)[:K], c)  # [student i, any unit b]
    dR = eta * v[:, None] * drive[:, K:]
    lin = eta * v[:, None] * drive[:, :K]
    quad = jnp.einsum("ikuw,u,w->ik", i4(C)[:K, :K], c, c) + sigma**2 * j2(C)[:K, :K]
    dQ = lin + lin.T + eta**2 * v[:, None] * v[None, :] * quad
    dv = eta_v * i2(C)[:K] @ c
    return dQ, dR, dv


def integrate(Q0, R0, v0, T, v_star, *, eta: float, eta_v: float, sigma: float, times: Float[Array, " n"],
              rtol: float = 1e-7, atol: float = 1e-9):
    """Q, R, v and eps_g at `times` (t = steps / N), from the initial overlaps."""

    def field(t, y, args):
        Q, R, v = y
        return derivatives(Q, R, v, T, v_star, eta, eta_v, sigma)

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field), diffrax.Tsit5(), t0=0.0, t1=times[-1], dt0=1e-3, y0=(Q0, R0, v0),
        saveat=diffrax.SaveAt(ts=times), stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=1_000_000,
    )
    Q, R, v = sol.ys
    eg = jax.vmap(lambda q, r, vv: generalisation_error(q, r, T, vv, v_star))(Q, R, v)
    return Q, R, v, eg
