"""The CoRelNet checks pass on rows of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.base import Results
from complab.experiments.corelnet_relational import EXPERIMENT
from complab.tasks.relational import PROBLEMS

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {("corelnet", 0): 0.99, ("corelnet", 50): 0.98, ("corelnet", 95): 0.97, ("lstm", 0): 0.95, ("lstm", 50): 0.8,
        ("lstm", 95): 0.6}


def _results(change=None, drop=None, seeds=(1,)):
    rows = []
    for s in (0, 1, 2):
        for p in PROBLEMS:
            for m in CFG.held_out:
                for k in ("corelnet", "lstm"):
                    acc = (change or {}).get((p, m, k), GOOD[(k, m)]) if s in seeds else GOOD[(k, m)]
                    if drop != (s, p, m, k):
                        rows.append({"seed": s, "problem": p, "held_out": m, "model": k, "accuracy": acc})
    return Results(rows)


ALL = (0, 1, 2)


@pytest.mark.parametrize("change, seeds, want", [
    ({}, (1,), [True, True, True]),
    ({("rmts", 95, "corelnet"): 0.7}, (1,), [False, True, False]),  # CoRelNet fails on unseen objects in one seed
    # the LSTM generalises too on two tasks: only 2 of 4 below CoRelNet, 2 of 4 falling
    ({("same_diff", 95, "lstm"): 0.95, ("rmts", 95, "lstm"): 0.95}, ALL, [True, False, False]),
    ({("identity", 95, "corelnet"): 0.9}, ALL, [True, True, False]),  # it does not stay (though above 0.75)
])
def test_each_check_fails_for_its_reason(change, seeds, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(change, seeds=seeds), CFG)] == want


def test_a_missing_run_fails_every_check():
    assert not any(c.passed for c in EXPERIMENT.expect(_results(drop=(2, "dist3", 95, "lstm")), CFG))
