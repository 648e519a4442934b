"""The ES claim checks fail when the past-direction method is no better, and when a
best step size sits at the edge of the grid (the comparison would be unfair)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.guided_es import EXPERIMENT, METHODS

CFG = EXPERIMENT.tiers["cpu"]
LR0 = f"lr{CFG.lrs[0]:g}"
MID = CFG.lrs[len(CFG.lrs) // 2]


def _results(past_cos=0.5, past_loss=0.1, past_lr=MID, linear_cos=0.99):
    rows, curves = [], []
    for seed in (0, 1, 2):
        for m in METHODS:
            cos = {"plain": 0.1, "guided": 0.1, "past": past_cos}[m]
            loss = {"plain": 0.4, "guided": 0.5, "past": past_loss}[m]
            lin = {"plain": 0.1, "guided": 0.3, "past": linear_cos}[m]
            for step in (0, CFG.converge_by, CFG.steps):
                curves.append({"seed": seed, "objective": "linear", "method": m, "fit": LR0, "step": step,
                               "name": "cosine", "value": lin})
            for obj in ("quadratic", "network"):
                for lr in CFG.lrs:
                    best = lr == (past_lr if m == "past" else MID)
                    rows.append({"seed": seed, "objective": obj, "method": m, "lr": lr, "metric": "final_loss",
                                 "value": loss if best else 10.0})
                    curves += [{"seed": seed, "objective": obj, "method": m, "fit": f"lr{lr:g}", "step": step,
                                "name": "cosine", "value": cos} for step in (0, CFG.steps)]
    return Results(rows, curves)


def test_all_checks_pass_on_results_that_show_the_claim():
    checks = EXPERIMENT.expect(_results(), CFG)
    assert len(checks) == 5 and all(c.passed for c in checks), [c.measured for c in checks]


@pytest.mark.parametrize("kwargs,failing", [
    (dict(linear_cos=0.9), {0}),
    (dict(past_cos=0.05), {1, 3}),
    (dict(past_loss=0.45), {2, 4}),
    (dict(past_lr=CFG.lrs[-1]), {2, 4}),
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kwargs, failing):
    checks = EXPERIMENT.expect(_results(**kwargs), CFG)
    assert {i for i, c in enumerate(checks) if not c.passed} == failing, [c.measured for c in checks]
