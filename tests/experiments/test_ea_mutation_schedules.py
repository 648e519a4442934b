"""The mutation-schedule checks pass on numbers of the claimed shape and each fails when its
part of the claim is broken."""

import pytest

from complab.experiments.base import Results
from complab.experiments.ea_mutation_schedules import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]


def _results(schedule=(2.9, 3.0, 3.1), static=(2.4, 2.45, 2.5), wrong=(11.0, 11.0, 11.0),
             adaptive=(2.5, 2.5, 2.6)):
    rows = []
    for seed in (0, 1, 2):
        for n, a, b, c, d in zip(CFG.ns, schedule, static, wrong, adaptive or (None,) * len(CFG.ns)):
            rows += [{"seed": seed, "n": n, "arm": arm, "per_nlnn": v, "spread": 0.1}
                     for arm, v in (("schedule", a), ("static", b), ("static_wrong", c), ("adaptive", d))
                     if v is not None]
    return Results(rows)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True, True, True]),
    (dict(static=(2.4, 2.45, 3.2)), [False, True, True, True]),  # the schedule as fast as knowing n
    (dict(static=(1.9, 2.45, 2.5), adaptive=(2.0, 2.5, 2.6)), [False, True, True, True]),  # ... or far slower
    (dict(schedule=(2.9, 3.0, 3.9), static=(2.4, 2.45, 3.0)), [True, False, True, True]),  # above 1.05 beta
    (dict(wrong=(11.0, 2.9, 11.0)), [True, True, False, True]),  # a wrong static rate does as well
    (dict(adaptive=(2.5, 2.8, 2.6)), [True, True, True, False]),  # adapting costs more than 10% at one n
    (dict(adaptive=(2.5, 2.5, 3.2), static=(2.4, 2.45, 2.95)), [True, True, True, False]),  # slower than the schedule
    (dict(adaptive=None), [True, True, True, False]),  # stored before the adaptive arm: not run, not passed
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
