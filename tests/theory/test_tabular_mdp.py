"""Dynamic programming on the key-to-door MDP against Monte Carlo, and the contribution
coefficients' defining properties: normalised under the policy, 1 for rewards an action
cannot influence, 1 / pi(a | s) for a reward only that action leads to."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.learners import contribution as co
from complab.tasks import key_to_door as k2d
from complab.theory import tabular_mdp as dp

L = 9
ENV = k2d.KeyToDoor(k2d.Config(length=L))
ROWS = ENV.position(jnp.arange(ENV.states))
LAST = ROWS == L - 1
THETA = jax.random.normal(jax.random.key(0), (L, k2d.ACTIONS))
PI = co.policy(THETA, ROWS, 0.05)


def test_expected_return_matches_monte_carlo():
    j = float(dp.expected_return(PI, ENV.next_state, ENV.reward_probs, ENV.values, LAST, L))
    _, _, _, r = jax.vmap(lambda k: ENV.rollout(k, PI))(jax.random.split(jax.random.key(1), 20000))
    returns = np.asarray(r.sum(1))
    assert abs(returns.mean() - j) < 4 * returns.std() / np.sqrt(len(returns))


def test_contribution_coefficients():
    w = dp.contributions(PI, ENV.next_state, ENV.reward_probs, LAST, L)
    n = dp.occupancy(PI, ENV.next_state, ENV.reward_probs, LAST, L)
    seen = np.asarray(jnp.einsum("sa,sau->su", PI, jnp.where(LAST[:, None, None], 0.0, n[ENV.next_state])) > 1e-9)
    norm = np.asarray(jnp.einsum("sa,sau->su", PI, w))
    np.testing.assert_allclose(norm[seen], 1.0, rtol=1e-5)  # sum_a pi(a|s) w(s,a,u) = 1
    np.testing.assert_allclose(w[0, :, 1:3], 1.0, rtol=1e-5)  # the key does not change later apples (by position)
    np.testing.assert_allclose(float(w[0, k2d.PICK_KEY, 3]), 1 / float(PI[0, k2d.PICK_KEY]), rtol=1e-5)
    np.testing.assert_allclose(w[0, 1:, 3], 0.0, atol=1e-7)  # no treasure without the key
    states = jnp.broadcast_to(jnp.eye(ENV.states)[:, None, :], (ENV.states, k2d.ACTIONS, ENV.states))
    w_s = dp.contributions(PI, ENV.next_state, states, LAST, L)
    later_with_key = 4 * 3 + 2  # position 3 holding the key: only the key action leads there
    np.testing.assert_allclose(float(w_s[0, k2d.PICK_KEY, later_with_key]), 1 / float(PI[0, k2d.PICK_KEY]), rtol=1e-5)
