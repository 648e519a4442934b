"""Theory == simulation for the one-step GD reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.probes import gradient_descent as gd
from complab.tasks.linear_regression import Config, LinearRegression


@pytest.mark.parametrize("dim,context,noise", [(6, 12, 0.0), (10, 10, 0.0), (3, 20, 0.5)])
def test_closed_form_optimum_matches_simulation(dim, context, noise):
    task = LinearRegression(Config(dim=dim, context=context, noise=noise))
    b = task.sample(jax.random.key(0), "test", 200_000)
    s, y = gd.gd_statistic(b), b.y[:, -1, 0]
    eta_mc = float(jnp.mean(s * y) / jnp.mean(s * s))  # least squares over eta
    eta = gd.optimal_lr(dim, context, noise)
    loss_mc = float(0.5 * jnp.mean((eta * s - y) ** 2))
    # tolerances: Monte Carlo standard errors at 2e5 samples are ~1%
    assert eta_mc == pytest.approx(eta, rel=0.03)
    assert loss_mc == pytest.approx(gd.optimal_loss(dim, context, noise), rel=0.02)
    # and it is the optimum: 20% off in either direction is worse
    for f in (0.8, 1.2):
        assert float(0.5 * jnp.mean((f * eta * s - y) ** 2)) > loss_mc


def test_gd_statistic_is_one_gd_step_from_zero():
    task = LinearRegression(Config(dim=3, context=4))
    b = task.sample(jax.random.key(1), "train", 5)
    x, y, xq = np.asarray(b.x[:, :-1, :3]), np.asarray(b.x[:, :-1, 3]), np.asarray(b.x[:, -1, :3])
    eta = 0.7
    for i in range(5):
        w = np.zeros(3)
        grad = x[i].T @ (x[i] @ w - y[i]) / 4  # gradient of 1/(2N) sum (w.x - y)^2
        w1 = w - eta * grad
        assert float(eta * gd.gd_statistic(b)[i]) == pytest.approx(float(w1 @ xq[i]), rel=1e-5)


def test_cosine():
    a = jnp.array([1.0, 2.0, 3.0])
    assert float(gd.cosine(a, 2 * a)) == pytest.approx(1.0)
    assert float(gd.cosine(a, -a)) == pytest.approx(-1.0)
