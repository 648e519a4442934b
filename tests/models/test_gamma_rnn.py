"""The adaptive activation: the custom derivatives equal autodiff of the formula, its
endpoints are softplus and sigmoid, and the RNN's recurrence is what it says."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.models import gamma_rnn as gr


def test_the_analytic_derivatives_equal_autodiff_of_the_formula():
    with jax.enable_x64(True):
        k = jax.random.split(jax.random.key(0), 3)
        x = 3 * jax.random.normal(k[0], (200,), jnp.float64)
        n = jax.random.uniform(k[1], (200,), jnp.float64, 0.2, 6.0)
        s = jax.random.uniform(k[2], (200,), jnp.float64)
        for arg in range(3):
            custom = jax.vmap(jax.grad(gr.gamma, argnums=arg))(x, n, s)
            auto = jax.vmap(jax.grad(gr.gamma_reference, argnums=arg))(x, n, s)
            np.testing.assert_allclose(custom, auto, atol=1e-12)
        np.testing.assert_allclose(gr.gamma(x, n, s), gr.gamma_reference(x, n, s), atol=1e-15)


def test_the_endpoints_are_softplus_and_sigmoid_and_large_gain_approaches_relu():
    x = jnp.linspace(-4, 4, 41)
    one = jnp.ones(41)
    np.testing.assert_allclose(gr.gamma(x, one, 0 * one), jax.nn.softplus(x), atol=1e-6)
    np.testing.assert_allclose(gr.gamma(x, one, one), jax.nn.sigmoid(x), atol=1e-6)
    np.testing.assert_allclose(gr.gamma(x, 50 * one, 0 * one), jax.nn.relu(x), atol=0.02)


@pytest.mark.parametrize("activation", gr.ACTIVATIONS)
def test_the_recurrence_and_which_shape_parameters_learn(activation):
    m = gr.GammaRNN(gr.Config(hidden=8, activation=activation), 3, 4, key=jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (5, 3))
    n, s = m.shape()
    h = jnp.zeros(8)
    for t in range(5):
        h = gr.gamma_reference(m.u @ x[t] + m.b + m.w @ h, n, s)
    np.testing.assert_allclose(m.states(x)[-1], h, atol=1e-5)
    np.testing.assert_allclose(m.last(x), m(x)[-1], atol=1e-6)
    grads = jax.grad(lambda mm: mm.last(x).sum())(m)
    learns = float(jnp.abs(grads.n).sum() + jnp.abs(grads.s).sum()) > 0
    assert learns == (activation != "fixed")
    assert n.shape == ((8,) if activation == "heterogeneous" else (1,))


def test_impossible_shapes_are_refused():
    with pytest.raises(ConfigError, match="s0"):
        gr.Config(s0=1.5)
