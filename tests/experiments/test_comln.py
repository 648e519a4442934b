"""The COMLN checks fail when their numbers leave the claim."""

import pytest

from complab.experiments.base import Results
from complab.experiments.comln import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]  # 5 ways: chance 0.2


def _results(before=0.3, after=0.6, horizon=2.0, loss_t0=0.6, seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        rows += [{"seed": s, "metric": "accuracy", "when": "before", "value": before},
                 {"seed": s, "metric": "accuracy", "when": "after", "value": after if s else after + 0.01},
                 {"seed": s, "metric": "horizon", "when": "after", "value": horizon},
                 {"seed": s, "metric": "query_loss", "when": "after", "value": 0.5},
                 {"seed": s, "metric": "query_loss", "when": "after, at T0", "value": loss_t0}]
    return Results(rows)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True]),
    (dict(after=0.35), [False, True]),  # a gain below 0.1
    (dict(before=0.2, after=0.35), [False, True]),  # a gain, but below 2 x chance
    (dict(horizon=1.05), [True, False]),  # T barely moved
    (dict(horizon=0.5), [True, True]),  # a shorter horizon is adapted too
    (dict(loss_t0=0.45), [True, False]),  # T moved, but the move made the loss worse
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
