"""The RTRL-approximation checks pass on rows of the claimed shape and each fails when its
part of the claim breaks (a biased estimator, noise out of order on one network, a
learning order that is not the claimed one, a run that learned nothing)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.rtrl_kronecker import EXPERIMENT, cells

CFG = EXPERIMENT.tiers["cpu"]
LABELS = [c["estimator"] for c in cells(CFG)]
NOISE = {"UORO": 12.0, "KF": 0.0, "OK(1)": -3.0, f"OK({CFG.rank})": -15.0}
SCORE = {"RTRL": 12, "UORO": 4, "KF": 5, "OK(1)": 6, f"OK({CFG.rank})": 10}


def _results(noise=None, bias=None, score=None, drop=None, roundoff=False):
    rows = []
    for seed in (0, 1, 2):
        for label in LABELS:
            t = (score or {}).get(label, SCORE[label]) if seed == 1 else SCORE[label]
            rows.append({"seed": seed, "estimator": label, "kind": "score", "t_cur": t})
            for network in [label] + (["init"] if label == "RTRL" else []):
                for a, db in NOISE.items():
                    if drop == (seed, network, a):
                        continue
                    if noise and seed == 2 and network == noise[0] and a == noise[1]:
                        db = noise[2]
                    b = bias if (bias and seed == 0 and network == "KF" and a == "KF") else 1.0
                    rows.append({"seed": seed, "estimator": label, "kind": "noise", "network": network,
                                 "approximation": a, "noise_db": db, "bias_se": b,
                                 "mean_rel_error": 1e-12 if roundoff else 1e-2})
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    (dict(bias=6.0), [False, True, True]),
    (dict(bias=6.0, roundoff=True), [True, True, True]),  # a mean exact to round-off: no standard error to compare
    (dict(noise=("init", "UORO", 5.0)), [True, False, True]),  # UORO not an order of magnitude noisier
    (dict(noise=("OK(1)", f"OK({CFG.rank})", -2.0)), [True, False, True]),  # more terms, more noise
    (dict(noise=("KF", "OK(1)", 1.0)), [True, False, True]),  # OK(1) noisier than KF
    (dict(score={f"OK({CFG.rank})": 5}), [True, True, False]),
    (dict(score={"KF": 3}), [True, True, False]),
    (dict(score={label: 1 for label in LABELS}), [True, True, False]),  # nothing learned
    (dict(drop=(0, "init", "KF")), [False, False, True]),
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
