"""The sparse-MAML checks fail when their numbers leave the claim or the masks learned nothing."""

import pytest

from complab.experiments.base import Results
from complab.experiments.sparse_maml import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
LAYERS = {".weights[0]": 8192, ".weights[1]": 16384, ".readout": 640, ".readout_bias": 5}


def _results(acc=(0.7, 0.75), err=(0.5, 0.4), zero=4.0, on=(0.2, 0.5, 0.6, 1.0), start=0.5, seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        for t, (m, sp) in (("digits", acc), ("sinusoid", err)):
            rows += [{"seed": s, "task": t, "learner": "maml", "metric": "meta_test", "value": m},
                     {"seed": s, "task": t, "learner": "sparse_maml", "metric": "meta_test", "value": sp}]
            rows += [{"seed": s, "task": t, "learner": "sparse_maml", "metric": "mask_on", "layer": name, "value": v,
                      "start": start, "size": size} for (name, size), v in zip(LAYERS.items(), on)]
        rows.append({"seed": s, "task": "sinusoid", "learner": "maml", "metric": "zero_predictor", "value": zero})
    return Results(rows)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True, True]),
    (dict(acc=(0.75, 0.7)), [False, True, True]),  # sparse-MAML below MAML on digits
    (dict(acc=(0.3, 0.35)), [False, True, True]),  # neither learned (chance 0.2)
    (dict(err=(0.4, 0.5)), [True, False, True]),  # sparse-MAML's error above MAML's
    (dict(err=(2.5, 2.4)), [True, False, True]),  # no better than half the zero predictor
    (dict(on=(0.5, 0.55, 0.52, 1.0)), [True, True, False]),  # only the 5-entry bias differs: not a pattern
    (dict(on=(0.47, 0.5, 0.55, 1.0)), [True, True, False]),  # layers within 0.1 of each other
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
