"""Ten-way digits: a disjoint stratified split, label noise on training labels only, the three forms."""

import jax
import numpy as np
import pytest

from complab.errors import ComplabError, ConfigError
from complab.tasks import digit_classes as dc
from complab.tasks import digits


def _rows_of(images):
    return {bytes(np.asarray(r, np.float32)) for r in images}


def test_the_split_is_disjoint_stratified_and_covers_every_image():
    arrays = dc.split_arrays(dc.Config())
    (xtr, ytr, ctr), (xte, yte, cte) = arrays["train"], arrays["test"]
    assert len(ytr) + len(yte) == 1797 and len(yte) == 450
    images, labels = digits.load()
    assert sorted(np.bincount(np.concatenate([ytr, yte]))) == sorted(np.bincount(labels))
    assert np.all(np.abs(np.bincount(yte) / np.bincount(labels) - 0.25) < 0.01)
    # every image is in exactly one split: the multiset of images is the whole data set
    whole = np.sort(np.concatenate([xtr, xte]).view(np.uint8).reshape(1797, -1), 0)
    assert np.array_equal(whole, np.sort((images.reshape(-1, 64) / 16.0).astype(np.float32).view(np.uint8)
                                         .reshape(1797, -1), 0))
    assert not ctr.any() and not cte.any() and 0 <= xtr.min() and xtr.max() <= 1


def test_label_noise_changes_exactly_that_fraction_of_training_labels_to_another_class():
    clean, noisy = dc.split_arrays(dc.Config()), dc.split_arrays(dc.Config(label_noise=0.2))
    (x0, y0, _), (x1, y1, c1) = clean["train"], noisy["train"]
    assert np.array_equal(x0, x1)
    assert c1.sum() == round(0.2 * len(y0)) and np.array_equal(y0 != y1, c1)
    assert np.array_equal(clean["test"][1], noisy["test"][1]) and not noisy["test"][2].any()


def test_forms_hold_the_same_pixels_and_permute_is_fixed():
    task = dc.DigitClasses(dc.Config())
    flat = task.full("test")
    assert flat.x.shape == (450, 1, 64) and flat.mask[:, -1].sum() == 450
    rows = dc.DigitClasses(dc.Config(form="rows")).full("test")
    assert rows.x.shape == (450, 8, 8) and np.array_equal(np.asarray(rows.x).reshape(450, 64), flat.x[:, 0])
    perm = dc.DigitClasses(dc.Config(form="pixels", permute=True)).full("test")
    assert perm.x.shape == (450, 64, 1) and perm.y[:, :-1].sum() == 0
    assert not np.array_equal(np.asarray(perm.x)[..., 0], flat.x[:, 0])
    assert np.allclose(np.sort(np.asarray(perm.x)[..., 0], 1), np.sort(np.asarray(flat.x)[:, 0], 1))


def test_batches_are_deterministic_and_carry_their_labels():
    task = dc.DigitClasses(dc.Config())
    a, b = task.sample(jax.random.key(3), "train", 32), task.sample(jax.random.key(3), "train", 32)
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.info["label"], task.labels["train"][a.info["index"]])
    assert np.array_equal(a.y[:, -1].argmax(-1), a.info["label"])
    perfect = task.metrics(a.y * 100.0, a)
    assert float(perfect["accuracy"]) == 1.0 and float(perfect["loss"]) < 1e-6


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="label_noise"):
        dc.Config(label_noise=1.0)
    with pytest.raises(ConfigError, match="form"):
        dc.Config(form="columns")
    with pytest.raises(ComplabError, match="no split"):
        dc.DigitClasses(dc.Config()).full("valid")
