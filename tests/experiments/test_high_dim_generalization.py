"""The high-dimensional generalisation checks pass on the theory's own curves and each fails
when its part of the claim is broken."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.high_dim_generalization import EXPERIMENT, cells
from complab.theory import linear_student as theory
from complab.training import log_steps

CFG = EXPERIMENT.tiers["cpu"]
STEPS = np.array(log_steps(int(CFG.time / CFG.eta), CFG.points))


def _results(scale=None, late_flat=False, early_rising=False, no_frozen_gap=False, moved=1e-5, forgets=True):
    """Curves equal to the theory, then broken as asked: `scale` = (alpha, factor) on E_g."""
    rows, curves, t = [], [], CFG.eta * STEPS
    for seed in (0, 1, 2):
        for cell in cells(CFG):
            a, large = cell["alpha"], cell["init"] == "large"
            sig0 = CFG.sigma_0 if large and (a < 1 and not no_frozen_gap or a > 1 and forgets) else 0.0
            if large and a > 1 and not forgets:
                sig0 = 0.0
            eg = theory.generalization_error(t, a, CFG.sigma_w, sig0, CFG.sigma_eps)
            et = theory.training_error(t, a, CFG.sigma_w, sig0, CFG.sigma_eps)
            if large and a > 1 and not forgets:
                eg = eg + 0.5
            if scale and scale[0] == a:
                eg = eg * scale[1]
            if late_flat:
                eg = np.where(t > 10, eg[np.searchsorted(t, 10)], eg)
            if early_rising:
                eg = eg * (1 + (a == 1.0) * (t < 3))
            row = {"seed": seed, **cell, "n": CFG.n, "p": int(a * CFG.n),
                   "sigma_0": CFG.sigma_0 if large else 0.0}
            if large and a < 1:
                row["null_moved"] = moved
            rows.append(row)
            for name, values in (("eg", eg), ("et", et)):
                curves += [{"seed": seed, **cell, "fit": "gd", "name": name, "step": int(s), "value": float(v)}
                           for s, v in zip(STEPS, values)]
    return Results(rows, curves)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True, True]),
    (dict(scale=(2.0, 1.08)), [False, True, True]),  # simulation and theory part by 8% at alpha = 2
    (dict(scale=(0.75, 1.08)), [True, True, True]),  # ... but near alpha = 1 that is not claimed
    (dict(late_flat=True), [False, False, True]),  # no overtraining: no late peak (nor the theory's curve)
    (dict(early_rising=True), [True, False, True]),  # a peak at alpha = 1 already early
    (dict(no_frozen_gap=True), [True, True, False]),  # the large start is forgotten below alpha = 1
    (dict(moved=0.05), [True, True, False]),  # the null-space weights moved
    (dict(forgets=False), [True, True, False]),  # the start still costs above alpha = 1
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
