"""The energy-entropy view of a minimum (Zhang, Saxe, Advani, Lee 2018): its Laplace free
energy, the gradient noise SGD feels there, and rank correlations with test error.

With N samples, the posterior exp(-N E(theta)) under a unit Gaussian prior has, by Laplace's
approximation around a minimum, the free energy per sample

    F = E + (1 / 2N) log det(N H + I)   (up to a constant),

the training error plus the temperature 1/N times the negative entropy -S = 1/2 log det of
the minimum's curvature: undersampling is the temperature, and a wide minimum (small
log det) can beat a deeper narrow one. The unit prior keeps F finite where H is singular
(more parameters than samples); without it the formula is SPECS' E + (1/2N) log det H.
"""

import jax
import jax.numpy as jnp
import numpy as np


def free_energy(e_train: jax.Array, hessian: jax.Array, n: int) -> jax.Array:
    return e_train + jnp.linalg.slogdet(n * hessian + jnp.eye(hessian.shape[-1]))[1] / (2 * n)


def gradient_noise(per_sample_grads: jax.Array) -> jax.Array:
    """The covariance of one sample's gradient (the minibatch noise at batch 1, times 1)."""
    return jnp.cov(per_sample_grads.T)


def matrix_correlation(a: jax.Array, b: jax.Array) -> float:
    """Pearson's correlation of the two matrices' entries."""
    return float(np.corrcoef(np.asarray(a).ravel(), np.asarray(b).ravel())[0, 1])


def spearman(a, b) -> float:
    """Spearman's rank correlation (ties broken by order; the values here are continuous)."""
    ra, rb = np.argsort(np.argsort(np.asarray(a))), np.argsort(np.argsort(np.asarray(b)))
    return float(np.corrcoef(ra, rb)[0, 1])
