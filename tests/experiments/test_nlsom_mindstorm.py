"""The society checks pass on results of the claimed shape and each fails for its reason;
the data splits are disjoint."""

import numpy as np
import pytest

from complab.experiments import nlsom_mindstorm as nl
from complab.experiments.base import Results
from complab.tasks import digit_classes as dc

CFG = nl.EXPERIMENT.tiers["cpu"]
# (condition, round, structure) -> accuracy
GOOD = {("reliable", 0, "vote"): 0.94, ("reliable", 2, "vote"): 0.97, ("reliable", 0, "member_mean"): 0.7,
        ("reliable", 2, "member_mean"): 0.95, ("reliable", 2, "leader"): 0.97,
        ("random", 2, "vote"): 0.92, ("random", 2, "leader"): 0.95,
        ("colluding", 2, "vote"): 0.90, ("colluding", 2, "leader"): 0.94}


def _results(society=None, best=0.90, newcomer=0.98):
    acc = {**GOOD, **(society or {})}
    rows = []
    for s in (0, 1, 2):
        rows += [{"seed": s, "kind": "member", "member": m, "accuracy": best - 0.1 * i}
                 for i, m in enumerate(CFG.views)]
        rows += [{"seed": s, "kind": "society", "condition": c, "round": r, "structure": st, "accuracy": a}
                 for (c, r, st), a in acc.items()]
        rows.append({"seed": s, "kind": "newcomer", "round": 2, "accuracy": newcomer})
    return Results(rows)


@pytest.mark.parametrize("society, best, newcomer, want", [
    ({}, 0.90, 0.98, [True, True, True, True]),
    ({}, 0.95, 0.98, [False, True, True, True]),  # the society is only 2 points above its best member
    ({("reliable", 0, "vote"): 0.91}, 0.90, 0.98, [False, True, True, True]),  # only listening (more labels) lifts it
    ({("reliable", 2, "vote"): 0.93}, 0.85, 0.98, [True, False, True, True]),  # rounds lower the vote
    ({("reliable", 2, "member_mean"): 0.7}, 0.90, 0.98, [True, False, True, True]),  # members learn nothing
    ({("random", 2, "leader"): 0.91}, 0.90, 0.98, [True, True, False, True]),  # the vote wins with random members
    ({("colluding", 2, "vote"): 0.97, ("random", 2, "vote"): 0.97}, 0.9, 0.98,
     [True, True, False, True]),  # unreliable members cost nothing: nothing to compare
    ({}, 0.90, 0.97, [True, True, True, False]),  # the newcomer adds nothing
    ({k: v / 3 for k, v in GOOD.items()}, 0.25, 0.40, [True, True, False, False]),  # barely trained society
])
def test_each_check_fails_for_its_reason(society, best, newcomer, want):
    assert [c.passed for c in nl.EXPERIMENT.expect(_results(society, best, newcomer), CFG)] == want


def test_the_society_and_members_splits_halve_the_training_images():
    train = dc.split_arrays(dc.Config(test_frac=0.25))["train"]
    parts = nl.splits()
    np.testing.assert_array_equal(parts["members"][0], train[0][0::2])
    np.testing.assert_array_equal(parts["society"][0], train[0][1::2][:672])  # two cross-fitting halves of 336
    assert [len(parts[s][1]) for s in ("members", "society", "test")] == [674, 672, 450]
    assert np.bincount(parts["members"][1]).min() >= 50 and np.bincount(parts["society"][1]).min() >= 50
