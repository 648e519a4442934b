"""The bottleneck checks fail when their numbers leave the claim."""

import pytest

from complab.experiments.base import Results
from complab.experiments.compositional_icl_bottleneck import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]


def _results(transformer=(0.95, 0.5), bottleneck=(0.93, 0.9), seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        for m, (seen, held) in (("transformer", transformer), ("bottleneck", bottleneck)):  # held: one or per seed
            held = held[s] if isinstance(held, tuple) else held
            rows += [{"seed": s, "model": m, "metric": "r2", "split": "train", "value": seen},
                     {"seed": s, "model": m, "metric": "r2", "split": "test", "value": held}]
        rows.append({"seed": s, "model": "bottleneck", "metric": "code_r2", "value": 0.9})
    return Results(rows)


def test_all_checks_pass_on_results_that_show_the_claim():
    assert [c.passed for c in EXPERIMENT.expect(_results(), CFG)] == [True, True, True]


@pytest.mark.parametrize("kw, want", [
    (dict(transformer=(0.95, 0.85)), [False, True, True]),  # the transformer generalises too
    (dict(transformer=(0.5, 0.2)), [False, True, True]),  # it did not even fit
    (dict(bottleneck=(0.93, 0.7)), [True, False, True]),  # the bottleneck's gap is as large
    (dict(transformer=(0.95, (0.5, 0.5, 0.88)), bottleneck=(0.93, (0.9, 0.9, 0.86))),
     [True, True, False]),  # one seed below the transformer
    (dict(transformer=(0.05, 0.02), bottleneck=(0.06, 0.05)), [False, False, False]),  # nothing learned
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
