"""Real-time recurrent learning and its unbiased approximations: UORO (Tallec & Ollivier
2017), KF-RTRL (Mujika, Meier, Steger 2018) and the optimal Kronecker-sum approximation
OK(r) (Benzing, Gauy, Mujika, Martinsson, Steger 2019), for the gated cell of
models/gated_cell.py.

Exact RTRL carries the sensitivity G_t = dh_t/dW ([n, A, 2n]) through
G_t = H_t G_{t-1} + hat_h_t (x) D_t; the gradient of a loss at step t is
sum_k delta_k G_t[k] with delta = dL_t/dh_t. The approximations carry a cheaper G~ whose
expectation over their random signs is G at every step:

- `uoro`: G~ = u (x) v, u in R^n, v in R^{A x 2n}; with signs nu in {+-1}^n,
  u' = rho0 H u + rho1 nu, v' = v / rho0 + hat_h (x) (nu^T D) / rho1 (rho's balance norms);
- `kf`: G~ = u (x) M, u in R^A, M in R^{n x 2n}; with signs c1, c2,
  u' = c1 p1 u + c2 p2 hat_h, M' = c1 H M / p1 + c2 D / p2;
- `ok` (rank r): G~ = sum_i u_i (x) M_i. A step makes r + 1 Kronecker terms
  {u_i (x) H M_i} and hat_h (x) D; orthonormalising both sides (QR) and taking the SVD of
  the (r+1) x (r+1) coefficient matrix writes them as sum_s sigma_s a_s (x) B_s with
  orthonormal a's and B's. The largest are kept exactly; the m smallest (the largest m
  whose values can be spread over m - 1 terms: (m - 1) sigma_max <= their sum) become
  m - 1 terms of weight c = sum / (m - 1) along random-signed directions orthonormal to
  sqrt(1 - sigma (m - 1) / sum) (a Householder basis): unbiased, and the least variance
  any rank-r unbiased step can add, (sum sigma)^2 / (m - 1) - sum sigma^2.

Each side of a Kronecker term is rescaled to equal norms after a step (the product is
unchanged). `rank` counts Kronecker terms (1 for UORO and KF).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.config import require

EPS = 1e-12


@dataclass(frozen=True)
class Estimator:
    kind: Literal["exact", "uoro", "kf", "ok"] = "ok"
    rank: int = 1  # OK(r)'s Kronecker terms

    def __post_init__(self):
        require(self.kind in ("exact", "uoro", "kf", "ok") and self.rank >= 1,
                f"an RTRL estimator is exact, uoro, kf or ok with rank >= 1; got {self}")

    @property
    def label(self) -> str:
        return f"OK({self.rank})" if self.kind == "ok" else {"exact": "RTRL", "uoro": "UORO", "kf": "KF"}[self.kind]


class Sensitivity(eqx.Module):
    """G~ = sum_i left_i (x) right_i with left [r, A] and right [r, n, 2n] (exact: left is
    None and right the whole [n, A, 2n] tensor; UORO: left [1, n] on the state axis and
    right [1, A, 2n])."""

    left: Array | None
    right: Array


def start(est: Estimator, n: int, a: int, dtype=jnp.float32) -> Sensitivity:
    if est.kind == "exact":
        return Sensitivity(None, jnp.zeros((n, a, 2 * n), dtype))
    if est.kind == "uoro":
        return Sensitivity(jnp.zeros((1, n), dtype), jnp.zeros((1, a, 2 * n), dtype))
    r = est.rank if est.kind == "ok" else 1
    return Sensitivity(jnp.zeros((r, a), dtype), jnp.zeros((r, n, 2 * n), dtype))


def dense(est: Estimator, g: Sensitivity) -> Array:
    """G~ as an [n, A, 2n] tensor."""
    if est.kind == "exact":
        return g.right
    if est.kind == "uoro":
        return jnp.einsum("rk,raj->kaj", g.left, g.right)
    return jnp.einsum("ra,rkj->kaj", g.left, g.right)


def gradient(est: Estimator, g: Sensitivity, delta: Array) -> Array:
    """sum_k delta_k G~[k]: the loss gradient with respect to W ([A, 2n])."""
    if est.kind == "exact":
        return jnp.einsum("k,kaj->aj", delta, g.right)
    if est.kind == "uoro":
        return (g.left[0] @ delta) * g.right[0]
    return jnp.einsum("ra,rkj,k->aj", g.left, g.right, delta)


def _norm(x: Array) -> Array:
    return jnp.sqrt(jnp.sum(jnp.square(x)))


def _balance(left: Array, right: Array) -> tuple[Array, Array]:
    """Rescale each term's two sides to equal norms (zero terms stay zero)."""
    axes = tuple(range(1, right.ndim))
    nl, nr = jnp.sqrt(jnp.sum(left**2, 1)), jnp.sqrt(jnp.sum(right**2, axes))
    s = jnp.where((nl > EPS) & (nr > EPS), jnp.sqrt(nr / jnp.maximum(nl, EPS)), 1.0)
    return left * s[:, None], right / s.reshape((-1,) + (1,) * len(axes))


