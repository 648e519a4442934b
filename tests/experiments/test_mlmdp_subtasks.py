"""The subtask checks pass on rows of the claimed shape and each fails when its part of the
claim breaks."""

import pytest

from complab.experiments.base import Results
from complab.experiments.mlmdp_subtasks import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]


def _results(**change):
    rows = []
    for seed in (0, 1, 2):
        for m in CFG.maps:
            for lam in CFG.lams:
                row = {"seed": seed, "map": m, "lam": lam, "purity": 1.0, "dominant": [1, 2, 3, 0],
                       "nmf_error": 0.78, "svd_error": 0.775, "open_purity": 0.78,
                       "ensemble_dominant": [0, 1, 1, 0], "task_rooms": [0, 1], "upper_link_ratio": 8.0,
                       "upper_link_ratio_open": 2.5,
                       "upper_groups": [[0, 2], [1, 3]], "upper_connected": True}
                if (m, lam, seed) == ("lopsided", 20.0, 1):
                    row.update(change)
                rows.append(row)
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    (dict(), [True] * 5),
    (dict(purity=0.8), [False, True, True, True, True]),  # factors that mix rooms
    (dict(dominant=[1, 1, 3, 0]), [False, True, True, True, True]),  # two factors on one room, one room left out
    (dict(open_purity=0.9), [True, False, True, True, True]),  # rooms found without the walls too
    (dict(nmf_error=0.8), [True, True, False, True, True]),  # a factorisation far from converged
    (dict(ensemble_dominant=[0, 0, 0, 2]), [True, True, True, False, True]),  # a factor outside the tasks' rooms
    (dict(ensemble_dominant=[0, 0, 0, 0]), [True, True, True, False, True]),  # a task room left uncovered
    (dict(upper_link_ratio=0.9), [True, True, True, True, False]),  # level 2 ignores the doorways
    (dict(upper_connected=False), [True, True, True, True, False]),  # level 2 groups rooms no doorway joins
    (dict(upper_link_ratio=2.0), [True, True, True, True, False]),  # doorways link no more than distance does
    (dict(upper_link_ratio_open=float("nan")), [True] * 5),  # the open grid's factors are not four rooms
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_the_wall_control_fails_when_the_lopsided_map_was_not_run():
    only = Results([r for r in _results().rows if r["map"] == "four_rooms"])
    assert not EXPERIMENT.expect(only, CFG)[1].passed
