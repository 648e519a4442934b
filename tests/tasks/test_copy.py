"""The copy task's layout read back from the tokens, its streams, and its loss and metrics
at the two ends (a perfect predictor and an uninformed one)."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.tasks import copy

CFG = copy.Config(bits=3, length=4, pad=2)
TASK = copy.Copy(CFG)


def test_layout_pattern_flag_then_the_same_pattern_in_the_output_window():
    b = TASK.sample(jax.random.key(0), "train", 8)
    x, y, mask = np.asarray(b.x), np.asarray(b.y), np.asarray(b.mask)
    assert x.shape == (8, CFG.time, CFG.bits + 1) and CFG.time == 2 * 4 + 2 + 1
    start = CFG.length + CFG.pad + 1
    np.testing.assert_array_equal(y[:, start:], x[:, :CFG.length, :CFG.bits])
    flag = np.zeros(CFG.time)
    flag[CFG.length + CFG.pad] = 1
    np.testing.assert_array_equal(x[:, :, -1], np.broadcast_to(flag, (8, CFG.time)))
    assert not x[:, CFG.length:, :CFG.bits].any()  # silent after the pattern
    np.testing.assert_array_equal(mask, np.broadcast_to(np.arange(CFG.time) >= start, mask.shape))
    assert 0.3 < x[:, :CFG.length, :CFG.bits].mean() < 0.7


def test_deterministic_in_the_key_and_each_split_has_its_own_stream():
    a, b = TASK.sample(jax.random.key(1), "train", 4), TASK.sample(jax.random.key(1), "train", 4)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, TASK.sample(jax.random.key(1), "test", 4).x)


def test_loss_and_metrics_at_a_perfect_and_an_uninformed_predictor():
    b = TASK.sample(jax.random.key(2), "test", 16)
    perfect = 20.0 * jax.nn.one_hot(b.y.astype(jnp.int32), 2).reshape(*b.y.shape[:-1], -1)
    m = TASK.metrics(perfect, b)
    assert float(m["loss"]) < 1e-6 and float(m["bit_accuracy"]) == 1.0 and float(m["sequence_accuracy"]) == 1.0
    flat = jnp.zeros(b.y.shape[:-1] + (2 * CFG.bits,))
    np.testing.assert_allclose(float(TASK.loss(flat, b)), np.log(2), rtol=1e-6)
    wrong = perfect.at[:, CFG.length + CFG.pad + 1, :2].set(perfect[:, CFG.length + CFG.pad + 1, 1::-1])
    m = TASK.metrics(wrong, b)  # one bit of one step flipped in every sequence
    assert float(m["sequence_accuracy"]) == 0.0
    np.testing.assert_allclose(float(m["bit_accuracy"]), 1 - 1 / (CFG.bits * CFG.length), rtol=1e-6)
