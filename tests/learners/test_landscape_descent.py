"""Descent on the double well: gradient descent goes to the minimum of its basin, noise-free
Langevin is gradient descent, SGD's minibatch gradients average to the full gradient, and
the noisiest SGD leaves the narrow minimum where gradient descent stays."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.learners.landscape_descent import descend
from complab.tasks.double_well import Config, DoubleWell

WORLD = DoubleWell(Config(), seed=0)
LM = WORLD.landmarks
LR = 1.0 / LM["curvature"][1]


def test_gradient_descent_ends_in_the_minimum_of_its_basin_and_zero_noise_langevin_is_the_same():
    start = jnp.array([LM["wide"] - 0.5, LM["barrier"] - 0.05, LM["barrier"] + 0.05, LM["narrow"] + 0.2])
    end = np.asarray(descend(WORLD, start, LR, 3000, jax.random.key(0)))
    assert np.allclose(end, [LM["wide"], LM["wide"], LM["narrow"], LM["narrow"]], atol=2e-2)
    same = np.asarray(descend(WORLD, start, LR, 3000, jax.random.key(1), noise_var=0.0))
    assert np.array_equal(end, same)


def test_sgd_batches_average_to_the_full_gradient():
    theta = jnp.full((20000,), LM["narrow"] + 0.05)
    one_step = (np.asarray(descend(WORLD, theta, 1.0, 1, jax.random.key(2), batch=4)) - float(theta[0]))
    full = WORLD.sample_grads(np.array([float(theta[0])]), np.arange(Config().samples)[None], xp=np).mean()
    spread = np.sqrt(LM["noise"][1] / 4 / theta.shape[0])
    assert abs(-one_step.mean() - full) < 5 * spread + 1e-3


def test_the_noisiest_sgd_leaves_the_narrow_minimum_where_gradient_descent_stays():
    start = jnp.full((200,), LM["narrow"])
    gd = np.asarray(descend(WORLD, start, LR, 4000, jax.random.key(3)))
    sgd = np.asarray(descend(WORLD, start, LR, 4000, jax.random.key(3), batch=1))
    assert (gd > LM["barrier"]).all() and (sgd < LM["barrier"]).mean() > 0.2
