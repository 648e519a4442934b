"""One step of gradient descent on the context, the in-context learning reference
(von Oswald et al. 2023, "Transformers learn in-context by gradient descent"), and a
comparison of predictions.

Starting from w_0 = 0, one GD step on the context loss L(w) = 1/(2N) sum_i (w.x_i - y_i)^2
gives w_1 = (eta / N) sum_i y_i x_i, so the prediction for the query is

    y^_GD(eta) = eta * s,   s = (1/N) sum_i y_i x_i . x_q.

The best eta in closed form is theory/one_step_gd.py.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.tasks.base import Batch


def gd_statistic(batch: Batch) -> Float[Array, " batch"]:
    """s = (1/N) sum_i y_i x_i . x_q for each sequence of in-context regression tokens [x, y]."""
    tokens = batch.x
    x, y = tokens[:, :-1, :-1], tokens[:, :-1, -1]
    x_q = tokens[:, -1, :-1]
    return jnp.einsum("bn,bnd,bd->b", y, x, x_q) / x.shape[1]


def cosine(a: Float[Array, " n"], b: Float[Array, " n"]) -> Float[Array, ""]:
    """Cosine similarity of two prediction vectors."""
    return jnp.dot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
