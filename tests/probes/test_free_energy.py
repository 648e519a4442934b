"""The free-energy probe: the Laplace formula, the gradient-noise covariance, and the
correlations it reports."""

import jax.numpy as jnp
import numpy as np

from complab.probes import free_energy as fe


def test_free_energy_is_energy_plus_the_log_volume_at_temperature_one_over_n():
    h = jnp.diag(jnp.array([2.0, 0.5, 0.0]))  # a flat direction is held by the prior
    n, e = 10, jnp.asarray(0.3)
    want = 0.3 + (np.log(21.0) + np.log(6.0) + np.log(1.0)) / (2 * n)
    assert np.isclose(float(fe.free_energy(e, h, n)), want)
    assert float(fe.free_energy(e, 2 * h, n)) > float(fe.free_energy(e, h, n))
    rotation = jnp.linalg.qr(jnp.asarray(np.random.default_rng(0).normal(size=(3, 3))))[0]
    assert np.isclose(float(fe.free_energy(e, rotation @ h @ rotation.T, n)), want, atol=1e-5)


def test_a_saddle_has_no_free_energy_and_a_nearly_flat_direction_counts_as_flat():
    assert np.isnan(float(fe.free_energy(jnp.asarray(0.3), jnp.diag(jnp.array([1.0, -0.1])), 10)))
    assert np.isclose(float(fe.free_energy(jnp.asarray(0.3), jnp.diag(jnp.array([1.0, -1e-4])), 10)),
                      0.3 + np.log(11.0) / 20)


def test_gradient_noise_is_the_covariance_of_per_sample_gradients():
    g = np.random.default_rng(0).normal(size=(500, 4)) @ np.diag([1.0, 2.0, 3.0, 4.0])
    assert np.allclose(np.asarray(fe.gradient_noise(jnp.asarray(g))), np.cov(g.T), atol=1e-5)


def test_matrix_correlation():
    m = np.random.default_rng(1).normal(size=(5, 5))
    assert np.isclose(fe.matrix_correlation(m, 2 * m + 1), 1.0)
    assert abs(fe.matrix_correlation(np.eye(50), np.random.default_rng(2).normal(size=(50, 50)))) < 0.2
