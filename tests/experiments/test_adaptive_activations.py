"""The adaptive-activation checks pass on rows of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.adaptive_activations import ARMS, EXPERIMENT
from complab.experiments.base import Results

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"softplus": 0.95, "sigmoid": 0.70, "homogeneous": 0.95, "heterogeneous": 0.955}


def _results(acc=None, arm_changed="heterogeneous", drop=None, **change):
    rows = []
    for seed in (0, 1, 2):
        for arm in ARMS:
            row = {"seed": seed, "arm": arm, "accuracy": GOOD[arm], "s_mean": 0.3, "s_moved": 0.13, "n_mean": 3.0,
                   "edge": 0.27, "edge_start": 0.25}
            if seed == 1:
                row["accuracy"] = (acc or {}).get(arm, GOOD[arm])
                if arm == arm_changed:
                    row.update(change)
            if drop != (seed, arm):
                rows.append(row)
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True]),
    (dict(acc={"heterogeneous": 0.92}), [False, True]),  # learned shapes cost accuracy
    (dict(acc={"softplus": 0.3, "sigmoid": 0.2}), [False, True]),  # the fixed nets learned nothing: no comparison
    (dict(arm_changed="homogeneous", s_mean=0.02), [True, False]),  # the network-wide shape stays a softplus
    (dict(arm_changed="homogeneous", s_mean=0.97), [True, False]),  # or becomes a sigmoid
    (dict(edge=0.15), [True, False]),  # the per-neuron shapes drift towards the ends
    (dict(s_moved=0.01), [True, False]),  # never learned: inside only because they started there
    (dict(drop=(2, "sigmoid")), [False, False]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
