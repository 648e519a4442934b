"""The gated cell's Jacobians are autodiff's: H = dh_t/dh_{t-1} and F = hat_h (x) D =
dh_t/dW at one step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab.models.gated_cell import GatedCell


def test_jacobians_match_autodiff():
    with jax.enable_x64(True):
        cell = jax.tree.map(lambda a: 50.0 * a.astype(jnp.float64), GatedCell(5, 3, 4, key=jax.random.key(0)))
        h = jax.random.normal(jax.random.key(1), (5,), jnp.float64)
        x = jax.random.normal(jax.random.key(2), (3,), jnp.float64)
        new, big_h, d, hat = cell.jacobians(h, x)
        np.testing.assert_allclose(new, cell.step(h, x), rtol=1e-14)
        np.testing.assert_allclose(big_h, jax.jacobian(lambda h: cell.step(h, x))(h), atol=1e-14)
        dw = jax.jacobian(lambda w: eqx.tree_at(lambda c: c.w, cell, w).step(h, x))(cell.w)  # [n, A, 2n]
        np.testing.assert_allclose(jnp.einsum("a,kj->kaj", hat, d), dw, atol=1e-14)
        assert np.abs(np.asarray(big_h - jnp.diag(jnp.diag(big_h)))).max() > 1e-3  # not diagonal: real recurrence
