"""The semantic-development checks fail when simulation and theory part or the order breaks."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.semantic_development import EXPERIMENT
from complab.theory import deep_linear

CFG = EXPERIMENT.tiers["cpu"]
S = (1.4, 0.9, 0.6, 0.35)
STEPS = np.linspace(0, CFG.time / CFG.eta, 401).round().astype(int)


def _results(deviation=0.01, halves=(2.8, 3.6, 5.8, 9.0), predicted=(3.0, 4.0, 6.0, 9.5), seeds=(0, 1, 2)):
    rows, curves, t = [], [], CFG.eta * STEPS
    for seed in seeds:
        decoupled = [deep_linear.mode_strength(t, s, CFG.a0) * (1 + deviation) for s in S]
        random = [s / (1 + np.exp(np.minimum(-5 * (t - h), 50))) for s, h in zip(S, halves)]
        for level, (s, p) in enumerate(zip(S, predicted)):
            rows.append({"seed": seed, "init": "decoupled", "level": level, "singular_value": s, "a0": CFG.a0})
            rows.append({"seed": seed, "init": "random", "level": level, "singular_value": s,
                         "a0": s / (np.exp(2 * s * p) + 1)})  # predicted half-time p
        for init, values in (("decoupled", decoupled), ("random", random)):
            curves += [{"seed": seed, "init": init, "fit": "gd", "name": "strength", "step": int(st),
                        "value": [float(v[i]) for v in values]} for i, st in enumerate(STEPS)]
    return Results(rows, curves)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True]),
    (dict(deviation=0.05), [False, True]),  # simulation and theory part
    (dict(halves=(2.8, 5.9, 5.8, 9.0), predicted=(3.0, 5.9, 5.8, 9.5)), [True, False]),  # a finer mode first
    (dict(halves=(2.8, 3.6, 5.8, 14.0)), [True, False]),  # the finest mode far from its prediction
    (dict(halves=(2.8, 3.6, 5.8, 1e9)), [True, False]),  # never learned
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
