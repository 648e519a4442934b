import jax.numpy as jnp
import numpy as np
import pytest

from complab.probes.statistics import cramers_v, macro_f1, ranks, spearman


def test_spearman_is_a_rank_correlation():
    a = np.arange(10.0)
    assert spearman(a, a**3) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4], list(np.exp(-np.arange(4)))) == pytest.approx(-1.0)
    b = a.copy()
    b[3] = np.nan  # pairs with a NaN are left out
    assert spearman(b, a) == pytest.approx(1.0)
    assert np.isnan(spearman(a, np.ones(10)))  # a constant side has no ranks to correlate


def test_ties_share_their_mean_rank():
    assert np.allclose(ranks([3.0, 1.0, 3.0, 2.0]), [2.5, 0.0, 2.5, 1.0])
    x = np.random.default_rng(0).integers(0, 4, 200).astype(float)
    y = x + np.random.default_rng(1).normal(0, 0.1, 200)
    rx, ry = ranks(x), ranks(y)  # Pearson of the mean ranks, as the textbook defines it with ties
    assert spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_cramers_v_is_zero_for_independent_and_one_for_determined_labels():
    d = np.repeat(np.arange(5), 40)
    assert cramers_v(d, d % 5) == pytest.approx(1.0)
    assert cramers_v(d, np.tile(np.arange(4), 50)) == pytest.approx(0.0, abs=1e-12)
    noisy = np.where(np.random.default_rng(0).random(200) < 0.5, d, np.random.default_rng(1).integers(0, 5, 200))
    assert 0.3 < cramers_v(d, noisy) < 0.9


def test_macro_f1_matches_the_definition_over_the_true_classes():
    true = jnp.array([0, 0, 1, 1, 2, 2, 2])
    pred = jnp.array([0, 1, 1, 1, 2, 0, 3])  # class 3 is predicted but never true: it is not averaged
    f1 = {0: 2 * 1 / (2 + 1 + 1), 1: 2 * 2 / (4 + 1 + 0), 2: 2 * 1 / (2 + 0 + 2)}
    assert float(macro_f1(pred, true, 4)) == pytest.approx(np.mean(list(f1.values())))
    assert float(macro_f1(true, true, 4)) == pytest.approx(1.0)
    # a majority-class guess is accurate on a skewed split yet scores low macro-F1
    skewed = jnp.array([0] * 18 + [1, 2])
    assert float(macro_f1(jnp.zeros(20, int), skewed, 3)) == pytest.approx((2 * 18 / (36 + 2)) / 3)
