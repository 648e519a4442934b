"""The noise measures from moments equal their direct definitions, and the meter's
moments are the sums of the estimators' batch gradients on the same episodes."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.learners import contribution as co
from complab.learners.gradient_noise import NoiseMeter, noise_stats
from complab.tasks import tree_env as te


def test_moments_give_the_direct_definitions():
    g = np.random.default_rng(0).normal(0.3, 1.0, (50, 7))
    truth = np.full(7, 0.25)
    got = noise_stats(truth, g.mean(0), np.sum(g**2, 1).mean(), 50)
    spread = np.sum((g - g.mean(0)) ** 2, 1).mean()
    np.testing.assert_allclose(got["variance_db"], 10 * np.log10(spread / np.sum(truth**2)))
    np.testing.assert_allclose(got["snr_db"], 10 * np.log10(np.sum(truth**2) / np.sum((g - truth) ** 2, 1).mean()))
    np.testing.assert_allclose(got["bias_se"], np.linalg.norm(g.mean(0) - truth) / np.sqrt(spread / 50))
    jitted = jax.jit(noise_stats, static_argnums=3)(jnp.asarray(truth), jnp.asarray(g.mean(0)),
                                                      jnp.asarray(np.sum(g**2, 1).mean()), 50)
    np.testing.assert_allclose(float(jitted["variance_db"]), got["variance_db"], rtol=1e-4)


def test_the_meter_sums_each_estimators_batch_gradients():
    env = te.Tree(te.Config(depth=3, overlap=2))
    theta, rows = jnp.zeros((env.states, 6)), jnp.arange(env.states)
    meter = NoiseMeter(env, theta, rows, env.last, 3, 0.0, episodes=2)
    state = meter.init(jax.random.key(0))
    keys = jax.random.split(jax.random.key(1), 3)
    for k in keys:
        state, _ = meter.step(k, state, None)
    pi = co.policy(theta, rows, 0.0)
    for i, (m, w) in enumerate(zip(meter.methods, meter.weights)):
        batches = []
        for k in keys:
            s, a, u, r = jax.vmap(lambda kk: env.rollout(kk, pi))(jax.random.split(k, 2))
            batches.append(jax.vmap(lambda *e, m=m, w=w: co.estimate(m, theta, rows, 0.0, w, *e))(s, a, u, r).mean(0))
        np.testing.assert_allclose(state.total[i], sum(batches), atol=1e-5)
        np.testing.assert_allclose(state.squares[i], sum(float(jnp.sum(b**2)) for b in batches), rtol=1e-5)
    assert int(state.count) == 3
