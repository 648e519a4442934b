"""The preference grid: Q-values are the best discounted return over action sequences
(brute force), expert trajectories follow them, splits hold out what they say, and the
loss weighs only the steps before the episode ended."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import preference_grid as pg


def _brute_q(task, cell, left, obj_cells, rewards, horizon):
    """max over the next horizon - 1 actions of the discounted reward, for each first action."""
    nxt = pg.moves()
    at = {int(c): k for k, c in enumerate(obj_cells)}

    def walk(cell, left, actions):
        total = 0.0
        for t, a in enumerate(actions):
            cell = int(nxt[cell, a])
            k = at.get(cell)
            if k is not None and left >> k & 1:
                total += pg.DISCOUNT ** t * float(rewards[k])
                left &= ~(1 << k)
        return total

    return [max(walk(cell, left, (a, *rest)) for rest in itertools.product(range(pg.ACTIONS), repeat=horizon - 1))
            for a in range(pg.ACTIONS)]


def test_q_values_are_the_best_discounted_return_over_action_sequences():
    task = pg.PreferenceGrid(pg.Config(horizon=4))
    _, w = task.weights(jax.random.key(0), "train", 1)
    obj_cells, features, _ = task.layout(jax.random.key(1))
    rewards = task.rewards(w[0], features)
    q = np.asarray(task.q_values(obj_cells, rewards))
    for cell, left in ((0, 15), (9, 15), (14, 5), (18, 9)):
        np.testing.assert_allclose(q[cell, left], _brute_q(task, cell, left, np.asarray(obj_cells),
                                                           np.asarray(rewards), 4), atol=1e-5)


def test_the_map_has_two_rooms_and_a_corridor_and_walls_stop_moves():
    nxt = pg.moves()
    assert len(pg.free_cells()) == 19 and nxt.shape == (19, 5)
    assert (nxt[:, 0] == np.arange(19)).all()  # NOTHING stays
    assert all(nxt[i, 1] == i for i, (r, _) in enumerate(pg.free_cells()) if r == 1)  # the top wall


def test_expert_trajectories_follow_the_q_values_and_stop_on_nothing():
    task = pg.PreferenceGrid(pg.Config())
    _, w = task.weights(jax.random.key(2), "train", 8)
    for i in range(8):
        ep = jax.tree.map(np.asarray, task.rollout(jax.random.key(10 + i), w[i]))
        mask = ep["mask"]
        assert mask[0] == 1 and (np.diff(mask) <= 0).all()  # steps up to the end, then none
        stopped = np.argmax(ep["q"], -1) == 0
        if mask.sum() < len(mask):  # it ended by NOTHING at its last unmasked step
            assert stopped[int(mask.sum()) - 1]
        assert not stopped[:int(mask.sum()) - 1].any()
        agent = ep["obs"][:, :-1].reshape(len(mask), 19, 9)[..., -1]
        assert (agent.sum(-1) == 1).all() and (ep["obs"][:, -1] == 1).all()
    # a policy that does nothing gets zero; planning with the true weights is the expert, with others it is not
    do_nothing = task.rollout(jax.random.key(10), w[0], lambda o: jnp.eye(5)[0])
    assert float(do_nothing["return"]) == 0.0
    keys = jax.random.split(jax.random.key(11), 64)
    expert = jax.vmap(lambda k: task.rollout(k, w[0])["return"])(keys)
    as_expert = jax.vmap(lambda k: task.rollout(k, w[0], believed=w[0])["return"])(keys)
    blind = jax.vmap(lambda k: task.rollout(k, w[0], believed=task.mean_weights())["return"])(keys)
    np.testing.assert_array_equal(expert, as_expert)
    assert float(blind.sum()) < float(expert.sum())


def test_splits_hold_out_a_quarter_at_random_or_every_task_of_the_last_module():
    combos = pg.layer_combinations(8, 3)
    assert len(combos) == 92 and set(combos.sum(1)) == {1, 2, 3}
    rand = pg.split_combinations(pg.Config(split="random", split_seed=3))
    assert len(rand[1]) == 23 and not set(rand[0]) & set(rand[1]) and len(rand[0]) + len(rand[1]) == 92
    assert not np.array_equal(rand[1], pg.split_combinations(pg.Config(split="random", split_seed=4))[1])
    train, test = pg.split_combinations(pg.Config(split="non_compositional"))
    assert len(test) == 29 and (combos[test, -1] == 1).all() and (combos[train, -1] == 0).all()
    task = pg.PreferenceGrid(pg.Config(split="non_compositional"))
    _, w = task.weights(jax.random.key(0), "train", 256)
    assert (np.asarray(w)[:, -1] == 0).all()
    _, w = task.weights(jax.random.key(0), "test", 256)
    w = np.asarray(w)
    assert (w[:, -1] > 0).all() and ((w == 0) | ((w > 0.5) & (w < 1))).all()


def test_episodes_share_one_task_and_the_loss_ignores_steps_after_the_end():
    task = pg.PreferenceGrid(pg.Config())
    ep = task.episodes(jax.random.key(0), "train", 3, 4, 2)
    assert ep["support_x"].shape == (3, 4 * 8, 172) and ep["query_y"].shape == (3, 2 * 8, 6)
    x, y = ep["support_x"][0], ep["support_y"][0]
    perfect = lambda z: y[:, :-1]  # noqa: E731
    assert float(pg.q_loss(perfect, x, y)) == 0.0
    after = y[:, -1] == 0
    assert after.any()
    noisy = lambda z: y[:, :-1] + 5.0 * after[:, None]  # noqa: E731  wrong only where masked
    assert float(pg.q_loss(noisy, x, y)) == 0.0
    assert float(pg.q_loss(lambda z: y[:, :-1] + 1.0, x, y)) == pytest.approx(2.5)  # 0.5 x 5 actions


@pytest.mark.parametrize("kw", [dict(split="connected"), dict(objects=0), dict(objects=19), dict(max_hot=9),
                                dict(frac_ood=1.0)])
def test_impossible_settings_are_refused(kw):
    with pytest.raises(ConfigError):
        dataclasses.replace(pg.Config(), **kw)


def test_optimal_q_read_from_an_observation_is_the_target_under_its_own_weights():
    """The task-blind reference of modular_preferences_goals plans from observations alone:
    with the task's weights it must give the rollout's targets at every step; with other
    weights it must not."""
    task = pg.PreferenceGrid(pg.Config())
    _, w = task.weights(jax.random.key(3), "train", 6)
    for i in range(6):
        ep = task.rollout(jax.random.key(20 + i), w[i])
        q = jax.vmap(task.optimal_q, in_axes=(0, None))(ep["obs"], w[i])
        np.testing.assert_allclose(q, ep["q"], atol=1e-6)  # after the end too: the state stays
        other = jax.vmap(task.optimal_q, in_axes=(0, None))(ep["obs"], w[(i + 1) % 6])
        assert float(jnp.abs(other - ep["q"]).max()) > 1e-2
