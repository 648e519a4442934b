"""The Fisher trace estimate is unbiased for the exact trace (labels from the model), and
the Fisher penalty is the squared norm of the sampled-label mini-batch gradient."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab.learners.fisher import fisher_penalty, fisher_trace
from complab.learners.meta import sq_norm
from complab.models import mlp


def _logits(model, x):
    return jax.vmap(model.logits)(x)


MODEL = mlp.MLP(mlp.Config(hidden=(6,)), 4, 3, key=jax.random.key(0))
X = jax.random.normal(jax.random.key(1), (5, 4))


def _exact_trace():
    """sum over every label y of p(y|x) ||grad log p(y|x)||^2, averaged over x."""
    total = 0.0
    for x in X:
        p = jax.nn.softmax(MODEL.logits(x))
        for y in range(3):
            g = eqx.filter_grad(lambda m: jax.nn.log_softmax(m.logits(x))[y])(MODEL)  # noqa: B023
            total += float(p[y] * sq_norm(g))
    return total / len(X)


def test_the_sampled_trace_averages_to_the_exact_trace():
    draws = jax.vmap(lambda k: fisher_trace(_logits, MODEL, X, k))(jax.random.split(jax.random.key(2), 4000))
    exact = _exact_trace()
    assert abs(float(draws.mean()) - exact) < 4 * float(draws.std()) / np.sqrt(4000)
    assert float(draws.std()) > 0  # a real estimate, not the exact sum


def test_the_penalty_is_the_squared_norm_of_the_mean_gradient_and_is_differentiable():
    key = jax.random.key(3)
    # one example: the mean gradient is that example's, the same label is drawn as in the trace
    np.testing.assert_allclose(fisher_penalty(_logits, MODEL, X[:1], key), fisher_trace(_logits, MODEL, X[:1], key),
                               rtol=1e-5)
    # several examples: the norm of the mean, smaller than the mean of the norms (Jensen)
    assert float(fisher_penalty(_logits, MODEL, X, key)) < float(fisher_trace(_logits, MODEL, X, key))
    g = eqx.filter_grad(lambda m: fisher_penalty(_logits, m, X, key))(MODEL)
    assert np.isfinite(float(sq_norm(g))) and float(sq_norm(g)) > 0
    # the gradient is the penalty's own: a small step against it lowers the penalty (same sampled labels)
    down = jax.tree.map(lambda p, d: p - 1e-3 * d, MODEL, g)
    assert float(fisher_penalty(_logits, down, X, key)) < float(fisher_penalty(_logits, MODEL, X, key))
    assert jnp.isfinite(fisher_penalty(_logits, down, X, key))
