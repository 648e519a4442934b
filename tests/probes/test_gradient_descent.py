import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.probes import gradient_descent as gd
from complab.tasks.linear_regression import Config, LinearRegression


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
