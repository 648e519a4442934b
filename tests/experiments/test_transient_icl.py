"""The transient-ICL checks pass on results of the claimed shape and each fails when its part
of the claim breaks, including when ICL never emerges (a persistence check must not pass then)."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.transient_icl import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
STEPS = np.linspace(0, 6000, 13).astype(int)
RISE_FALL = np.array([0.5, 0.7, 0.95, 0.97, 0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.5, 0.5, 0.5])
RISE_STAY = np.array([0.5, 0.7, 0.95, 0.97, 0.97, 0.96, 0.96, 0.95, 0.95, 0.95, 0.96, 0.95, 0.95])
FALLING = np.geomspace(5.0, 0.02, 13)


def _toy_rows(seed, mu1, fades):
    rows = []
    for i in range(8):
        fade = i < fades
        rows.append({"seed": seed, "model": "toy", "mu1": mu1, "run": i, "m1_min": 0.002 if fade else 1e-13,
                     "m1_end": 0.4 if fade else 1e-8, "m2_end": 1e-11 if fade else 1.5, "loss_end": 1e-12,
                     "loss_rise": -1e-9})
    return rows


def _results(main_fades=6, ablation_fades=0, plain=None, reg=None, drop_seed=None):
    rows, curves = [], []
    for seed in (0, 1, 2):
        rows += _toy_rows(seed, CFG.toy.mu1, main_fades) + _toy_rows(seed, 0.0, ablation_fades)
        for l2, given in ((0.0, plain), (CFG.l2, reg)):
            if seed == drop_seed and l2 == 0.0:
                continue
            arm = {"icl": RISE_FALL if l2 == 0.0 else RISE_STAY, "loss": FALLING,
                   "ciwl": np.linspace(0, 0.99, 13), "iwl": np.linspace(0, 0.6, 13), "flip": np.linspace(0.9, 0, 13)}
            if given is not None and seed == 1:
                arm = {**arm, **given}
            for name, values in arm.items():
                curves += [{"seed": seed, "model": "transformer", "l2": l2, "fit": f"l2={l2:g}", "name": name,
                            "step": int(t), "value": float(v)} for t, v in zip(STEPS, values)]
    return Results(rows, curves)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True, True]),
    (dict(main_fades=4), [False, True, True, True]),  # mechanism 1 stays in most descents
    (dict(ablation_fades=3), [True, False, True, True]),  # it fades even when it could reach zero loss alone
    (dict(plain={"icl": np.full(13, 0.5)}), [True, True, False, True]),  # ICL never emerges
    (dict(plain={"icl": RISE_STAY}), [True, True, False, True]),  # it emerges and stays
    (dict(plain={"ciwl": np.full(13, 0.3), "iwl": np.full(13, 0.2)}), [True, True, False, True]),  # nothing takes over
    (dict(plain={"loss": FALLING[::-1]}), [True, True, False, True]),  # the loss rises as ICL fades
    (dict(reg={"icl": RISE_FALL}), [True, True, True, False]),  # L2 does not keep it
    (dict(reg={"icl": np.full(13, 0.52)}), [True, True, True, False]),  # no ICL to persist: not a pass
    (dict(drop_seed=2), [True, True, False, True]),  # a seed without its curves
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_mechanism_1_wiggling_at_float_noise_is_not_a_fade():
    res = _results()
    for r in res.rows:
        if r["model"] == "toy" and r["mu1"] == CFG.toy.mu1 and r["run"] < 4:  # 1e-13 -> 1e-8 with mechanism 2 done
            r.update(m1_min=1e-13, m1_end=1e-8, m2_end=1e-11)
    assert not EXPERIMENT.expect(res, CFG)[0].passed


def test_the_ablation_fails_when_mechanism_1_is_never_learned():
    res = _results()
    for r in res.rows:
        if r["model"] == "toy" and r["mu1"] == 0.0:
            r.update(m1_min=0.3, m1_end=0.3)
    assert not EXPERIMENT.expect(res, CFG)[1].passed


def test_a_loss_that_rises_between_peak_and_end_is_not_falling():
    bump = FALLING.copy()
    bump[6:9] = 3.0  # falls, rises back above half its start, falls again
    assert not EXPERIMENT.expect(_results(plain={"loss": bump}), CFG)[2].passed


def test_a_toy_descent_whose_loss_rises_does_not_count_as_transient():
    res = _results()
    for r in res.rows:
        if r["model"] == "toy" and r["run"] < 4:
            r["loss_rise"] = 1e-3
    assert not EXPERIMENT.expect(res, CFG)[0].passed
