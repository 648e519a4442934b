"""The insight checks pass on rows of the claimed shape and each fails when its part of the
claim breaks; the per-network measures read trajectories correctly."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.insight_gating import EXPERIMENT, measures

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {
    "full": dict(switched=0.55, delay_q25=500.0, delay_median=900.0, delay_q75=1300.0, length_median=98.0,
                 silent_median=3.5, silent_control_median=2.8, silent_beats_control=1.0, silent_networks=110,
                 motion_accuracy=0.9),
    "no_l1": dict(switched=1.0, delay_q25=38.0, delay_median=44.0, delay_q75=48.0, length_median=82.0,
                  silent_median=1.0, silent_control_median=np.nan, silent_beats_control=0.0, silent_networks=200,
                  motion_accuracy=0.92),
    "no_noise": dict(switched=0.0, delay_q25=np.nan, delay_median=np.nan, delay_q75=np.nan, length_median=np.nan,
                     silent_median=np.nan, silent_control_median=np.nan, silent_beats_control=np.nan,
                     silent_networks=0, motion_accuracy=0.9),
    "no_gate": dict(switched=1.0, delay_q25=30.0, delay_median=31.0, delay_q75=33.0, length_median=69.0,
                    silent_median=np.nan, silent_control_median=np.nan, silent_beats_control=0.0,
                    silent_networks=200, motion_accuracy=0.88),
}


def _results(arm=None, **change):
    rows = []
    for seed in (0, 1, 2):
        for a, values in GOOD.items():
            rows.append({"seed": seed, "arm": a, **values, **(change if a == arm and seed == 1 else {}), "delays": []})
    return Results(rows)


@pytest.mark.parametrize("arm, change, want", [
    (None, {}, [True] * 6),
    ("full", dict(switched=0.95), [False, True, True, True, True, True]),  # nearly all networks switch
    ("full", dict(switched=0.02), [False, True, True, True, True, True]),  # hardly any
    ("full", dict(delay_q25=880.0, delay_q75=950.0), [False, True, True, True, True, True]),  # all at one time
    ("full", dict(length_median=600.0), [False, True, True, True, True, True]),  # a gradual rise
    ("full", dict(length_median=150.0, delay_q25=100.0, delay_median=200.0),
     [False, True, True, True, True, True]),  # a transition as long as the wait before it
    ("no_gate", dict(motion_accuracy=0.55), [True, False, True, True, True, True]),  # motion never learned
    ("no_l1", dict(delay_median=700.0), [True, True, False, True, True, True]),  # delayed without the penalty
    ("no_l1", dict(length_median=10.0), [True, True, False, True, True, True]),  # an abrupt jump without it
    ("no_gate", dict(switched=0.5), [True, True, True, False, True, True]),  # gates not needed for the fraction
    ("no_noise", dict(switched=0.4), [True, True, True, True, False, True]),  # networks differ without noise
    ("full", dict(silent_median=1.0), [True, True, True, True, True, False]),  # no growth behind the gate
    ("full", dict(silent_beats_control=0.55), [True, True, True, True, True, False]),  # no more than noise alone
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(arm, change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(arm, **change), CFG)] == want


def test_a_missing_arm_fails_its_checks():
    rows = [r for r in _results().rows if r["arm"] != "no_gate"]
    assert [c.passed for c in EXPERIMENT.expect(Results(rows), CFG)] == [True, False, True, False, True, True]


def test_measures_read_switch_delay_length_and_silent_growth():
    trials, onset = 100, 10
    w, g = np.full((trials, 2, 2), 0.1), np.zeros((trials, 2, 2))
    w[30:, 1, 0] = 0.4  # network 0: its weight grows at 30 behind a shut gate, the gate opens at 50, rises by 60
    g[50:, 1, 0] = np.linspace(0.06, 2.5, 50)
    control = np.full((trials, 2), 0.1)
    control[40:, 0] = 0.2  # without the shortcut the same weight would have doubled by then
    m = measures(w, g, onset, control)
    beta = w[:, 1, 0] * g[:, 1, 0]
    assert m["switched"].tolist() == [True, False]
    assert m["delay"][0] == np.argmax(beta > 0.5) - onset
    assert m["length"][0] == np.argmax(beta > 0.9 * beta[-1]) - np.argmax(beta > 0.1 * beta[-1])
    assert np.isclose(m["silent"][0], 4.0) and np.isclose(m["silent"][1], 1.0)
    assert np.isclose(m["silent_control"][0], 2.0) and np.isclose(m["silent_control"][1], 1.0)
