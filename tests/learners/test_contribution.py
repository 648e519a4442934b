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
POSITION = ENV.position(jnp.arange(ENV.states))
LAST = POSITION == L - 1
STATE = jnp.arange(ENV.states)  # a table over full states: the apples then depend on the key


def _theta(rows):
    return 0.5 * jax.random.normal(jax.random.key(0), (int(rows.max()) + 1, k2d.ACTIONS))


def _estimates(method, n=20000, rows=POSITION):
    theta = _theta(rows)
    learner = co.PolicyGradient(optim.Config(lr=0.1), method, ENV, rows, LAST, L, EPS)
    pi = co.policy(theta, rows, EPS)
    w = learner.coefficients(pi)
    episodes = jax.vmap(lambda k: ENV.rollout(k, pi))(jax.random.split(jax.random.key(1), n))
    return np.asarray(jax.jit(jax.vmap(lambda *e: co.estimate(method, theta, rows, EPS, w, *e)))(*episodes))


def _truth(rows=POSITION):
    return np.asarray(jax.grad(lambda th: dp.expected_return(co.policy(th, rows, EPS), ENV.next_state,
                                                            ENV.reward_probs, ENV.values, LAST, L))(_theta(rows)))


@pytest.mark.parametrize("rows", [POSITION, STATE], ids=["by position", "by state"])
@pytest.mark.parametrize("method", co.METHODS)
def test_each_estimator_is_unbiased(method, rows):
    g, truth = _estimates(method, rows=rows), _truth(rows)
    err = np.linalg.norm(g.mean(0) - truth)
    se = np.sqrt(np.sum(g.var(0)) / g.shape[0])
    assert err < 4 * se and np.linalg.norm(truth) > 10 * se


def test_cocoa_spreads_the_key_decision_far_less_than_reinforce():
    spread = {m: np.sum(_estimates(m, 4000)[:, 0].var(0)) for m in ("reinforce", "cocoa")}
    assert spread["cocoa"] < spread["reinforce"] / 10
