"""The sampling noise of policy-gradient estimators at a fixed tabular policy, as
Meulemans, Schug, Kobayashi, Daw, Wayne 2023 (COCOA) measure it (their `callback.py`):
against the exact gradient g of dynamic programming, over many batch estimates g_i,

    variance = mean_i ||g_i - mean_j g_j||^2 / ||g||^2,    SNR = ||g||^2 / mean_i ||g_i - g||^2

(both reported in dB), and the error of the mean in standard errors, ||mean_i g_i - g|| /
sqrt(variance ||g||^2 / n) (an unbiased estimator stays within a few). All three follow from
the mean of the estimates and the mean of their squared norms, so they can be accumulated
batch by batch (`NoiseMeter`) or taken from a stack of estimates (`noise_stats`).

`NoiseMeter` is the authors' `lr_agent = 0` run as a learner: each step draws `episodes`
episodes at the fixed policy and adds every estimator's batch-mean gradient (all from the
same episodes: the comparison between estimators is paired) to running moments; the
policy never changes. Its estimators and exact coefficients are those of
learners/contribution.py.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from complab.learners import contribution as co
from complab.learners.base import AbstractLearner
from complab.theory import tabular_mdp as dp


def noise_stats(truth, mean, mean_sq, n: int) -> dict:
    """variance_db, snr_db and bias_se of `n` estimates whose mean is `mean` and whose
    squared norms average `mean_sq`, against the exact gradient `truth` (NumPy in, NumPy
    out; JAX arrays inside a jitted evaluation)."""
    xp = np if isinstance(mean, np.ndarray) else jnp
    t2 = xp.sum(truth**2)
    spread = mean_sq - xp.sum(mean**2)  # mean_i ||g_i - mean||^2
    miss = mean_sq - 2 * xp.sum(mean * truth) + t2  # mean_i ||g_i - truth||^2
    return {"variance_db": 10 * xp.log10(spread / t2), "snr_db": 10 * xp.log10(t2 / miss),
            "bias_se": xp.sqrt(xp.sum((mean - truth) ** 2)) / xp.sqrt(spread / n)}


class Moments(eqx.Module):
    total: Float[Array, "M R A"]  # the sum of the batch estimates, per method
    squares: Float[Array, " M"]  # the sum of their squared norms
    count: Array  # the number of batches


class NoiseMeter(AbstractLearner):
    """Accumulates the batch estimates of every method in `methods` at the policy
    co.policy(theta, rows, eps) of a tabular MDP `env` (with `rollout`, `next_state`,
    `reward_probs`, `values`; episodes of `horizon` steps from state 0, `last` marking the
    states whose step ends them)."""

    env: Any
    theta: Array
    rows: Array
    last: Array
    weights: tuple  # the exact coefficients of each method (None for REINFORCE)
    horizon: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)
    episodes: int = eqx.field(static=True)
    methods: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, env, theta, rows, last, horizon: int, eps: float = 0.0, episodes: int = 4,
                 methods: tuple[str, ...] = co.METHODS):
        self.env, self.theta, self.rows, self.last = env, theta, rows, last
        self.horizon, self.eps, self.episodes, self.methods = horizon, eps, episodes, tuple(methods)
        pi = co.policy(theta, rows, eps)
        self.weights = tuple(co.coefficients(m, pi, env.next_state, env.reward_probs, last, horizon) for m in methods)

    def truth(self) -> Array:
        """The exact gradient of the expected return with respect to theta (DP)."""
        env = self.env

        def ret(th):
            pi = co.policy(th, self.rows, self.eps)
            return dp.expected_return(pi, env.next_state, env.reward_probs, env.values, self.last, self.horizon)

        return jax.grad(ret)(self.theta)

    def init(self, key: jax.Array, model: Any = None) -> Moments:
        del key, model
        m = len(self.methods)
        return Moments(jnp.zeros((m, *self.theta.shape)), jnp.zeros(m), jnp.zeros((), jnp.int32))

    def params(self, state: Moments) -> Array:
        return state.total

    def step(self, key: jax.Array, state: Moments, batch: None) -> tuple[Moments, dict]:
        del batch
        pi = co.policy(self.theta, self.rows, self.eps)
        s, a, u, r = jax.vmap(lambda k: self.env.rollout(k, pi))(jax.random.split(key, self.episodes))
        g = jnp.stack([jax.vmap(lambda *e, m=m, w=w: co.estimate(m, self.theta, self.rows, self.eps, w, *e))(
            s, a, u, r).mean(0) for m, w in zip(self.methods, self.weights)])
        squares = jnp.sum(g.reshape(len(self.methods), -1) ** 2, 1)
        return Moments(state.total + g, state.squares + squares, state.count + 1), {"loss": -r.sum(1).mean()}

    def stats(self, state: Moments, truth) -> dict[str, dict]:
        """noise_stats of each method from the moments (NumPy float64 for NumPy `truth`)."""
        as_np = isinstance(truth, np.ndarray)
        total, squares = (np.asarray(x, np.float64) if as_np else x for x in (state.total, state.squares))
        n = int(state.count) if as_np else state.count
        return {m: noise_stats(truth, total[i] / n, squares[i] / n, n) for i, m in enumerate(self.methods)}
