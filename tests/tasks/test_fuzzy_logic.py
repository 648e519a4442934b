import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import fuzzy_logic
from complab.tasks.fuzzy_logic import Config, FuzzyLogic

CFG = Config(variables=4, terms=2, seq_len=16, frac_test=0.5)
TASK = FuzzyLogic(CFG)


def _rows(a) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in r) for r in np.asarray(a)}


def test_split_counts_are_those_the_definitions_imply():
    c = TASK.combinations
    assert CFG.conjunctions == 16 and CFG.ood_conjunctions == 4
    assert (len(c["train"]), len(c["test"]), len(c["ood"])) == (33, 33, 6)
    assert _rows(c["ood"]) == set(itertools.combinations(range(12, 16), 2))
    assert _rows(c["train"]) | _rows(c["test"]) == set(itertools.combinations(range(12), 2))


def test_splits_are_disjoint_and_seen_conjunctions_only_in_distribution():
    c = {k: _rows(v) for k, v in TASK.combinations.items()}
    assert not (c["train"] & c["test"]) and not (c["train"] & c["ood"]) and not (c["test"] & c["ood"])
    seen = {i for r in c["train"] | c["test"] for i in r}
    assert seen == set(range(12)) and all(i >= 12 for r in c["ood"] for i in r)


def test_the_split_is_fixed_by_the_split_seed_alone():
    again, other = FuzzyLogic(CFG), FuzzyLogic(Config(variables=4, terms=2, seq_len=16, split_seed=7))
    assert _rows(again.combinations["test"]) == _rows(TASK.combinations["test"])
    assert _rows(other.combinations["test"]) != _rows(TASK.combinations["test"])


def test_sign_patterns_follow_product_order():
    p = fuzzy_logic.sign_patterns(3)
    assert p.shape == (8, 3) and p[0].tolist() == [0, 0, 0] and p[1].tolist() == [0, 0, 1]
    assert p[6].tolist() == [1, 1, 0]


def test_worked_example_of_the_function():
    # (x0 AND NOT x1) OR (NOT x0 AND x1) at x = (0.2, 0.7): max(min(0.2, 0.3), min(0.8, 0.7)) = 0.7
    latent = jnp.array([[1, 0], [0, 1]])
    assert float(fuzzy_logic.evaluate(latent, jnp.array([0.2, 0.7]))) == pytest.approx(0.7)


def test_batches_draw_their_split_and_carry_the_latents():
    for split in TASK.splits:
        b = TASK.sample(jax.random.key(0), split, 64)
        assert b.x.shape == (64, 16, 5) and b.y.shape == (64, 16, 1)
        assert _rows(b.info["terms"]) <= _rows(TASK.combinations[split])
        np.testing.assert_array_equal(b.info["latent"], TASK.patterns[b.info["terms"]])
        np.testing.assert_allclose(b.y[..., 0], fuzzy_logic.evaluate(b.info["latent"][:, None], b.x[..., :4]))
        np.testing.assert_allclose(b.x[:, :-1, 4], b.y[:, :-1, 0])
        assert (b.x[:, -1, 4] == 0).all() and (b.mask.sum(1) == 1).all() and (b.mask[:, -1] == 1).all()


def test_deterministic_in_the_key_and_splits_use_their_own_streams():
    a, b = (TASK.sample(jax.random.key(3), "train", 8) for _ in range(2))
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.allclose(TASK.sample(jax.random.key(3), "test", 8).x, a.x)


def test_r_squared_is_per_sequence_against_the_sequences_own_variance():
    b = TASK.sample(jax.random.key(4), "test", 256)
    y = b.y[..., 0]
    mean_pred = jnp.broadcast_to(y.mean(1, keepdims=True)[..., None], b.y.shape)  # each sequence's mean target
    perfect, r2_mean = fuzzy_logic.r_squared(b.y, b), fuzzy_logic.r_squared(mean_pred, b)
    assert float(perfect) == 1.0
    want = np.mean(1 - (np.asarray(y[:, -1]) - np.asarray(y).mean(1)) ** 2 / np.asarray(y).var(1))
    assert float(r2_mean) == pytest.approx(want, rel=1e-5) and abs(float(r2_mean)) < 0.3
    np.testing.assert_allclose(TASK.loss(jnp.zeros_like(b.y), b), jnp.mean(y[:, -1] ** 2), rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(variables=2, terms=4), "train and test must both be non-empty"),
    (dict(variables=3, terms=3, frac_ood=0.25), "fewer than terms=3"),
    (dict(frac_test=1.0), "0 < frac_test < 1"),
    (dict(seq_len=1), "seq_len >= 2"),
    (dict(variables=12, terms=4), "more than the"),
])
def test_impossible_parameters_are_refused_in_one_sentence(kwargs, message):
    with pytest.raises(ComplabError, match=message):
        Config(**kwargs)


def test_no_ood_split_when_frac_ood_is_zero():
    task = FuzzyLogic(Config(variables=3, terms=2, frac_ood=0.0))
    assert task.splits == ("train", "test") and len(task.combinations["train"]) + len(task.combinations["test"]) == 28
