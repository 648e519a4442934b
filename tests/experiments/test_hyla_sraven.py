"""The sRAVEN checks fail when their numbers leave the claim or the largest model learned nothing."""

import pytest

from complab.errors import ComplabError
from complab.experiments.base import Results
from complab.experiments.hyla_sraven import EXPERIMENT, Config

CFG = EXPERIMENT.tiers["cpu"]  # widths 16, 32, 64; chance 1/64


def _results(ood=(0.05, 0.1, 0.3), test=0.9, seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        for m in CFG.models:
            for w, o in zip(CFG.widths, ood):
                o = o[s] if isinstance(o, tuple) else o
                rows += [{"seed": s, "model": m, "width": w, "metric": "accuracy", "split": "test", "value": test},
                         {"seed": s, "model": m, "width": w, "metric": "accuracy", "split": "ood", "value": o}]
    return Results(rows)


def _passed(**kw):
    return [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)]


def test_all_checks_pass_on_results_that_show_the_claim():
    assert _passed() == [True, True]


@pytest.mark.parametrize("kw, want", [
    (dict(ood=(0.05, 0.1, 0.02)), [False, False]),  # the largest at chance on held-out combinations
    (dict(ood=(0.05, 0.3, 0.2)), [True, False]),  # not rising
    (dict(ood=(0.05, 0.1, (0.3, 0.3, 0.04))), [True, False]),  # one seed of the largest below the smallest
    (dict(test=0.05), [False, False]),  # nothing learned: a rising held-out curve is noise
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert _passed(**kw) == want


def test_a_sweep_without_sizes_to_compare_is_refused():
    with pytest.raises(ComplabError, match="at least two distinct multiples"):
        Config(task=CFG.task, train=CFG.train, widths=(64,), heads=4)
