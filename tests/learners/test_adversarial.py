"""The relaxed worst-case objective: q = 1 is the mean, large q tends to the maximum, the seed
average sits inside the power, and every token carries its sequence's seed."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab.learners import adversarial
from complab.tasks.base import Batch


def test_q_norm_is_the_mean_at_1_and_tends_to_the_max():
    losses = jnp.array([0.1, 0.5, 2.0, 0.3])
    assert np.isclose(adversarial.q_norm(losses, 1.0), losses.mean())
    norms = [float(adversarial.q_norm(losses, q)) for q in (2.0, 8.0, 40.0)]
    assert norms[0] < norms[1] < norms[2] < 2.0 and norms[2] > 1.9  # 2 * (1/4)^(1/40) = 1.93


def test_q_norm_of_tiny_or_zero_losses_is_finite_and_so_is_its_gradient():
    tiny = jnp.array([1e-6, 3e-6, 2e-6])
    assert np.isclose(float(adversarial.q_norm(tiny, 8.0)), float(np.mean(np.asarray(tiny, np.float64) ** 8) ** 0.125),
                      rtol=1e-4)
    for losses in (tiny, jnp.zeros(3)):
        assert np.all(np.isfinite(jax.grad(lambda x: adversarial.q_norm(x, 8.0))(losses)))


def test_every_token_carries_its_sequences_seed():
    x = jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2)
    seeds = jnp.arange(2 * 4 * 5, dtype=jnp.float32).reshape(2, 4, 5)
    xs = np.asarray(adversarial.with_seeds(x, seeds))
    x, seeds = np.asarray(x), np.asarray(seeds)
    assert xs.shape == (2, 4, 3, 7)
    assert np.all(xs[1, 2, :, :2] == x[1]) and np.all(xs[1, 2, :, 2:] == seeds[1, 2])


class _ReadSeed(eqx.Module):
    """Predicts the first seed coordinate of its last token, whatever the input."""

    def last(self, x):
        return x[-1, -1:]


def test_the_seed_average_sits_inside_the_power():
    batch = Batch(x=jnp.zeros((2, 1, 1)), y=jnp.zeros((2, 1, 1)), mask=jnp.ones((2, 1)), info={})
    seeds = jnp.array([[[0.0], [2.0]], [[1.0], [1.0]]])  # input 0: losses 0 and 4; input 1: 1 and 1

    def draw(key, shape):
        return seeds

    loss = adversarial.seeded_loss(lambda p, t: jnp.mean((p - t) ** 2, -1), draw, q=2.0, m=2)
    # per-input seed means 2 and 1, then the 2-norm over inputs: sqrt((4 + 1) / 2)
    assert np.isclose(float(loss(_ReadSeed(), batch, jax.random.key(0))), np.sqrt(2.5))
