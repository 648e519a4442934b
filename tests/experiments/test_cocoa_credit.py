"""The COCOA checks pass on rows of the claimed shape and each fails when its part of the
claim breaks (a biased estimator, COCOA no quieter than HCA+, HCA+ as quiet as COCOA, a
learning order that is not the claimed one, nothing learned)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.cocoa_credit import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
VAR = {"reinforce": 40.0, "hca": 35.0, "cocoa": 3.0}
LEARN = {"reinforce": 0.4, "hca": 0.6, "cocoa": 0.92}


def _results(var=None, bias=None, learn=None, drop=None):
    rows = []
    for seed in (0, 1, 2):
        for n in CFG.lengths:
            for m, v in VAR.items():
                if drop == ("noise", seed, n, m):
                    continue
                if var and seed == 1 and n == CFG.lengths[-1]:
                    v = var.get(m, v)
                b = bias if (bias and seed == 2 and m == "hca") else 1.0
                rows.append({"seed": seed, "kind": "noise", "length": n, "method": m, "variance_db": v,
                             "snr_db": -v, "bias_se": b})
        for m, t in LEARN.items():
            rows.append({"seed": seed, "kind": "train", "method": m,
                         "treasure": (learn or {}).get(m, t) if seed == 0 else t})
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    (dict(bias=5.0), [False, True, True]),
    (dict(var={"cocoa": 30.0}), [True, False, True]),  # COCOA as noisy as the others
    (dict(var={"hca": 3.0}), [True, False, True]),  # state-based coefficients as quiet: not the paper's finding
    (dict(learn={"cocoa": 0.3}), [True, True, False]),  # COCOA did not learn the treasure in one seed
    (dict(learn={"reinforce": 0.93, "hca": 0.93, "cocoa": 0.93}), [True, True, True]),  # one seed all learn: mean
    (dict(learn={"reinforce": 0.06, "hca": 0.06, "cocoa": 0.06}), [True, True, False]),  # nothing learned
    (dict(drop=("noise", 0, CFG.lengths[0], "cocoa")), [False, False, True]),
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
