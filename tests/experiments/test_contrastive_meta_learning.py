"""The contrastive-rule checks fail when their numbers leave the claim."""

import pytest

from complab.errors import ComplabError
from complab.experiments.base import Results
from complab.experiments.contrastive_meta_learning import EXPERIMENT, Config

CFG = EXPERIMENT.tiers["cpu"]  # betas 1, 0.1, 0.01; steps 10, 30, 100, 300


def _cos(steps, beta):
    return 0.6 + 0.39 * (steps / 300) - 0.01 * beta  # rises with steps, falls with beta; 0.9899 at best


def _results(cos=_cos, losses=None, seeds=(0, 1, 2)):
    losses = losses or {"contrastive": (0.1, 0.02), "implicit": (0.1, 0.018)}
    rows = []
    for s in seeds:
        rows += [{"seed": s, "learner": "alignment", "metric": "cosine", "steps": st, "beta": b, "value": cos(st, b)}
                 for st in CFG.steps_grid for b in CFG.betas]
        for name, (before, after) in losses.items():
            rows += [{"seed": s, "learner": name, "metric": "meta_test_loss", "when": "before", "value": before},
                     {"seed": s, "learner": name, "metric": "meta_test_loss", "when": "after", "value": after}]
    return Results(rows)


def _passed(**kw):
    return [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)]


def test_all_checks_pass_on_results_that_show_the_claim():
    assert _passed(cos=lambda st, b: _cos(st, b) + 0.001) == [True, True, True]


@pytest.mark.parametrize("kw, want", [
    (dict(), [False, True, True]),  # the best cell 0.9899 < 0.99: never close to the true gradient
    (dict(cos=lambda st, b: 0.995 - 0.3 * (b == 0.01)), [False, False, True]),  # small beta worse
    (dict(cos=lambda st, b: 0.995 - 0.001 * st / 300 - 0.01 * b), [True, False, True]),  # longer solves worse
    (dict(cos=lambda st, b: 0.995, losses={"contrastive": (0.1, 0.06), "implicit": (0.1, 0.02)}),
     [False, False, False]),  # flat alignment; contrastive training did not halve the loss
    (dict(cos=lambda st, b: _cos(st, b) + 0.001, losses={"contrastive": (0.1, 0.04), "implicit": (0.1, 0.02)}),
     [True, True, False]),  # halved, but twice implicit's
    (dict(cos=lambda st, b: _cos(st, b) + 0.001, losses={"contrastive": (0.1, 0.04), "implicit": (0.1, 0.07)}),
     [True, True, False]),  # implicit itself failed: "like" would compare two failures
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert _passed(**kw) == want


def test_a_grid_without_two_betas_is_refused():
    with pytest.raises(ComplabError, match="two values each"):
        Config(task=CFG.task, train=CFG.train, inner=CFG.inner, betas=(0.1,))
