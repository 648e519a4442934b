"""The claim checks can fail: each flips when its measured numbers leave the claim."""

import pytest

from complab.experiments.gated_rnn_discovers_attention import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
LO, HI = min(CFG.neurons), max(CFG.neurons)


def _rows():
    """Rows of three seeds that satisfy every check."""
    base = {
        ("construction", "max_rel_error", None): 3e-7,
        ("construction", "neurons", None): 112,
        ("gd", "loss", None): 1.0,
        ("lsa", "loss", None): 1.01,
        ("lsa", "cosine_gd", None): 0.999,
        ("rnn", "loss", HI): 1.02,
        ("rnn", "cosine_gd", HI): 0.998,
        ("rnn", "loss", LO): 2.5,
        ("rnn", "cosine_gd", LO): 0.4,
        ("rnn", "loss_pruned", HI): 1.021,
        ("rnn", "pruned_fraction", HI): 0.5,
        ("rnn", "loss_pruned", LO): 2.5,
        ("rnn", "pruned_fraction", LO): 0.5,
    }
    rows = []
    for seed in (0, 1, 2):
        for (model, metric, n), v in base.items():
            row = {"seed": seed, "model": model, "metric": metric, "value": v}
            if n is not None:
                row["neurons"] = n
            rows.append(row)
    return rows


def test_all_checks_pass_on_rows_that_show_the_claim():
    checks = EXPERIMENT.expect(_rows(), CFG)
    assert len(checks) == 4 and all(c.passed for c in checks), [c.measured for c in checks]


@pytest.mark.parametrize(
    "change,failing",
    [
        ({("construction", "max_rel_error", None): 2e-5}, 0),
        ({("lsa", "loss", None): 1.06}, 1),
        ({("lsa", "loss", None): 0.94}, 1),
        ({("lsa", "cosine_gd", None): 0.98}, 1),
        ({("rnn", "loss", HI): 1.3, ("rnn", "loss_pruned", HI): 1.3}, 2),
        ({("rnn", "cosine_gd", HI): 0.95}, 2),
        ({("rnn", "loss", LO): 1.03}, 2),
        ({("rnn", "loss_pruned", HI): 1.05}, 3),
    ],
)
def test_each_check_fails_when_its_numbers_leave_the_claim(change, failing):
    checks = EXPERIMENT.expect(_rows_with(change), CFG)
    assert [c.passed for c in checks] == [i != failing for i in range(4)]


def _rows_with(change):
    """The passing rows with some (model, metric, neurons) values changed, in every seed."""
    rows = _rows()
    for r in rows:
        key = (r["model"], r["metric"], r.get("neurons"))
        if key in change:
            r["value"] = change[key]
    return rows
