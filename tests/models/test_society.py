"""The society's pieces: views read the pixels they name, messages are two tokens, a
member hears the others only through their messages, the vote's tie-breaks, and the
leader sees who said what."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.models import society as so

IMAGES = jax.random.uniform(jax.random.key(0), (5, 64))


def test_views_read_the_pixels_they_name():
    img = np.asarray(IMAGES).reshape(5, 8, 8)
    np.testing.assert_allclose(so.view("top_right", IMAGES, None)[:, :16], img[:, :4, 4:].reshape(5, 16), rtol=1e-6)
    np.testing.assert_allclose(so.view("centre", IMAGES, None)[:, :16], img[:, 2:6, 2:6].reshape(5, 16), rtol=1e-6)
    np.testing.assert_allclose(so.view("row_sums", IMAGES, None)[:, :8], img.mean(2), rtol=1e-5)
    np.testing.assert_allclose(so.view("column_sums", IMAGES, None)[:, :8], img.mean(1), rtol=1e-5)
    np.testing.assert_allclose(so.view("blurred", IMAGES, None)[:, :16],
                               img.reshape(5, 4, 2, 4, 2).mean((2, 4)).reshape(5, 16), rtol=1e-5)
    np.testing.assert_allclose(so.view("masses", IMAGES, None)[:, :4],
                               img.reshape(5, 2, 4, 2, 4).mean((2, 4)).reshape(5, 4), rtol=1e-5)
    for name in so.VIEWS:  # zero padding beyond a view's features
        width = {"row_sums": 8, "column_sums": 8, "masses": 4, "noisy": 64}.get(name, 16)
        assert np.all(np.asarray(so.view(name, IMAGES, jax.random.key(1)))[:, width:] == 0)
    noisy = np.asarray(so.view("noisy", IMAGES, jax.random.key(1)))
    kept = noisy != 0
    assert 0.3 < kept.mean() < 0.7 and np.allclose(noisy[kept], np.asarray(IMAGES)[kept])
    np.testing.assert_array_equal(noisy, so.view("noisy", IMAGES, jax.random.key(1)))  # one fixed draw


def test_a_message_is_a_guess_and_a_confidence_level():
    probs = jnp.array([[0.4, 0.3, 0.3] + [0] * 7, [0.1, 0.6, 0.3] + [0] * 7, [0.0, 0.05, 0.95] + [0] * 7])
    guess, conf = so.message(probs)
    assert guess.tolist() == [0, 1, 2] and conf.tolist() == [0, 1, 2]
    t = so.tokens(guess, conf)
    assert t.shape == (3, 30) and t.sum() == 3 and int(t[2].argmax()) == 2 * 3 + 2


def test_a_member_hears_the_others_only_through_their_messages():
    own = jax.random.normal(jax.random.key(2), (4, 6, 10))
    guess = jax.random.randint(jax.random.key(3), (4, 6), 0, 10)
    conf = jax.random.randint(jax.random.key(4), (4, 6), 0, 3)
    x = so.listener_inputs(own, guess, conf)
    np.testing.assert_array_equal(x[:, :, :10], own)
    freq = np.asarray(x[0, :, 10:])
    want = np.asarray(so.tokens(guess[1:], conf[1:]).mean(0))  # the three others, not itself
    np.testing.assert_allclose(freq, want, rtol=1e-6)
    changed = so.listener_inputs(own, guess.at[0].set((guess[0] + 1) % 10), conf)
    np.testing.assert_array_equal(changed[0], x[0])  # its own message is not in its bag


def test_the_vote_and_its_tie_breaks():
    guess = jnp.array([[3, 3, 1], [3, 5, 5], [7, 5, 1], [7, 2, 2]])  # members x examples
    conf = jnp.array([[0, 2, 0], [0, 2, 0], [2, 0, 2], [2, 0, 0]])
    # example 0: 3 and 7 tie on votes, 7 has more confidence; 1: 5 has the plurality; 2: 1 vs 2 tie on
    # votes, 1 more confident (2 + 0 + 1 vs 1); ties of both go to the lower digit
    assert so.vote(guess, conf).tolist() == [7, 5, 1]
    assert so.vote(jnp.array([[4], [2]]), jnp.array([[1], [1]])).tolist() == [2]


def test_the_leader_sees_who_said_what():
    guess, conf = jnp.array([[1, 2], [3, 4]]), jnp.array([[0, 1], [2, 2]])
    x = so.leader_inputs(guess, conf)
    assert x.shape == (1, 2, 60)
    swapped = so.leader_inputs(guess[::-1], conf[::-1])
    assert not np.array_equal(x, swapped)
    assert int(x[0, 0, :30].argmax()) == 1 * 3 + 0 and int(x[0, 0, 30:].argmax()) == 3 * 3 + 2


@pytest.mark.parametrize("members", [1, 3])
def test_stacked_members_and_heads_are_independent(members):
    m = so.Members(members, 5, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (members, 7, 64))
    out = m(x)
    assert out.shape == (members, 7, 10)
    one = jax.tree.map(lambda a: a[-1:], m)
    np.testing.assert_allclose(one(x[-1:]), out[-1:], rtol=1e-6)
    assert so.Heads(members, 40)(jnp.ones((members, 7, 40))).shape == (members, 7, 10)
