"""The energy-entropy view of a minimum (Zhang, Saxe, Advani, Lee 2018): its Laplace free
energy, the gradient noise SGD feels there, and rank correlations with test error.

With N samples, the posterior exp(-N E(theta)) has, by Laplace's approximation around a
minimum, the free energy per sample

    F = E - T S = E + (1 / 2N) log det(N H + I)   (up to a constant),

the training error plus the temperature 1/N times the negative entropy -S = 1/2 log det of
the minimum's curvature: undersampling is the temperature, and a wide minimum (small
log det) can beat a deeper narrow one. The identity is the volume of a unit Gaussian prior:
it keeps F finite where H is singular (more parameters than samples; SPECS writes
E + (1/2N) log det H). The prior's own energy |theta|^2 / 2N is left out, as in the paper's
F = E - T S whose energy is the training error (at unit prior scale it would swamp both
terms: |theta|^2 / 2N is about 10 at N = 10 for the committee students). The result is NaN
at a saddle: an eigenvalue below -tol times the largest.
"""

import jax
import jax.numpy as jnp
import numpy as np


def free_energy(e_train: jax.Array, hessian: jax.Array, n: int, tol: float = 1e-3) -> jax.Array:
    """F at a minimum of the training error e_train with Hessian `hessian`; NaN at a saddle.
    Eigenvalues within the tolerance below zero count as flat (zero)."""
    eig = jnp.linalg.eigvalsh(hessian)
    f = e_train + jnp.sum(jnp.log(n * jnp.maximum(eig, 0.0) + 1.0)) / (2 * n)
    return jnp.where(eig[0] >= -tol * jnp.abs(eig).max(), f, jnp.nan)


def gradient_noise(per_sample_grads: jax.Array) -> jax.Array:
    """The covariance of one sample's gradient (the minibatch noise at batch 1, times 1)."""
    return jnp.cov(per_sample_grads.T)


def matrix_correlation(a: jax.Array, b: jax.Array) -> float:
    """Pearson's correlation of the two matrices' entries."""
    return float(np.corrcoef(np.asarray(a).ravel(), np.asarray(b).ravel())[0, 1])
