"""Every estimator (REINFORCE, HCA+, COCOA-reward with exact coefficients) is unbiased: the
mean over many episodes is the DP gradient within its standard error; and COCOA-reward's
estimate of the key decision is far less spread than REINFORCE's (the mechanism)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.learners import contribution as co
from complab.learners import optim
from complab.tasks import key_to_door as k2d
from complab.theory import tabular_mdp as dp

L, EPS = 8, 0.05
ENV = k2d.KeyToDoor(k2d.Config(length=L))
ROWS = ENV.position(jnp.arange(ENV.states))
LAST = ROWS == L - 1
THETA = 0.5 * jax.random.normal(jax.random.key(0), (L, k2d.ACTIONS))


def _estimates(method, n=20000):
    learner = co.PolicyGradient(optim.Config(lr=0.1), method, ENV, ROWS, LAST, L, EPS)
    pi = co.policy(THETA, ROWS, EPS)
    w = learner.coefficients(pi)
    episodes = jax.vmap(lambda k: ENV.rollout(k, pi))(jax.random.split(jax.random.key(1), n))
    return np.asarray(jax.jit(jax.vmap(lambda *e: co.estimate(method, THETA, ROWS, EPS, w, *e)))(*episodes))


def _truth():
    return np.asarray(jax.grad(lambda th: dp.expected_return(co.policy(th, ROWS, EPS), ENV.next_state,
                                                            ENV.reward_probs, ENV.values, LAST, L))(THETA))


@pytest.mark.parametrize("method", co.METHODS)
def test_each_estimator_is_unbiased(method):
    g, truth = _estimates(method), _truth()
    err = np.linalg.norm(g.mean(0) - truth)
    se = np.sqrt(np.sum(g.var(0)) / g.shape[0])
    assert err < 4 * se and np.linalg.norm(truth) > 10 * se


def test_cocoa_spreads_the_key_decision_far_less_than_reinforce():
    spread = {m: np.sum(_estimates(m, 4000)[:, 0].var(0)) for m in ("reinforce", "cocoa")}
    assert spread["cocoa"] < spread["reinforce"] / 10
