"""The colouring and exploration checks pass on rows of the claimed shape and each fails when
its part of the claim breaks (including a deterministic model that somehow colours, which
would mean the symmetry argument does not apply)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.randomized_coloring_exploration import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
GRAPHS = CFG.graphs.graphs
GOALS = range(1, CFG.search.cells)


def _results(colouring=None, search=None, drop=None):
    rows = []
    for seed in (0, 1, 2):
        for g in GRAPHS:
            rows.append({"seed": seed, "task": "colouring", "arm": "fixed", "graph": g, "proper": 0.0, "retried": 0.0})
            rand = {"proper": 0.7, "retried": 1.0}
            if colouring and seed == 1 and g == "Petersen":
                rand = {**rand, **colouring.get("random", {})}
            rows.append({"seed": seed, "task": "colouring", "arm": "random", "graph": g, **rand})
            if colouring and "fixed" in colouring and seed == 1 and g == "C6":
                rows[-2].update(colouring["fixed"])
        for k in GOALS:
            fixed_cost, rand_cost = float(k), 4.0 + 0.1 * (k % 2)
            if search and seed == 2:
                fixed_cost, rand_cost = search.get("fixed", fixed_cost), search.get("random", rand_cost)
            rows.append({"seed": seed, "task": "search", "arm": "fixed", "goal": k, "cost": fixed_cost})
            rows.append({"seed": seed, "task": "search", "arm": "random", "goal": k, "cost": rand_cost})
    if drop:
        rows = [r for r in rows if not (r["seed"] == 0 and r["task"] == drop[0] and r["arm"] == drop[1])]
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True]),
    (dict(colouring={"random": {"proper": 0.4}}), [False, True]),  # one graph coloured too rarely
    (dict(colouring={"fixed": {"proper": 0.2}}), [False, True]),  # a deterministic model colours: not symmetric
    (dict(search={"random": 6.5}), [True, False]),  # no better than 3/4 of the deterministic bound
    (dict(search={"fixed": 3.0}), [True, False]),  # a deterministic worst case below n - 1: broken environment
    (dict(drop=("colouring", "random")), [False, True]),
    (dict(drop=("search", "fixed")), [True, False]),
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
