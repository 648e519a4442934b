import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import hyperteacher as ht
from complab.tasks.hyperteacher import Config, Hyperteacher

CFG = Config(modules=6, input_dim=4, hidden=8, output_dim=2, context=12)
TASK = Hyperteacher(CFG)


def _pairs(tasks, combos) -> set[tuple[int, ...]]:
    return {tuple(int(i) for i in np.flatnonzero(combos[t[0]])) for t in np.asarray(tasks)}


def test_connected_support_holds_out_the_opposite_pairs():
    combos = ht.layer_combinations(6, 2)
    assert combos.shape == (21, 6) and (combos.sum(1) <= 2).all()
    train, test = (_pairs(TASK.tasks[s], combos) for s in ("train", "test"))
    assert len(train) == 18 and test == {(0, 3), (1, 4), (2, 5)} and not train & test
    assert {(i,) for i in range(6)} <= train


@pytest.mark.parametrize("support, n_train, n_test", [
    ("disconnected", 12, 3), ("non_compositional", 15, 6), ("random", 16, 5)])
def test_other_supports_have_the_counts_their_definitions_imply(support, n_train, n_test):
    cfg = Config(modules=6, support=support)
    train, test = ht.split_tasks(cfg)
    assert (len(train), len(test)) == (n_train, n_test)
    assert not {tuple(r) for r in train} & {tuple(r) for r in test}
    combos = ht.layer_combinations(6, 2)
    if support == "disconnected":  # trains inside the halves; holds out what the connected support holds out
        assert all(len({int(i) < 3 for i in np.flatnonzero(combos[t[0]])}) == 1 for t in train)
        np.testing.assert_array_equal(test, ht.split_tasks(Config(modules=6))[1])
    if support == "non_compositional":
        assert all(combos[t[-1], 5] == 1 for t in test) and not any(combos[t[-1], 5] for t in train)


def test_two_generated_layers_train_only_products_of_supported_combinations():
    train, test = ht.split_tasks(Config(modules=6, generated_layers=2))
    assert (len(train), len(test)) == (18 * 18, 21 * 21 - 18 * 18)
    combos = ht.layer_combinations(6, 2)
    held = {c.tobytes() for c in combos if tuple(np.flatnonzero(c)) in {(0, 3), (1, 4), (2, 5)}}
    assert all(any(combos[i].tobytes() in held for i in t) for t in test)
    assert not any(combos[i].tobytes() in held for t in train for i in t)


def test_batches_are_the_teacher_standardised_and_carry_the_embedding():
    b = TASK.sample(jax.random.key(0), "test", 64)
    assert b.x.shape == (64, 13, 6) and b.y.shape == (64, 13, 2)
    np.testing.assert_array_equal(b.info["embedding"], TASK.combos[TASK.tasks["test"][b.info["task"]]])
    np.testing.assert_allclose(b.x[:, :-1, 4:], b.y[:, :-1])
    assert (b.x[:, -1, 4:] == 0).all() and (b.mask[:, -1] == 1).all() and b.mask.sum() == 64
    x = ht.uniform_inputs(jax.random.key(1), (20_000, 4))
    y = TASK.outputs("train", jnp.asarray(3), x)  # standardised: mean 0, variance 1 per output
    np.testing.assert_allclose(y.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(y.std(0), 1.0, atol=0.05)


def test_the_teacher_is_modular_and_tasks_differ():
    e1, e2 = jnp.eye(6)[:1], jnp.eye(6)[1:2]
    x = ht.uniform_inputs(jax.random.key(2), (8, 4))
    both = TASK.teacher(e1 + e2, x)
    w = sum(jnp.einsum("m,mio->io", e[0], TASK.teacher.thetas[0]) for e in (e1, e2))
    np.testing.assert_allclose(both, jax.nn.relu(x @ w / np.sqrt(2)) @ TASK.teacher.readout, rtol=1e-5, atol=1e-6)
    assert not np.allclose(TASK.teacher(e1, x), TASK.teacher(e2, x), atol=1e-2)


def test_deterministic_and_splits_draw_their_own_streams():
    a, b = (TASK.sample(jax.random.key(3), "train", 8) for _ in range(2))
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.allclose(TASK.sample(jax.random.key(3), "test", 8).x, a.x)


def test_r_squared():
    y = jax.random.normal(jax.random.key(4), (500, 2))
    assert float(ht.r_squared(y, y)) == 1.0 and abs(float(ht.r_squared(jnp.zeros_like(y), y))) < 0.01


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_hot=1), "leaves 6 training and 0 held-out"),
    (dict(modules=4, support="connected"), "leaves 10 training and 0 held-out"),
    (dict(max_hot=3), "max_hot 1 or 2"),
    (dict(support="ring"), "support must be"),
    (dict(modules=7, support="disconnected"), "modules must be even"),
])
def test_impossible_parameters_are_refused_in_one_sentence(kwargs, message):
    with pytest.raises(ComplabError, match=message):
        Config(**kwargs)


def test_episodes_hold_support_and_query_sets_of_one_task_each():
    ep = TASK.episodes(jax.random.key(7), "test", 5, 10, 6)
    assert ep["support_x"].shape == (5, 10, 4) and ep["query_y"].shape == (5, 6, 2)
    for i in range(5):
        want = TASK.outputs("test", ep["task"][i], jnp.concatenate([ep["support_x"][i], ep["query_x"][i]]))
        np.testing.assert_allclose(jnp.concatenate([ep["support_y"][i], ep["query_y"][i]]), want, rtol=1e-5)
    other = TASK.episodes(jax.random.key(7), "train", 5, 10, 6)
    assert not np.allclose(other["support_x"], ep["support_x"])
    with pytest.raises(ComplabError, match="has no split 'ood'"):
        TASK.episodes(jax.random.key(7), "ood", 5, 10, 6)
