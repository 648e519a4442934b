"""The randomized-recall checks pass on rows of the claimed shape and each fails when its part
of the claim breaks (a randomized arm that does not beat the deterministic ones, a vote that
does not amplify, an average-case arm that uses its seed, an ES arm that stays deterministic)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.randomized_recall import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {
    "fixed_q1": dict(p95_error=1.07, mean_error=0.5, success=0.33, never=0.67, vote=0.33, worst_key=0.0),
    "fixed_q8": dict(p95_error=0.79, mean_error=0.6, success=0.11, never=0.89, vote=0.11, worst_key=0.04),
    "random_q8": dict(p95_error=0.58, mean_error=0.53, success=0.3, never=0.06, vote=0.997, worst_key=0.28),
    "random_q1": dict(p95_error=1.05, mean_error=0.5, success=0.31, never=0.64, vote=0.315, worst_key=0.0),
    "random_q8_es": dict(p95_error=0.71, mean_error=0.6, success=0.23, never=0.04, vote=0.92, worst_key=0.15),
}


def _results(arm=None, drop=None, **change):
    rows = []
    for seed in (0, 1, 2):
        for a, values in GOOD.items():
            if a == drop and seed == 2:
                continue
            rows.append({"seed": seed, "arm": a, **values, **(change if a == arm and seed == 1 else {}),
                         "per_key": [0.2] * 8})
    return Results(rows)


@pytest.mark.parametrize("arm, change, want", [
    (None, {}, [True] * 5),
    ("random_q8", dict(p95_error=0.80), [False, True, True, True, True]),  # no better than the deterministic worst
    ("random_q8", dict(never=0.5), [False, True, True, True, True]),  # still never recalls many inputs
    ("random_q8", dict(mean_error=1.0), [False, True, True, True, True]),  # seeds spread an untrained model's misses
    ("random_q8", dict(vote=0.6), [True, False, True, True, True]),  # the vote does not reach the optimum
    ("random_q8", dict(vote=0.3), [True, False, True, True, True]),  # the vote adds nothing
    ("random_q1", dict(vote=0.9), [True, True, False, True, True]),  # average-case training used the seed
    ("random_q1", dict(mean_error=1.0, vote=0.0, success=0.0), [True, True, False, True, True]),  # learned nothing
    ("fixed_q1", dict(mean_error=1.0), [True, True, False, True, True]),  # its reference learned nothing
    ("random_q8_es", dict(p95_error=0.9, never=0.7, vote=0.23), [True, True, True, False, True]),  # ES: deterministic
    ("random_q8_es", dict(vote=0.5), [True, True, True, False, True]),
    ("random_q8", dict(worst_key=0.18), [True, True, True, True, False]),  # a key recalled too rarely
    ("fixed_q8", dict(worst_key=0.2), [True, True, True, True, False]),  # a deterministic model recalls every key
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(arm, change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(arm, **change), CFG)] == want


def test_a_missing_arm_fails_every_check():
    assert [c.passed for c in EXPERIMENT.expect(_results(drop="fixed_q8"), CFG)] == [False] * 5
