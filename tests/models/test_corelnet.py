"""CoRelNet's relation matrix is the authors' masked, mirrored row softmax, and the decision
sees the objects only through their similarities."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab.models import corelnet as cn


def test_relation_matrix_is_the_lower_row_softmax_mirrored():
    z = jax.random.normal(jax.random.key(0), (5, 3))
    r = np.asarray(cn.relation_matrix(z))
    np.testing.assert_allclose(r, r.T, atol=1e-7)
    s = np.asarray(z @ z.T)
    for i in range(5):
        row = np.exp(s[i, :i + 1] - s[i, :i + 1].max())
        np.testing.assert_allclose(r[i, :i + 1], row / row.sum(), rtol=1e-5)
    assert r[0, 0] == 1.0  # the first row attends to itself alone


def test_the_decision_sees_only_similarities():
    """Rotating every normalised embedding by one orthogonal matrix leaves CoRelNet's answer unchanged."""
    m = cn.RelationalNet(cn.Config(kind="corelnet", dim=6, length=4), 64, 3, key=jax.random.key(1))
    x = jax.random.uniform(jax.random.key(2), (4, 64))
    q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(3), (6, 6)))
    z = m.normalised(x)
    rotated = m.head(cn.relation_matrix(z @ q.T).reshape(-1))
    np.testing.assert_allclose(rotated, m(x)[-1], atol=1e-4)
    assert float(jnp.abs(m(x)[:-1]).max()) == 0.0  # the answer only at the last position


def test_context_normalisation_and_the_lstm_variant():
    m = cn.RelationalNet(cn.Config(kind="lstm", dim=6, length=4), 64, 3, key=jax.random.key(1))
    x = jax.random.uniform(jax.random.key(2), (4, 64))
    z, live = m.normalised(x), np.asarray(jax.vmap(m.encoder)(x).std(0)) > 1e-3  # dims the ReLU left alive
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(z.std(0, ddof=1))[live], 1.0, atol=1e-3)  # torch's unbiased variance
    assert live.sum() >= 2
    assert m(jnp.zeros((4, 64)) + 0.5).shape == (4, 3) and m.head is None and isinstance(m.rnn, eqx.Module)
