"""Ring search: the cost counts moves to the goal, a sweep in one direction costs k for the
goal at k, and every deterministic policy has a goal costing at least n - 1."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import ring_search

CFG = ring_search.Config(cells=6, horizon=10)


def _cost(policy, goal):
    return float(ring_search.cost(CFG, policy, jnp.zeros(1), jnp.asarray(goal)))


def test_sweeping_right_costs_k_and_left_costs_n_minus_k():
    for k in range(1, 6):
        assert _cost(lambda s, o: jnp.array(1.0), k) == k
        assert _cost(lambda s, o: jnp.array(-1.0), k) == 6 - k


def test_a_policy_that_never_reaches_the_goal_costs_one_more_than_the_horizon():
    back_and_forth = lambda s, o: jnp.where(o[0] > 0, 1.0, -1.0)  # noqa: E731 - 0 -> 5 -> 0 -> ...
    assert _cost(back_and_forth, 2) == 11
    tight = ring_search.Config(cells=6, horizon=5)  # the last goal is found on the last move: 5, not a failure
    assert float(ring_search.cost(tight, lambda s, o: jnp.array(1.0), jnp.zeros(1), jnp.asarray(5))) == 5


def test_every_deterministic_policy_of_the_cell_alone_has_a_goal_costing_n_minus_1():
    small = ring_search.Config(cells=4, horizon=6)
    for moves in itertools.product((-1.0, 1.0), repeat=4):  # every policy that reads only its cell
        table = jnp.array(moves)

        def policy(s, o, table=table):
            return table @ o[:4]

        costs = [float(ring_search.cost(small, policy, jnp.zeros(1), jnp.asarray(g))) for g in range(1, 4)]
        assert max(costs) >= 3


def test_the_observation_is_the_cell_and_the_time():
    obs = np.asarray(ring_search.observation(CFG, jnp.asarray(2), jnp.asarray(5.0)))
    assert np.array_equal(obs[:6], np.eye(6)[2]) and obs[6] == 0.5


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="horizon"):
        ring_search.Config(cells=8, horizon=5)
