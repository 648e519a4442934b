"""Few-shot digits: meta-train and meta-test share no class and no image; episodes are N-way K-shot."""

import jax
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import digits


def test_splits_share_no_class_and_no_image():
    task = digits.Digits(digits.Config())
    train, test = (np.asarray(task.images[s]).reshape(-1, 64) for s in ("train", "test"))
    assert train.shape == test.shape == (20 * digits.PER_CLASS, 64)
    assert not set(map(bytes, train[: digits.PER_CLASS])) & set(map(bytes, test))  # unrotated digit 0 is train only
    assert 0.0 <= train.min() and train.max() <= 1.0


def test_an_episode_has_distinct_classes_and_no_repeated_image_within_a_class():
    task = digits.Digits(digits.Config())
    ep = task.episodes(jax.random.key(0), "test", 8, 5, 15)
    assert ep["support_x"].shape == (8, 25, 64) and ep["query_y"].shape == (8, 75)
    for t in range(8):
        assert len(set(np.asarray(ep["classes"][t]).tolist())) == 5
        x = np.concatenate([ep["support_x"][t].reshape(5, 5, 64), ep["query_x"][t].reshape(5, 15, 64)], 1)
        for c in range(5):
            assert len({bytes(img) for img in np.asarray(x[c])}) == 20
    batch = task.sample(jax.random.key(1), "train", 3)
    assert batch.x.shape == (3, 26, 69) and float(batch.x[:, -1, 64:].sum()) == 0.0


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="ways must be in"):
        digits.Config(ways=21)
    with pytest.raises(ConfigError, match="proper subset"):
        digits.Config(train_digits=tuple(range(10)))


def test_the_shipped_images_are_the_1797_uci_digits():
    x, y = digits.load()
    assert x.shape == (1797, 8, 8) and x.min() == 0 and x.max() == 16
    np.testing.assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
