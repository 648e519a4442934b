"""The Fisher-explosion checks pass on rows and curves of the claimed shape and each fails
for its reason."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.fisher_explosion import ARMS, EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
PEAK = {"small": 300.0, "large": 100.0, "small_fp": 120.0, "small_noisy": 300.0, "small_fp_noisy": 120.0}
ACC = {"small": 0.90, "large": 0.96, "small_fp": 0.95, "small_noisy": 0.85, "small_fp_noisy": 0.88}


def _results(peak=None, acc=None, noisy=None, drop=None):
    rows, curves = [], []
    for s in (0, 1, 2):
        for arm in ARMS:
            if drop == (s, arm):
                continue
            p = (peak or {}).get(arm, PEAK[arm]) if s == 1 else PEAK[arm]
            a = (acc or {}).get(arm, ACC[arm]) if s == 1 else ACC[arm]
            row = {"seed": s, "arm": arm, "test_accuracy": a, "train_clean_accuracy": 0.99,
                   "train_corrupted_accuracy": 0.0}
            if arm == "small_noisy":
                row.update(train_clean_accuracy=0.99, train_corrupted_accuracy=0.09)
            if arm == "small_fp_noisy":
                row.update(train_clean_accuracy=0.985, train_corrupted_accuracy=0.03)
            if s == 1 and noisy and arm in noisy:
                row.update(noisy[arm])
            rows.append(row)
            for t in range(0, CFG.steps + 1, CFG.fisher_every):
                value = 110.0 if t == 0 else (p if t == 400 else 50.0) if t <= 800 else 500.0  # late peaks don't count
                curves.append({"seed": s, "arm": arm, "name": "fisher_trace", "step": t, "value": value})
    return Results(rows, curves)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True, True, True]),
    (dict(peak={"small": 90.0}), [False, True, False, True, True]),  # no explosion, nothing to lower
    (dict(acc={"small": 0.958}), [True, False, True, False, True]),  # no gap: nothing to recover
    (dict(peak={"small_fp": 400.0}), [True, True, False, True, True]),  # the penalty does not lower the trace
    (dict(peak={"small": 105.0}), [False, True, False, True, True]),  # within the noise of the large rate
    (dict(acc={"small_fp": 0.91}), [True, True, True, False, True]),  # it lowers the trace but recovers too little
    (dict(noisy={"small_fp_noisy": {"train_corrupted_accuracy": 0.09, "train_clean_accuracy": 0.9}}),
     [True, True, True, True, False]),  # the penalty slows clean learning more than memorisation
    (dict(noisy={"small_noisy": {"train_corrupted_accuracy": 0.01}}),
     [True, True, True, True, False]),  # nothing memorised
    (dict(noisy={"small_noisy": {"train_clean_accuracy": 0.1, "train_corrupted_accuracy": 0.1}}),
     [True, True, True, True, False]),  # untrained: fits a tenth of the corrupted labels by chance
    (dict(drop=(2, "large")), [False] * 5),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_the_early_window_ignores_initialisation():
    res = _results(peak={"small": 90.0})
    steps, trace = res.curve("fisher_trace", seed=1, arm="small")
    assert trace[0] == 110.0 and np.max(trace[(steps > 0) & (steps <= 800)]) == 90.0
