"""The nnRNN's recurrence is the real Schur form P (Theta + T) P^T: orthogonal when T = 0
and |alpha| = 1, with eigenvalue moduli alpha; the plain RNN's is free."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.models import nnrnn


def _model(kind, hidden=8):
    return nnrnn.NonNormalRNN(nnrnn.Config(kind=kind, hidden=hidden), 5, 3, key=jax.random.key(0))


@pytest.mark.parametrize("kind", ["nnrnn", "orthogonal"])
def test_at_initialisation_v_is_orthogonal(kind):
    v = _model(kind).recurrent()
    np.testing.assert_allclose(v.T @ v, np.eye(8), atol=1e-5)


def test_v_is_p_theta_plus_t_p_transposed_with_moduli_alpha():
    m = _model("nnrnn")
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    m = eqx.tree_at(lambda m: (m.s, m.alpha, m.t), m, (jax.random.normal(k1, (8, 8)),
                                                      jax.random.uniform(k2, (4,), minval=0.5, maxval=1.5),
                                                      jax.random.normal(k3, (8, 8))))
    upper = jnp.triu(m.s, 1)
    p = jax.scipy.linalg.expm(upper - upper.T)
    np.testing.assert_allclose(p.T @ p, np.eye(8), atol=1e-5)
    np.testing.assert_allclose(p.T @ m.recurrent() @ p, nnrnn.block_rotations(m.alpha, m.theta) + jnp.triu(m.t, 1),
                               atol=1e-4)
    # with T zero inside the 2 x 2 blocks, V is block triangular in that basis: eigenvalue moduli alpha
    i = np.arange(0, 8, 2)
    m = eqx.tree_at(lambda m: m.t, m, m.t.at[i, i + 1].set(0.0))
    moduli = np.sort(np.abs(np.linalg.eigvals(np.asarray(m.recurrent()))))
    np.testing.assert_allclose(moduli, np.sort(np.repeat(np.asarray(m.alpha), 2)), rtol=1e-3)


def test_orthogonal_kind_has_no_moduli_or_non_normal_part_and_rnn_is_free():
    o, r = _model("orthogonal"), _model("rnn")
    assert o.alpha is None and o.t is None and float(jnp.abs(o.non_normal()).max()) == 0.0
    assert r.s is None and r.v is not None and not np.allclose(r.v.T @ r.v, np.eye(8), atol=0.1)


def test_modrelu_and_the_forward_pass():
    z = jnp.array([-2.0, -0.05, 0.05, 2.0])
    np.testing.assert_allclose(nnrnn.modrelu(z, jnp.full(4, -0.1)), [-1.9, 0.0, 0.0, 1.9], atol=1e-6)
    m = _model("nnrnn")
    x = jax.random.normal(jax.random.key(2), (6, 5))
    out = m(x)
    assert out.shape == (6, 3)
    h = jnp.zeros(8)
    for t in range(6):  # the scan is the recurrence
        h = nnrnn.modrelu(m.u @ x[t] + m.recurrent() @ h, m.b)
    np.testing.assert_allclose(m.trace(x)["hidden"][-1], h, atol=1e-5)


def test_an_odd_width_is_refused():
    with pytest.raises(ConfigError, match="even"):
        nnrnn.Config(hidden=7)
