"""The trace of the Fisher information and the Fisher penalty (Jastrzebski et al. 2021,
"Catastrophic Fisher explosion: early phase Fisher matrix impacts generalization").

Tr F = E_x E_{y ~ p(.|x)} ||grad_theta log p(y|x)||^2, labels sampled from the model, not
the data. `fisher_trace` estimates it with one sampled label per example and per-example
gradients. `fisher_penalty` is the paper's cheap proxy added to the loss: the squared norm
of the mini-batch-mean gradient with model-sampled labels, ||(1/B') sum_i grad l(x_i,
y_i)||^2, on a sub-batch of B' examples (the sampling is not differentiated; the norm is,
by double backpropagation). Both take `logits(model, x [n, ...]) -> [n, classes]`.
"""

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.learners.meta import sq_norm


def _nll(logits: Array, y: Array) -> Array:
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1)[:, 0]


def fisher_trace(logits: Callable, model, x: Array, key: jax.Array) -> Array:
    """Mean over the examples x of ||grad log p(y|x)||^2 with y ~ p(.|x) (one draw each)."""
    y = jax.random.categorical(key, jax.lax.stop_gradient(logits(model, x)))

    def one(xi, yi):
        return sq_norm(eqx.filter_grad(lambda m: _nll(logits(m, xi[None]), yi[None])[0])(model))

    return jax.vmap(one)(x, y).mean()


def fisher_penalty(logits: Callable, model, x: Array, key: jax.Array) -> Array:
    """||grad of the mean NLL of model-sampled labels||^2 over the examples x (differentiable)."""
    y = jax.random.categorical(key, jax.lax.stop_gradient(logits(model, x)))
    return sq_norm(eqx.filter_grad(lambda m: _nll(logits(m, x), y).mean())(model))
