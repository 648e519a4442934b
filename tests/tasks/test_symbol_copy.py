"""The copy-memory task: the worked example's layout read back from the tokens, its two
loss forms and their memoryless baselines, and its recall accuracy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.tasks import symbol_copy as sc


def test_layout_symbols_blanks_cue_then_the_symbols_back():
    cfg = sc.Config(symbols=2, alphabet=8, delay=3)
    b = sc.SymbolCopy(cfg).sample(jax.random.key(0), "train", 16)
    x, y = np.asarray(b.x).argmax(-1), np.asarray(b.y)
    assert x.shape == (16, 7) and cfg.length == 7
    blank, cue = 8, 9
    np.testing.assert_array_equal(x[:, 2:], np.broadcast_to([blank, blank, cue, blank, blank], (16, 5)))
    np.testing.assert_array_equal(y[:, :5], blank)
    np.testing.assert_array_equal(y[:, 5:], x[:, :2])
    assert (x[:, :2] < 8).all() and len(np.unique(x[:, :2])) > 4
    np.testing.assert_array_equal(np.asarray(b.info["recall"])[0], [0, 0, 0, 0, 0, 1, 1])


@pytest.mark.parametrize("loss_on", ["all", "recall"])
def test_the_memoryless_predictor_scores_the_baseline_and_chance(loss_on):
    cfg = sc.Config(symbols=3, alphabet=8, delay=10, loss_on=loss_on)
    task = sc.SymbolCopy(cfg)
    b = task.sample(jax.random.key(1), "test", 64)
    blank_then_uniform = jnp.where(b.info["recall"][..., None] > 0, jnp.zeros(9).at[8].set(-1e9),
                                   jnp.zeros(9).at[8].set(1e9))
    m = task.metrics(blank_then_uniform, b)
    np.testing.assert_allclose(float(m["loss"]), cfg.baseline, rtol=1e-5)
    perfect = 1e3 * jax.nn.one_hot(b.y, 9)
    assert float(task.metrics(perfect, b)["recall_accuracy"]) == 1.0 and float(task.loss(perfect, b)) < 1e-6
