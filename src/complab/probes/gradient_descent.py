"""One step of gradient descent on the context, the in-context learning reference
(von Oswald et al. 2023, "Transformers learn in-context by gradient descent").

Starting from w_0 = 0, one GD step on the context loss L(w) = 1/(2N) sum_i (w.x_i - y_i)^2
gives w_1 = (eta / N) sum_i y_i x_i, so the prediction for the query is

    y^_GD(eta) = (eta / N) sum_i y_i x_i . x_q.

For x ~ N(0, I_d), w ~ N(0, I_d) and label noise sigma the best learning rate and its
loss have closed forms (from E[(x_i.x_q)^2] = d and E[|x|^4] = d(d + 2)):

    eta* = N / (N + d + 1 + sigma^2),
    L(eta*) = (d + sigma^2) / 2 - d N / (2 (N + d + 1 + sigma^2)),

with L the half squared error. Tests check both against simulation.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.tasks.base import Batch


def gd_statistic(batch: Batch) -> Float[Array, " batch"]:
    """s = (1/N) sum_i y_i x_i . x_q for each sequence (the GD prediction is eta * s)."""
    tokens = batch.x
    x, y = tokens[:, :-1, :-1], tokens[:, :-1, -1]
    x_q = tokens[:, -1, :-1]
    return jnp.einsum("bn,bnd,bd->b", y, x, x_q) / x.shape[1]


def optimal_lr(dim: int, context: int, noise: float) -> float:
    """The learning rate eta* minimising the expected query loss of one GD step."""
    return context / (context + dim + 1 + noise**2)


def optimal_loss(dim: int, context: int, noise: float) -> float:
    """The expected half squared query error of one GD step at eta*."""
    return (dim + noise**2) / 2 - dim * context / (2 * (context + dim + 1 + noise**2))


def cosine(a: Float[Array, " n"], b: Float[Array, " n"]) -> Float[Array, ""]:
    """Cosine similarity of two prediction vectors."""
    return jnp.dot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
