"""The SRWM few-shot checks pass on results of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.base import Results
from complab.experiments.srwm_fewshot import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
SYNC = {"srwm": 0.85, "delta_net": 0.84, "lstm": 0.80}
SHOTS = [0.2, 0.6, 0.7, 0.75, 0.78, 0.8]


def _results(sync=None, shots=None, drop=None):
    rows = []
    for s in (0, 1, 2):
        for m in CFG.models:
            if drop != (s, "sync", m):
                rows.append({"seed": s, "form": "sync", "model": m, "accuracy": {**SYNC, **(sync or {})}[m]})
            acc = shots if shots is not None and m == "srwm" else SHOTS
            rows.append({"seed": s, "form": "delayed", "model": m, "accuracy": sum(acc) / len(acc),
                         **{f"shot{k}_accuracy": a for k, a in enumerate(acc)}})
    return Results(rows)


@pytest.mark.parametrize("sync, shots, want", [
    ({}, None, [True, True, True]),
    ({"srwm": 0.7, "delta_net": 0.7, "lstm": 0.69}, None, [False, True, True]),  # all competitive, below 0.75
    ({"delta_net": 0.9}, None, [True, False, True]),  # a baseline is clearly better
    ({}, [0.2, 0.7, 0.72, 0.74, 0.76, 0.78], [True, True, False]),  # more labelled images add < 0.1
    ({"srwm": 0.2, "delta_net": 0.2, "lstm": 0.2}, [0.2] * 6, [False, False, False]),  # nothing learned
])
def test_each_check_fails_for_its_reason(sync, shots, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(sync, shots), CFG)] == want


def test_a_missing_run_fails_the_sync_checks():
    assert [c.passed for c in EXPERIMENT.expect(_results(drop=(1, "sync", "lstm")), CFG)][:2] == [False, False]
