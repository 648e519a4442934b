"""The KSOM checks pass on results of the claimed shape and each fails for its reason."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.kohonen_vq import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
STEPS = np.arange(0, CFG.train.steps + 1, CFG.eval_every)
# (kind, N) -> (steps constant of the decay, final loss, usage, decoded-image order)
GOOD = {("ema", 1.0): (600, 0.0144, 55, 1.0), ("ema", 0.0): (600, 0.0160, 20, 1.0),
        ("hard", 1.0): (400, 0.0145, 60, 0.6), ("hard", 0.0): (400, 0.0146, 60, 0.6),
        ("gaussian", 1.0): (400, 0.0143, 60, 0.4), ("gaussian", 0.0): (400, 0.0144, 60, 0.4)}


def _results(change=None, drop=None, baseline=0.074):
    rows, curves = [], []
    for s in (0, 1, 2):
        for (k, n), (tau, final, usage, order) in {**GOOD, **(change or {})}.items():
            if drop == (s, k, n):
                continue
            loss = final + (0.07 - final) * np.exp(-STEPS / tau)
            curves += [{"seed": s, "kind": k, "counter_init": n, "fit": "train", "step": int(t), "name": "val_loss",
                        "value": float(v)} for t, v in zip(STEPS, loss)]
            rows.append({"seed": s, "kind": k, "counter_init": n, "val_loss": float(loss[-1]), "val_perplexity": usage,
                         "image_order": order, "baseline_mse": baseline})
    return Results(rows, curves)


@pytest.mark.parametrize("change, want", [
    ({}, [True] * 5),
    ({("hard", 1.0): (400, 0.0170, 60, 0.6)}, [False, False, True, False, True]),  # KSOM ends worse (never near EMA)
    ({("gaussian", 0.0): (400, 0.0170, 60, 0.4)}, [True, False, True, True, True]),  # N = 0 hurts KSOM
    ({("ema", 0.0): (600, 0.0160, 50, 1.0)}, [True, True, False, True, True]),  # EMA uses its codes at N = 0
    ({("ema", 0.0): (600, 0.0145, 20, 1.0)}, [True, False, True, True, True]),  # EMA's loss is as robust to N
    ({("hard", 1.0): (700, 0.0145, 60, 0.6)}, [True, True, True, False, True]),  # KSOM no faster
    ({("gaussian", 1.0): (400, 0.0143, 60, 0.9)}, [True, True, True, True, False]),  # no order
    ({("ema", 1.0): (600, 0.0144, 55, 0.6)}, [True, True, True, True, False]),  # EMA "ordered": the grid is not why
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(change), CFG)] == want


def test_comparable_losses_need_a_model_that_learned():
    assert not EXPERIMENT.expect(_results(baseline=0.02), CFG)[0].passed  # all near the mean image's error


def test_a_missing_run_fails_every_check():
    assert not any(c.passed for c in EXPERIMENT.expect(_results(drop=(1, "hard", 0.0)), CFG))
