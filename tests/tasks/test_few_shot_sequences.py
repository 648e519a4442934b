import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import digits
from complab.tasks import few_shot_sequences as fs


def _batch(form, ways=3, shots=2, n=16, split="train"):
    task = fs.FewShotSequences(fs.Config(form=form, ways=ways, shots=shots))
    return task, eqx.filter_jit(task.sample)(jax.random.key(0), split, n)


def test_sync_sequences_show_each_support_label_and_hide_the_query_label():
    task, b = _batch("sync")
    assert b.x.shape == (16, task.length, 64 + 3) and task.length == 7
    shown, labels = np.asarray(b.x[..., 64:]), np.asarray(b.info["label"])
    assert np.array_equal(shown[:, :-1].argmax(-1), labels[:, :-1]) and np.all(shown[:, :-1].sum(-1) == 1)
    assert np.all(shown[:, -1] == 0)  # the query's label is not given
    assert np.all(np.sort(labels[:, :-1], 1) == np.repeat(np.arange(3), 2))  # every class, `shots` times
    assert np.array_equal(np.asarray(b.mask), np.eye(7)[[-1] * 16])  # the loss reads the query only


def test_support_order_is_shuffled_per_sequence():
    _, b = _batch("sync", n=64)
    orders = {tuple(r) for r in np.asarray(b.info["label"][:, :-1])}
    assert len(orders) > 10


def test_the_query_is_a_new_image_of_one_support_class():
    _, b = _batch("sync", shots=1, n=32)
    x, labels = np.asarray(b.x[..., :64]), np.asarray(b.info["label"])
    for i in range(32):
        assert not any(np.array_equal(x[i, -1], x[i, j]) for j in range(3))
        assert labels[i, -1] in labels[i, :-1]


def test_delayed_sequences_feed_the_previous_label_and_count_shots():
    task, b = _batch("delayed", ways=3, shots=4)
    labels, shown = np.asarray(b.info["label"]), np.asarray(b.x[..., 64:])
    assert np.all(shown[:, 0] == 0) and np.array_equal(shown[:, 1:].argmax(-1), labels[:, :-1])
    assert np.all(np.asarray(b.mask) == 1)
    shot = np.asarray(b.info["shot"])
    for i in range(4):
        for t in range(12):
            assert shot[i, t] == (labels[i, :t] == labels[i, t]).sum()
    assert np.all(np.sort(shot, 1) == np.repeat(np.arange(4), 3))


def test_meta_train_and_meta_test_share_no_image():
    task = fs.FewShotSequences(fs.Config())
    train = {tuple(r) for r in np.asarray(task.images["train"]).reshape(-1, 64)}
    test = {tuple(r) for r in np.asarray(task.images["test"]).reshape(-1, 64)}
    assert not train & test


def test_shot_accuracy_reads_predictions_by_the_number_of_earlier_labels():
    task, b = _batch("delayed", ways=3, shots=4)
    perfect_after_one = jnp.where((b.info["shot"] >= 1)[..., None], b.y * 10, -b.y * 10)
    acc = np.asarray(task.shot_accuracy(perfect_after_one, b))
    assert acc[0] == 0 and np.all(acc[1:] == 1)


def test_impossible_episodes_are_refused():
    with pytest.raises(ComplabError, match="ways"):
        fs.Config(ways=30)
    with pytest.raises(ComplabError, match="shots"):
        fs.Config(shots=digits.PER_CLASS)
    with pytest.raises(ComplabError, match="form"):
        fs.Config(form="async")
