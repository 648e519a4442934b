"""The overlapping tree: positions per level as the authors' closed form counts them,
children shared with neighbours exactly `overlap` at a time, rewards in the five values
hashed from (state, action) and fixed by the env seed, episodes that follow the tables,
and dynamic programming that agrees with Monte Carlo; the state-based coefficients of
the root are REINFORCE's in a tree and 1 beyond the next step at full overlap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.learners import contribution as co
from complab.tasks import tree_env as te
from complab.theory import tabular_mdp as dp

B, L = 6, 4


def _closed_form(i: int, o: int) -> int:
    """The authors' `number_states_at_depth`, in exact arithmetic."""
    base = B - o
    return 1 + o * i if base == 1 else ((B - 1) * base**i - o) // (base - 1)


@pytest.mark.parametrize("o", range(B + 1))
def test_positions_per_level(o):
    assert te.level_sizes(L, B, o) == [_closed_form(i, o) for i in range(L)]
    env = te.Tree(te.Config(depth=L, branching=B, overlap=o))
    assert env.states == sum(te.level_sizes(L, B, o))
    assert np.bincount(np.asarray(env.level)).tolist() == te.level_sizes(L, B, o)


def test_known_levels():
    assert te.level_sizes(L, B, 0) == [1, 6, 36, 216] and te.level_sizes(L, B, 6) == [1, 6, 6, 6]
    assert te.level_sizes(L, B, 2) == [1, 6, 26, 106] and te.level_sizes(L, B, 5) == [1, 6, 11, 16]


@pytest.mark.parametrize("o", range(B + 1))
def test_neighbours_share_exactly_overlap_children(o):
    sizes = te.level_sizes(L, B, o)
    for d in range(L - 1):
        kids = [set(c.tolist()) for c in te.children(np.arange(sizes[d]), sizes[d + 1], B, o)]
        assert all(len(k) == B for k in kids)  # distinct actions, distinct children
        assert all(len(kids[p] & kids[p + 1]) == o for p in range(sizes[d] - 1))
        assert set().union(*kids) == set(range(sizes[d + 1]))  # the level covers the next one
    first = te.children(np.array([0]), sizes[1], B, o)[0]  # the root's children start below 0: wrapped
    base = B - o
    assert first.tolist() == [(a - base // 2) % sizes[1] for a in range(B)]


def test_transitions_follow_levels_and_the_last_level_stays():
    env = te.Tree(te.Config(depth=L, branching=B, overlap=2))
    level, nxt = np.asarray(env.level), np.asarray(env.next_state)
    inner = level < L - 1
    assert (level[nxt[inner]] == level[inner, None] + 1).all()
    assert (nxt[~inner] == np.arange(env.states)[~inner, None]).all()
    assert np.asarray(env.last).tolist() == (level == L - 1).tolist()


def test_rewards_hash_state_and_action_into_five_values():
    env = te.Tree(te.Config(depth=L, branching=B, overlap=3, seed=104))
    values, objects = np.asarray(env.values), np.asarray(env.objects)
    assert values.tolist() == [-2, -1, 0, 1, 2]
    offset = int(env.offset)
    index = np.arange(env.states)[:, None]
    assert (objects == (index + te.PRIME * np.arange(B) + offset) % 5).all()
    assert all(len(set(row.tolist())) == 5 for row in objects)  # every value once, one of them twice
    np.testing.assert_array_equal(np.asarray(env.reward_probs).argmax(-1), objects)


def test_the_env_seed_fixes_the_rewards_as_the_authors_draw_them():
    cfg = te.Config(depth=L, branching=B, overlap=0, seed=100)
    a, b = te.Tree(cfg), te.Tree(cfg)
    np.testing.assert_array_equal(a.objects, b.objects)
    with jax.threefry_partitionable(False):  # the jax of 2023
        assert int(a.offset) == int(jax.random.randint(jax.random.PRNGKey(100), (), 0, 259))
    offsets = {int(te.Tree(te.Config(depth=L, branching=B, overlap=0, seed=s)).offset) % 5 for s in range(100, 110)}
    assert len(offsets) > 1  # the authors' ten env seeds differ in their rewards


def test_an_episode_walks_one_state_per_level():
    env = te.Tree(te.Config(depth=L, branching=B, overlap=4))
    pi = jnp.full((env.states, B), 1 / B)
    s, a, u, r = env.rollout(jax.random.key(0), pi)
    assert np.asarray(env.level[s]).tolist() == list(range(L))
    assert (np.asarray(env.next_state[s[:-1], a[:-1]]) == np.asarray(s[1:])).all()
    np.testing.assert_array_equal(r, env.values[env.objects[s, a]])
    np.testing.assert_array_equal(u, env.objects[s, a])


@pytest.mark.parametrize("o", [0, 3, 6])
def test_dp_return_matches_monte_carlo(o):
    env = te.Tree(te.Config(depth=L, branching=B, overlap=o, seed=101))
    pi = co.policy(0.8 * jax.random.normal(jax.random.key(o), (env.states, B)), jnp.arange(env.states), 0.0)
    j = float(dp.expected_return(pi, env.next_state, env.reward_probs, env.values, env.last, L))
    _, _, _, r = jax.vmap(lambda k: env.rollout(k, pi))(jax.random.split(jax.random.key(1), 20000))
    returns = np.asarray(r.sum(1))
    assert abs(returns.mean() - j) < 4 * returns.std() / np.sqrt(len(returns))


def _state_coefficients(o):
    env = te.Tree(te.Config(depth=L, branching=B, overlap=o))
    pi = jnp.full((env.states, B), 1 / B)
    return env, np.asarray(co.coefficients("hca", pi, env.next_state, env.reward_probs, env.last, L))


def test_in_a_tree_a_later_state_reveals_the_action():
    env, w = _state_coefficients(0)
    later = w[0][:, np.asarray(env.level) >= 1]  # [actions, later states]
    np.testing.assert_allclose(np.sort(later, 0)[-1], B, rtol=1e-5)  # 1 / pi(a | root) for the one action
    np.testing.assert_allclose(np.sort(later, 0)[:-1], 0.0, atol=1e-6)  # that leads there, 0 for the others


def test_at_full_overlap_only_the_next_state_reveals_the_action():
    env, w = _state_coefficients(B)
    level = np.asarray(env.level)
    np.testing.assert_allclose(w[0][:, level >= 2], 1.0, rtol=1e-5)
    np.testing.assert_allclose(w[0][:, level == 1], B * np.eye(B), atol=1e-5)