def _signs(key: jax.Array, shape, dtype) -> Array:
    return jnp.where(jax.random.bernoulli(key, 0.5, shape), 1.0, -1.0).astype(dtype)


def _mixed(sigma: Array) -> tuple[Array, Array, Array, Array]:
    """(sigma ascending, m, which of them are mixed, their sum): the largest m >= 2 whose
    smallest m values satisfy (m - 1) max <= sum."""
    asc = sigma[::-1]
    sizes = jnp.arange(1, sigma.shape[0] + 1)
    feasible = ((sizes - 1) * asc <= jnp.cumsum(asc) * (1 + 1e-6)) & (sizes >= 2)
    m = jnp.max(jnp.where(feasible, sizes, 2))
    mixed = sizes <= m
    return asc, m, mixed, jnp.sum(jnp.where(mixed, asc, 0.0))


def mixing(key: jax.Array, sigma: Array) -> tuple[Array, Array]:
    """For singular values `sigma` (descending, r + 1 of them): coefficients (P_left [r+1, r],
    P_right [r+1, r]) with E[P_left P_right^T] = diag(sigma) and the least expected squared
    norm possible for r terms: new term l = sum_s P_left[s, l] a_s (x) sum_s P_right[s, l] B_s."""
    k = sigma.shape[0]
    asc, m, mixed, total = _mixed(sigma)
    c = total / (m - 1)
    p = jnp.where(mixed, jnp.where(total > EPS, asc * (m - 1) / jnp.maximum(total, EPS), (m - 1) / m), 0.0)
    v = jnp.where(mixed, jnp.sqrt(jnp.clip(1 - p, 0.0, 1.0)), 0.0)
    w = v + jnp.eye(k, dtype=sigma.dtype)[0]
    house = jnp.eye(k, dtype=sigma.dtype) - 2 * jnp.outer(w, w) / jnp.sum(w**2)
    eps = jnp.where(mixed, _signs(key, (k,), sigma.dtype), 1.0)
    weight = jnp.where(mixed, c, asc)
    cols = (eps[:, None] * house)[:, 1:]  # [k, k - 1], ascending order
    return cols[::-1], (weight[:, None] * cols)[::-1]


def _ok_step(key, left: Array, right: Array) -> tuple[Array, Array]:
    """r + 1 Kronecker terms (left [r+1, A], right [r+1, n, 2n]) -> r terms, unbiased."""
    k = left.shape[0]
    q_l, r_l = jnp.linalg.qr(left.T)  # [A, k], [k, k]
    q_r, r_r = jnp.linalg.qr(right.reshape(k, -1).T)
    u, sigma, vt = jnp.linalg.svd(r_l @ r_r.T)
    a = (q_l @ u).T  # [k, A] orthonormal
    b = (q_r @ vt.T).T.reshape(right.shape)  # [k, n, 2n] orthonormal
    p_l, p_r = mixing(key, sigma)
    return p_l.T @ a, jnp.einsum("sl,skj->lkj", p_r, b)


def advance(est: Estimator, key: jax.Array, g: Sensitivity, big_h: Array, d: Array, hat: Array) -> Sensitivity:
    """G~ one step on: an unbiased estimate of H G~ + hat (x) D."""
    if est.kind == "exact":
        return Sensitivity(None, jnp.einsum("km,maj->kaj", big_h, g.right) + jnp.einsum("a,kj->kaj", hat, d))
    if est.kind == "uoro":
        nu = _signs(key, (big_h.shape[0],), d.dtype)
        hu, nf = big_h @ g.left[0], jnp.outer(hat, nu @ d)
        rho0 = jnp.sqrt((_norm(g.right) + EPS) / (_norm(hu) + EPS))
        rho1 = jnp.sqrt((_norm(nf) + EPS) / (_norm(nu) + EPS))
        return Sensitivity((rho0 * hu + rho1 * nu)[None], (g.right[0] / rho0 + nf / rho1)[None])
    hm = jnp.einsum("km,rmj->rkj", big_h, g.right)
    if est.kind == "kf":
        c = _signs(key, (2,), d.dtype)
        p1 = jnp.sqrt((_norm(hm) + EPS) / (_norm(g.left) + EPS))
        p2 = jnp.sqrt((_norm(d) + EPS) / (_norm(hat) + EPS))
        left = c[0] * p1 * g.left[0] + c[1] * p2 * hat
        right = c[0] * hm[0] / p1 + c[1] * d / p2
        return Sensitivity(left[None], right[None])
    left, right = _ok_step(key, jnp.concatenate([g.left, hat[None]]), jnp.concatenate([hm, d[None]]))
    return Sensitivity(*_balance(left, right))


def added_variance(sigma: Array) -> Array:
    """The variance OK's mixing adds at a step with singular values `sigma` (descending):
    (sum of the mixed)^2 / (m - 1) - sum of their squares."""
    asc, m, mixed, total = _mixed(sigma)
    return total**2 / (m - 1) - jnp.sum(jnp.where(mixed, asc**2, 0.0))
