"""The disentanglement-metric checks pass on rows of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.base import Results
from complab.experiments.disentanglement_metric import EXPERIMENT, sweeps

CFG = EXPERIMENT.tiers["cpu"]


def _row(sweep, alpha, theta, seed):
    obj = 0.96 - alpha if sweep == "alpha" else 0.96 + 0.01 * theta
    prop = 0.99 - 0.02 * alpha if sweep == "alpha" else 0.99 - 0.4 * theta
    return {"seed": seed, "sweep": sweep, "alpha": alpha, "theta": theta, "object": obj, "property": prop,
            "flat": (obj + prop) / 2, "naive_object": 0.001}


def _results(seed=1, edit=None, drop=None):
    rows = []
    for s in (0, 1, 2):
        for sweep, alpha, theta in sweeps(CFG):
            row = _row(sweep, alpha, theta, s)
            if s == seed and edit:
                row = edit(row)
            if drop != (s, sweep):
                rows.append(row)
    return Results(rows)


def _perfect(r):
    return r["alpha"] == 0 and r["theta"] == 0


@pytest.mark.parametrize("edit, want", [
    (None, [True] * 5),
    (lambda r: {**r, "object": 0.9} if r["sweep"] == "alpha" and _perfect(r) else r,
     [False, True, True, True, False]),  # the probe scores the perfect representation low
    (lambda r: {**r, "object": 0.5} if r["sweep"] == "theta" and r["theta"] > 0.5 else r,
     [True, False, True, True, True]),  # the object level also reacts to within-slot mixing
    (lambda r: {**r, "property": 0.9} if r["sweep"] == "alpha" and r["alpha"] > 0.5 else r,
     [True, True, False, True, True]),  # the property level reacts to object mixing
    (lambda r: {**r, "flat": 0.97}, [True, True, True, False, True]),  # a flat metric that sees nothing
    (lambda r: {**r, "naive_object": 0.9}, [True, True, True, True, False]),  # slot order happens not to matter
])
def test_each_check_fails_for_its_reason(edit, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(edit=edit), CFG)] == want


def test_a_missing_sweep_fails_every_check():
    assert not any(c.passed for c in EXPERIMENT.expect(_results(drop=(2, "theta")), CFG))

