"""Training and generalisation error of a linear student over training time (Advani &
Saxe 2020, "High-dimensional dynamics of generalization error in neural networks",
Neural Networks 132).

Teacher y = w_bar . x + eps with w_bar ~ N(0, sigma_w^2 I_N) and eps ~ N(0, sigma_eps^2);
P examples x_mu with i.i.d. N(0, 1/N) entries, alpha = P / N. The student y^ = w . x
starts at w0 ~ N(0, sigma_0^2 I_N) and follows the gradient flow of the summed squared
error, dw/dt = X^T (y - X w). In the eigenbasis of X^T X every direction relaxes on its
own; the eigenvalues follow the Marchenko-Pastur law with edges (1 -+ sqrt alpha)^2,
density rho(l) = sqrt((l+ - l)(l - l-)) / (2 pi l) (mass min(alpha, 1)) plus a mass
(1 - alpha) at l = 0 when alpha < 1: directions the data never move (the frozen
subspace, which keeps its initial weights). With E_g = E[(y - w . x)^2] over a fresh
example and E_t = |y - X w|^2 / P:

    E_g(t) = int rho(l) [(sigma_w^2 + sigma_0^2) e^{-2 l t} + sigma_eps^2 (1 - e^{-l t})^2 / l] dl
             + (1 - alpha)^+ (sigma_w^2 + sigma_0^2) + sigma_eps^2
    E_t(t) = (1 / alpha) int rho(l) (sigma_eps^2 + l (sigma_w^2 + sigma_0^2)) e^{-2 l t} dl
             + (1 - 1 / alpha)^+ sigma_eps^2

(integrals over the continuous part). At long times E_g approaches
sigma_eps^2 min(alpha, 1) / |1 - alpha| + (1 - alpha)^+ (sigma_w^2 + sigma_0^2) + sigma_eps^2,
which diverges at alpha = 1: overtraining hurts most when examples and parameters are
equal in number. The integrals are taken by Gauss-Legendre quadrature after the
substitution l = l- + (l+ - l-)(1 - cos th) / 2, which removes the square-root edges.
"""

from functools import lru_cache

import numpy as np

NODES = 400


def edges(alpha: float) -> tuple[float, float]:
    """The Marchenko-Pastur support (l-, l+) of X^T X."""
    return (1 - np.sqrt(alpha)) ** 2, (1 + np.sqrt(alpha)) ** 2


@lru_cache(maxsize=4)
def _legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(nodes)


@lru_cache(maxsize=64)
def _quadrature(alpha: float, nodes: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues l_i, weights w_i) with sum_i w_i f(l_i) ~ int rho(l) f(l) dl over the
    continuous part."""
    lo, hi = edges(alpha)
    x, w = _legendre(nodes)
    th = np.pi * (x + 1) / 2  # (0, pi)
    lam = lo + (hi - lo) * (1 - np.cos(th)) / 2
    # rho dl = sqrt((hi - l)(l - lo)) / (2 pi l) * (hi - lo)/2 sin th dth, sqrt(...) = (hi - lo)/2 sin th
    dens = ((hi - lo) / 2 * np.sin(th)) ** 2 / (2 * np.pi * lam)
    return lam, dens * w * np.pi / 2


def continuous_mass(alpha: float) -> float:
    """int rho over the continuous part (min(alpha, 1) exactly; the quadrature's value)."""
    return float(_quadrature(alpha)[1].sum())


def generalization_error(t, alpha: float, sigma_w: float, sigma_0: float, sigma_eps: float) -> np.ndarray:
    """E_g at times t (gradient-flow time)."""
    t = np.asarray(t, np.float64)[..., None]
    lam, w = _quadrature(alpha)
    signal = sigma_w**2 + sigma_0**2
    decay = np.exp(-lam * t)
    # (1 - e^{-l t})^2 / l, written with expm1 so that small l t keeps its digits
    noise = np.expm1(-lam * t) ** 2 / lam
    inside = (w * (signal * decay**2 + sigma_eps**2 * noise)).sum(-1)
    return inside + max(1 - alpha, 0.0) * signal + sigma_eps**2


def training_error(t, alpha: float, sigma_w: float, sigma_0: float, sigma_eps: float) -> np.ndarray:
    """E_t at times t (gradient-flow time)."""
    t = np.asarray(t, np.float64)[..., None]
    lam, w = _quadrature(alpha)
    signal = sigma_w**2 + sigma_0**2
    inside = (w * (sigma_eps**2 + lam * signal) * np.exp(-2 * lam * t)).sum(-1) / alpha
    return inside + max(1 - 1 / alpha, 0.0) * sigma_eps**2


def asymptotic_generalization_error(alpha: float, sigma_w: float, sigma_0: float, sigma_eps: float) -> float:
    """lim E_g(t) as t -> infinity (infinite at alpha = 1)."""
    if alpha == 1:
        return float("inf")
    signal = sigma_w**2 + sigma_0**2
    return sigma_eps**2 * min(alpha, 1) / abs(1 - alpha) + max(1 - alpha, 0.0) * signal + sigma_eps**2
