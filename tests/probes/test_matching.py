"""The assignment solver finds the optimum (brute force on small problems) and activation
matching recovers a hidden permutation."""

import itertools

import numpy as np
import pytest

from complab.probes.matching import linear_assignment, match_units


@pytest.mark.parametrize("seed", range(6))
def test_linear_assignment_is_optimal_on_small_problems(seed):
    rng = np.random.default_rng(seed)
    n = 6
    cost = rng.normal(size=(n, n)) if seed % 2 else rng.integers(0, 4, size=(n, n)).astype(float)  # ties too
    perm = linear_assignment(cost)
    assert sorted(perm) == list(range(n))
    best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))
    assert cost[np.arange(n), perm].sum() == pytest.approx(best)


def test_linear_assignment_on_a_large_problem_beats_greedy_and_random():
    rng = np.random.default_rng(0)
    cost = rng.random((200, 200))
    perm = linear_assignment(cost)
    assert sorted(perm) == list(range(200))
    total = cost[np.arange(200), perm].sum()
    # the optimum of uniform costs is about 1.64 (the zeta(2) limit); a random permutation's is about 100
    assert total < 2.5


def test_activation_matching_recovers_a_hidden_permutation_despite_noise():
    rng = np.random.default_rng(1)
    a = np.maximum(rng.normal(size=(500, 64)), 0)
    hidden = rng.permutation(64)
    b = np.empty_like(a)
    b[:, hidden] = a + 0.1 * rng.random(a.shape)  # unit i of a is unit hidden[i] of b
    assert np.array_equal(match_units(a, b), hidden)


def test_a_non_square_cost_is_refused():
    with pytest.raises(ValueError, match="square"):
        linear_assignment(np.zeros((2, 3)))
