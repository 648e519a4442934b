"""The claim checks can fail: each flips when its measured numbers leave the claim."""

import pytest

from complab.experiments.base import Results
from complab.experiments.gated_rnn_discovers_attention import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
LO, HI = min(CFG.neurons), max(CFG.neurons)
C_IM = CFG.imitation.construction_neurons
SMALL, BIG = C_IM // 2, 2 * C_IM


def _base():
    """(cell, metric) -> value, for rows that satisfy every check."""
    base = {
        (("lsa",), "construction_error"): 3e-7,
        (("lsa",), "construction_neurons"): 112,
        (("lsa",), "gd_loss"): 1.0,
        (("lsa",), "zero_loss"): 3.0,
        (("lsa",), "loss"): 1.01,
        (("lsa",), "cosine_gd"): 0.999,
        (("rnn", HI), "loss"): 1.02,
        (("rnn", HI), "cosine_gd"): 0.998,
        (("rnn", HI), "loss_pruned"): 1.021,
        (("rnn", HI), "loss_snapped"): 1.03,
        (("rnn", HI), "pruned_fraction"): 0.5,
        (("imitation", BIG), "relative_error"): 2e-4,
        (("imitation", SMALL), "relative_error"): 2e-2,
    }
    for n in CFG.neurons:
        if n != HI:
            base[(("rnn", n), "loss")] = 1.03 if n >= 48 else 2.5  # 48 < 56: compression
            base[(("rnn", n), "cosine_gd")] = 0.5
    return base


def _results(change=None, init_error=1.0):
    base = {**_base(), **(change or {})}
    rows, curves = [], []
    for seed in (0, 1, 2):
        for (cell, metric), v in base.items():
            labels = {"seed": seed, "model": cell[0], **({"neurons": cell[1]} if len(cell) > 1 else {})}
            rows.append({**labels, "metric": metric, "value": v})
        for n in (SMALL, BIG):
            for step, v in ((0, init_error), (100, 0.1)):
                curves.append({"seed": seed, "model": "imitation", "neurons": n, "fit": "imitation", "step": step,
                               "name": "relative_error", "value": v})
    return Results(rows, curves)


def test_all_checks_pass_on_results_that_show_the_claim():
    checks = EXPERIMENT.expect(_results(), CFG)
    assert len(checks) == 8 and all(c.passed for c in checks), [c.measured for c in checks]


@pytest.mark.parametrize(
    "change,failing",
    [
        ({(("lsa",), "construction_error"): 2e-5}, 0),
        ({(("lsa",), "loss"): 1.06}, 1),
        ({(("lsa",), "loss"): 0.94}, 1),
        ({(("lsa",), "cosine_gd"): 0.98}, 1),
        ({(("rnn", HI), "cosine_gd"): 0.95}, 2),
        ({(("rnn", LO), "loss"): 1.03}, 2),
        ({(("rnn", HI), "loss_pruned"): 1.05}, 3),
        ({(("rnn", HI), "loss_snapped"): 1.2}, 4),
        ({(("imitation", BIG), "relative_error"): 0.015}, 5),
        ({(("imitation", SMALL), "relative_error"): 1e-4}, 6),
        ({(("rnn", 48), "loss"): 1.2}, 7),
    ],
)
def test_each_check_fails_when_its_numbers_leave_the_claim(change, failing):
    checks = EXPERIMENT.expect(_results(change), CFG)
    assert [c.passed for c in checks] == [i != failing for i in range(8)], [c.measured for c in checks]


def test_mechanism_checks_say_nothing_when_the_rnn_did_not_learn():
    """An untrained RNN changes little when pruned or snapped: those checks need it to have learned first."""
    untrained = {(("rnn", HI), "loss"): 2.9, (("rnn", HI), "loss_pruned"): 2.9, (("rnn", HI), "loss_snapped"): 2.9}
    checks = EXPERIMENT.expect(_results(untrained), CFG)
    assert not checks[3].passed and not checks[4].passed and "precondition failed" in checks[3].measured


def test_an_imitation_that_started_at_its_end_is_no_evidence():
    assert not EXPERIMENT.expect(_results(init_error=1e-4), CFG)[5].passed
