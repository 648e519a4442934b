"""The key-to-door corridor: its layout, its transitions and rewards read back from the
tables, and episodes that follow them (the treasure comes only after the key and the door)."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.tasks import key_to_door as k2d

ENV = k2d.KeyToDoor(k2d.Config(length=23))


def test_layout_key_door_and_apples_with_their_density():
    layout = np.asarray(ENV.layout)
    assert layout[0] == k2d.EMPTY and layout[-2:].tolist() == [k2d.EMPTY, k2d.EMPTY]
    apples = layout[1:-2]
    assert set(apples.tolist()) <= {k2d.EMPTY, k2d.LEFT, k2d.RIGHT} and 0.6 < (apples > 0).mean() <= 1.0
    again = k2d.KeyToDoor(k2d.Config(length=23))
    np.testing.assert_array_equal(again.layout, ENV.layout)  # a fixed layout


def test_transitions_and_rewards():
    nxt, probs, n = np.asarray(ENV.next_state), np.asarray(ENV.reward_probs), 23
    assert nxt[0, k2d.PICK_KEY] == 4 + 2 and nxt[0, k2d.OPEN_DOOR] == 4  # the key is held from then on
    door_key, door_none = 4 * (n - 2) + 2, 4 * (n - 2)
    assert nxt[door_key, k2d.OPEN_DOOR] == 4 * (n - 1) + 3 and nxt[door_none, k2d.OPEN_DOOR] == 4 * (n - 1)
    assert probs[4 * (n - 1) + 3, :, 3].tolist() == [1.0] * 4 and probs[4 * (n - 1) + 2, :, 3].sum() == 0
    for pos in range(1, n - 2):
        side = int(ENV.layout[pos])
        for a in range(k2d.ACTIONS):
            apple = (side, a) in ((k2d.LEFT, k2d.PICK_LEFT), (k2d.RIGHT, k2d.PICK_RIGHT))
            np.testing.assert_array_equal(probs[4 * pos, a], [0, 0.5, 0.5, 0] if apple else [1, 0, 0, 0])
    np.testing.assert_allclose(ENV.values, np.array([0, 0.1, 0.9, 0.2]) * 23 / 23)


def test_an_episode_that_takes_the_key_and_opens_the_door_ends_with_the_treasure():
    best = np.zeros((ENV.states, k2d.ACTIONS))
    best[:, k2d.OPEN_DOOR] = 1.0
    best[0] = [1, 0, 0, 0]
    s, a, u, r = ENV.rollout(jax.random.key(0), jnp.asarray(best))
    assert s.shape == (23,) and int(u[-1]) == 3 and np.isclose(float(r[-1]), 0.2)
    assert np.asarray(ENV.position(s)).tolist() == list(range(23))
    best[0] = [0, 0, 0, 1]  # no key: no treasure
    _, _, u, _ = ENV.rollout(jax.random.key(0), jnp.asarray(best))
    assert int(u[-1]) == 0
