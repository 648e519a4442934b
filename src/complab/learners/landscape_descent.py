"""Many runs of descent on a one-dimensional data-built landscape (tasks/double_well.py):
full-batch gradient descent, minibatch SGD (`batch` samples drawn with replacement each
step), or gradient descent plus isotropic Gaussian gradient noise of a fixed variance
(Langevin dynamics at temperature lr noise_var / 2). One jitted scan over steps, vectorised
over runs."""

from functools import partial

import jax
import jax.numpy as jnp

from complab.tasks.double_well import DoubleWell


@partial(jax.jit, static_argnames=("world", "steps", "batch"))
def _descend(world: DoubleWell, theta0, lr, noise_var, key, steps: int, batch: int):
    every = jnp.arange(world.cfg.samples)[None]

    def step(theta, k):
        if batch:
            g = world.sample_grads(theta, jax.random.randint(k, theta.shape + (batch,), 0, world.cfg.samples)).mean(-1)
        else:
            g = world.sample_grads(theta, every).mean(-1) + jnp.sqrt(noise_var) * jax.random.normal(k, theta.shape)
        return theta - lr * g, None

    theta, _ = jax.lax.scan(step, theta0, jax.random.split(key, steps))
    return theta


def descend(world: DoubleWell, theta0: jax.Array, lr: float, steps: int, key: jax.Array, batch: int = 0,
            noise_var: float = 0.0) -> jax.Array:
    """Final positions of the runs started at theta0. batch = 0 is full-batch (with
    `noise_var` > 0 the Langevin variant); batch > 0 is SGD and ignores noise_var."""
    return _descend(world, theta0, lr, noise_var, key, steps, batch)
