"""The generalist-learner checks pass on rows of the claimed shape and each fails for its reason."""

import dataclasses

import pytest

from complab.experiments.base import Results
from complab.experiments.generalist_algorithmic_learner import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
ALGS = CFG.algorithms
RUNS = [("single", "triplet_gmpnn"), ("single", "mpnn"), ("multi", "triplet_gmpnn")]
GOOD = {("single", "triplet_gmpnn"): {"bfs": 0.97, "bellman_ford": 0.9, "insertion_sort": 0.6},
        ("single", "mpnn"): {"bfs": 0.95, "bellman_ford": 0.85, "insertion_sort": 0.4},
        ("multi", "triplet_gmpnn"): {"bfs": 0.96, "bellman_ford": 0.88, "insertion_sort": 0.55}}


def _results(ood=None, ind=None, seeds=(1,), drop=None):
    rows = []
    for s in (0, 1, 2):
        for t, k in RUNS:
            for a in ALGS:
                o = (ood or {}).get((t, k, a), GOOD[(t, k)][a]) if s in seeds else GOOD[(t, k)][a]
                i = (ind or {}).get((t, k, a), 0.95) if s in seeds else 0.95
                if drop != (s, t, k, a):
                    rows.append({"seed": s, "training": t, "model": k, "algorithm": a, "ood": o, "in_dist": i,
                                 "self_in_dist": 0.3, "self_ood": 0.05})
    return Results(rows)


ALL = (0, 1, 2)


@pytest.mark.parametrize("ood, ind, seeds, want", [
    ({}, {}, (1,), [True, True, True, True]),
    # insertion sort below its threshold in one seed
    ({("single", "triplet_gmpnn", "insertion_sort"): 0.45}, {}, (1,), [True, False, True, True]),
    # the multi-task processor is worse by more than the margin on the mean
    ({("multi", "triplet_gmpnn", a): 0.6 for a in ALGS}, {}, ALL, [True, True, False, True]),
    # the plain MPNN beats triplet-GMPNN on the mean
    ({("single", "mpnn", a): 0.99 for a in ALGS}, {}, ALL, [True, True, True, False]),
    # an MPNN that never learned in distribution (at the trivial predictor's score): 3, which compares it, cannot
    # pass; 2 compares the triplet models only
    ({}, {("single", "mpnn", "bfs"): 0.3}, (1,), [False, True, True, False]),
    # a multi-task model that never learned sorting: 2 cannot pass, 3 can
    ({}, {("multi", "triplet_gmpnn", "insertion_sort"): 0.3}, (1,), [False, True, False, True]),
])
def test_each_check_fails_for_its_reason(ood, ind, seeds, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(ood, ind, seeds), CFG)] == want


def test_a_missing_run_fails_every_check():
    assert not any(c.passed for c in EXPERIMENT.expect(_results(drop=(2, "single", "mpnn", "bfs")), CFG))


def test_cells():
    cells = EXPERIMENT.cells(CFG)
    assert len(cells) == 2 * len(ALGS) + 1 and sum(c["training"] == "multi" for c in cells) == 1
    # `algorithms` is a grid field (outside the config hash): the multi-task cell names them, so a run on fewer
    # algorithms never reuses the multi-task run of all three
    fewer = EXPERIMENT.cells(dataclasses.replace(CFG, algorithms=("bfs", "bellman_ford")))
    assert [c for c in fewer if c["training"] == "multi"] != [c for c in cells if c["training"] == "multi"]
