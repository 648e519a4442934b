"""The compositional-preferences checks pass on rows of the claimed shape and each fails
for its reason."""

import pytest

from complab.experiments.base import Results
from complab.experiments.modular_preferences_goals import EXPERIMENT, cells

CFG = EXPERIMENT.tiers["cpu"]
SEEDS = (0, 1, 2)
GOOD = {("linear_hnet", "random"): (0.9, 0.85), ("linear_hnet", "non_compositional"): (0.9, 0.4),
        ("anil", "random"): (0.8, 0.5), ("anil", "non_compositional"): (0.8, 0.3)}


def _results(change=None, drop=None):
    rows = []
    for s in SEEDS:
        for c in cells(CFG):
            for i, tasks in enumerate(("train", "test")):
                key = (c["student"], c["split"], tasks, s)
                if key != drop:
                    value = (change or {}).get(key, GOOD[(c["student"], c["split"])][i])
                    rows.append({"seed": s, **c, "split_of_tasks": tasks, "score": value, "loss": 0.1,
                                 "return": 0.5 + value / 2, "blind_return": 0.5, "expert_return": 0.5})
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    ({("linear_hnet", "random", "test", 1): 0.6}, [False, False, True]),  # the hypernetwork loses a third held out
    ({("linear_hnet", "random", "train", 2): 0.3, ("linear_hnet", "random", "test", 2): 0.3},
     [False, True, True]),  # "keeps all of it" but never learned
    ({("anil", "random", "test", 0): 0.75}, [True, False, True]),  # ANIL generalises as well
    ({("anil", "random", "train", 0): 0.3, ("anil", "random", "test", 0): 0.2}, [True, False, True]),  # never learned
    ({("anil", "non_compositional", "test", 1): 0.6}, [True, True, False]),  # the unseen module does not hurt ANIL
    # low held out under non-compositional support, but it never learned its training tasks there either
    ({("linear_hnet", "non_compositional", "train", 0): 0.3, ("linear_hnet", "non_compositional", "test", 0): 0.1},
     [True, True, False]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(change), CFG)] == want


def test_a_missing_run_fails_the_checks_that_read_it():
    assert [c.passed for c in EXPERIMENT.expect(_results(drop=("anil", "random", "test", 2)), CFG)] == [
        True, False, False]
