"""The tree checks pass on rows of the claimed shape and each fails when its part of the
claim breaks: a biased estimator or a test without power, HCA+ with REINFORCE's
coefficients (no fall, or a fall that REINFORCE shares), COCOA-reward as noisy as HCA+
or moving with the overlap, COCOA-reward no quieter than REINFORCE, rows missing."""

import pytest

from complab.experiments.base import Results
from complab.experiments.cocoa_tree import EXPERIMENT, margins

CFG = EXPERIMENT.tiers["cpu"]
LO, HI = CFG.overlaps[0], CFG.overlaps[-1]


def _claimed(o: int) -> dict[str, float]:
    """Variances (dB) shaped like the claim: all fall 1 dB with the overlap (||g||^2 grows), HCA+ from
    REINFORCE's by 1.5 dB more, COCOA-reward 4 dB below REINFORCE throughout."""
    x = o / HI
    return {"reinforce": 9.4 - x, "hca": 9.4 - 2.5 * x, "cocoa": 5.4 - x}


def _results(var=None, bias=None, power=None, drop=None):
    rows = []
    for seed in (0, 1, 2):
        for o in CFG.overlaps:
            for m, v in _claimed(o).items():
                if drop == (seed, o, m):
                    continue
                if var and seed == 1:
                    v = var(o, m, v)
                rows.append({"seed": seed, "overlap": o, "method": m, "variance_db": v, "snr_db": -v,
                             "bias_se": bias if (bias and seed == 2 and m == "cocoa") else 1.0,
                             "power_se": power if (power and seed == 0) else 9.0})
    return Results(rows)


def _as_reinforce(o, m, v):  # HCA+ with REINFORCE's coefficients
    return _claimed(o)["reinforce"] if m == "hca" else v


def _falls_with_reinforce(o, m, v):  # HCA+ falls, but only as much as REINFORCE does
    return _claimed(o)["reinforce"] - 0.2 if m == "hca" else v


def _cocoa_at_hca(o, m, v):  # COCOA-reward with state-based coefficients
    return _claimed(o)["hca"] if m == "cocoa" else v


def _cocoa_moves(o, m, v):  # COCOA-reward's gap to REINFORCE shrinks by 1 dB over the overlaps, still below HCA+
    return v + 1.0 * o / HI if m == "cocoa" else v


def _cocoa_as_reinforce(o, m, v):  # COCOA-reward with REINFORCE's coefficients, i.e. REINFORCE
    return _claimed(o)["reinforce"] if m == "cocoa" else v


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    (dict(bias=5.0), [False, True, True]),
    (dict(power=2.0), [False, True, True]),  # too few batches to see a bias the size of the gradient
    (dict(var=_as_reinforce), [True, False, True]),
    (dict(var=_falls_with_reinforce), [True, False, True]),
    (dict(var=_cocoa_at_hca), [True, False, False]),  # and so at REINFORCE's where there is no overlap
    (dict(var=_cocoa_moves), [True, False, True]),
    (dict(var=_cocoa_as_reinforce), [True, False, False]),
    (dict(drop=(0, LO, "cocoa")), [False, False, False]),
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_margins_are_half_the_counted_gaps():
    m = margins(4)  # reward terms 10 (REINFORCE), 7 (HCA+ at full overlap), 4 (COCOA-reward)
    assert m["fall"] == pytest.approx(0.775, abs=1e-3) and m["cocoa_hca"] == pytest.approx(1.215, abs=1e-3)
    assert m["cocoa_reinforce"] == pytest.approx(1.990, abs=1e-3)
