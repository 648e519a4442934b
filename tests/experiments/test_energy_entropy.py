"""The energy-entropy checks pass on rows of the claimed shape and each fails when its part
of the claim breaks."""

import pytest

from complab.experiments.base import Results
from complab.experiments.energy_entropy import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
WIDE = {"gd": 0.68, "sgd_8": 0.68, "sgd_4": 0.69, "sgd_2": 0.8, "sgd_1": 1.0, "langevin": 0.58}
RHO = {10: (0.6, -0.1), 30: (0.4, -0.3), 100: (0.6, -0.2), 1000: (0.8, -0.3)}


def _results(wide=None, landmarks=None, rho=None, noise=None):
    rows = []
    for seed in (0, 1, 2):
        marks = {"losses": [-1.0, -1.2, -0.7], "curvatures": [1.0, 36.0], "noises": [0.008, 18.0], "barrier": 0.8,
                 **((landmarks or {}) if seed == 1 else {})}
        for arm, value in {**WIDE, **((wide or {}) if seed == 1 else {})}.items():
            rows.append({"seed": seed, "part": "landscape", "arm": arm, "wide": value, "final": [], **marks})
        for n, (free, train) in {**RHO, **((rho or {}) if seed == 1 else {})}.items():
            rows.append({"seed": seed, "part": "minima", "n": n, "params": 210, "minima": 64, "rho_free": free,
                         "rho_train": train})
        rows.append({"seed": seed, "part": "noise", "corr_min": 0.98, "corr_isotropic": 0.14, "corr_start": 0.78,
                     "e_start": 1.0, "e_end": 0.1, **((noise or {}) if seed == 1 else {})})
    return Results(rows)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True] * 5),
    (dict(landmarks={"losses": [-1.2, -1.0, -0.7]}), [False, True, True, True, True]),  # the wide one is deeper
    (dict(landmarks={"noises": [0.5, 1.0]}), [False, True, True, True, True]),  # noise not shaped by curvature
    (dict(wide={"gd": 1.0}), [True, False, True, True, True]),  # gradient descent as wide as SGD
    (dict(wide={"langevin": 0.995}), [True, False, True, True, True]),  # isotropic noise as wide as SGD
    (dict(wide={"sgd_2": 0.6}), [True, True, False, True, True]),  # more noise, fewer wide minima
    (dict(wide={"sgd_1": 0.7, "sgd_2": 0.7}), [True, False, False, True, True]),  # noise does not matter
    (dict(rho={30: (-0.2, 0.1)}), [True, True, True, False, True]),  # E_train ranks better when undersampled
    (dict(rho={30: (0.1, -0.3)}), [True, True, True, False, True]),  # F beats E_train, but F is no better than chance
    (dict(rho={1000: (-0.9, 0.9)}), [True, True, True, True, True]),  # N >= parameters is not undersampled
    (dict(noise={"corr_min": 0.5}), [True, True, True, True, False]),  # noise unlike the Hessian
    (dict(noise={"e_end": 1.5}), [True, True, True, True, False]),  # not a minimum: training diverged
    (dict(noise={"corr_min": 0.85, "corr_start": 0.9}), [True, True, True, True, False]),  # no closer than untrained
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want


def test_missing_parts_fail_their_checks():
    rows = [r for r in _results().rows if r["part"] == "landscape"]
    assert [c.passed for c in EXPERIMENT.expect(Results(rows), CFG)] == [True, True, True, False, False]
