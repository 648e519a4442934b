"""The HotTopic checks pass on rows of the claimed shape and each fails when its part of the
claim breaks."""

import pytest

from complab.experiments.base import Results
from complab.experiments.ea_monotone_threshold import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
VISITED = {1000: [0.05, 0.07, 0.08, 0.13, 0.17], 3000: [0.07, 0.08, 0.11, 0.39, 1.0]}


def _time(n, c, levels):
    base = {1.0: 2.5, 2.0: 3.2, 3.0: 5.5, 4.0: 12.0, 5.0: 25.0}[c]
    return base * (1.5 if (n, c) == (3000, 5.0) and levels == 100 else 1.95 if (n, c) == (3000, 5.0) else 1.0)


def _results(change=None, where=None):
    rows = []
    for seed in (0, 1, 2):
        for n in CFG.ns:
            for i, c in enumerate(CFG.cs):
                for levels in CFG.levels:
                    t = _time(n, c, levels)
                    row = {"seed": seed, "n": n, "c": c, "arm": f"hot_topic_L{levels}", "levels": levels,
                           "solved": 1.0, "time_median": t, "times": [f * t for f in (0.9, 0.95, 1.0, 1.0, 1.05, 1.1)],
                           "climbs": [f * (0.1 if c <= 3 else t / 3) for f in (0.9, 0.95, 1.0, 1.0, 1.05, 1.1)],
                           "visited_median": VISITED[n][i], "zeros_climbing": 0.2 if c >= 4 else 0.01}
                    if where and seed == 1 and (n, c, levels) == where:
                        row.update(change)
                        row["times"] = [v * row["time_median"] / t for v in row["times"]]
                        row["climbs"] = [v * row["time_median"] / t for v in row["climbs"]]
                    rows.append(row)
                rows.append({"seed": seed, "n": n, "c": c, "arm": "onemax", "levels": 0, "solved": 1.0,
                             "time_median": _time(n, c, 0) if (n, c) != (3000, 5.0) else 25.0, "times": [],
                             "visited_median": float("nan")})
    return Results(rows)


@pytest.mark.parametrize("change, where, want", [
    (None, None, [True] * 4),
    ({"times": [2.5, 2.5, 25.0]}, (1000, 1.0, 100), [False, True, True, True]),  # a slow run at c = 1
    ({"visited_median": 0.6}, (3000, 1.0, 200), [False, True, True, True]),  # small c climbing levels
    ({"climbs": [0.5] * 6}, (1000, 1.0, 200), [False, True, True, True]),  # small c slowed by more levels
    ({"visited_median": 0.5}, (3000, 5.0, 100), [True, False, True, True]),  # large c still jumping
    ({"zeros_climbing": 0.02}, (3000, 5.0, 200), [True, False, True, True]),  # zero density below eps
    ({"time_median": 30.0}, (3000, 5.0, 200), [True, False, True, True]),  # more levels cost nothing
    ({"time_median": 26.0}, (3000, 5.0, 200), [True, False, True, False]),  # ... and no more than OneMax
    ({"visited_median": 0.02}, (3000, 4.0, 100), [True, True, False, True]),  # larger n, fewer levels visited
    ({"time_median": 4.0}, (3000, 1.0, 100), [True, True, True, False]),  # HotTopic slower than OneMax at c = 1
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, where, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(change, where), CFG)] == want
