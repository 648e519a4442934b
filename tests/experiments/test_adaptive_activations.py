"""The adaptive-activation checks pass on rows of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.adaptive_activations import ARMS, EXPERIMENT
from complab.experiments.base import Results

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"softplus": 0.95, "sigmoid": 0.70, "homogeneous": 0.95, "heterogeneous": 0.955}


def _results(acc=None, s_mean=0.4, s_moved=0.13, drop=None):
    rows = []
    for seed in (0, 1, 2):
        for arm in ARMS:
            if drop != (seed, arm):
                rows.append({"seed": seed, "arm": arm, "accuracy": (acc or {}).get(arm, GOOD[arm]) if seed == 1
                             else GOOD[arm], "s_mean": s_mean if seed == 1 else 0.4,
                             "s_moved": s_moved if seed == 1 else 0.13, "n_mean": 3.0})
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True]),
    (dict(acc={"heterogeneous": 0.92}), [False, True]),  # learned shapes cost accuracy
    (dict(acc={"softplus": 0.3, "sigmoid": 0.2}), [False, True]),  # the fixed nets learned nothing: no comparison
    (dict(s_mean=0.02), [True, False]),  # the learned shapes collapse onto the softplus end
    (dict(s_mean=0.97), [True, False]),  # or onto the sigmoid end
    (dict(s_moved=0.01), [True, False]),  # the shapes were never learned: inside only because they started there
    (dict(drop=(2, "sigmoid")), [False, False]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
