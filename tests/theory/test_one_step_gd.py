"""Theory == simulation for the best one-step GD reference."""

import jax
import jax.numpy as jnp
import pytest

from complab.probes import gradient_descent as gd
from complab.tasks.linear_regression import Config, LinearRegression
from complab.theory import one_step_gd


@pytest.mark.parametrize("dim,context,noise", [(6, 12, 0.0), (10, 10, 0.0), (3, 20, 0.5)])
def test_closed_form_optimum_matches_simulation(dim, context, noise):
    task = LinearRegression(Config(dim=dim, context=context, noise=noise))
    b = task.sample(jax.random.key(0), "test", 200_000)
    s, y = gd.gd_statistic(b), b.y[:, -1, 0]
    eta_mc = float(jnp.mean(s * y) / jnp.mean(s * s))  # least squares over eta
    eta = one_step_gd.optimal_lr(dim, context, noise)
    loss_mc = float(0.5 * jnp.mean((eta * s - y) ** 2))
    # tolerances: Monte Carlo standard errors at 2e5 samples are ~1%
    assert eta_mc == pytest.approx(eta, rel=0.03)
    assert loss_mc == pytest.approx(one_step_gd.optimal_loss(dim, context, noise), rel=0.02)
    # and it is the optimum: 20% off in either direction is worse
    for f in (0.8, 1.2):
        assert float(0.5 * jnp.mean((f * eta * s - y) ** 2)) > loss_mc
