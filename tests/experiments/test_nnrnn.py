"""The nnRNN checks pass on rows of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.base import Results
from complab.experiments.nnrnn import EXPERIMENT
from complab.models.nnrnn import KINDS

CFG = EXPERIMENT.tiers["cpu"]
B = CFG.task.baseline
GOOD = {"nnrnn": 0.03 * B, "orthogonal": 0.08 * B, "rnn": 0.98 * B}
DIGITS = {"nnrnn": 0.90, "orthogonal": 0.88, "rnn": 0.80}


def _results(loss=None, departure=0.15, accuracy=None, drop=None):
    rows = [{"seed": s, "task": "copy", "model": k, "loss": (loss or {}).get(k, GOOD[k]) if s == 1 else GOOD[k],
             "departure": (departure if s == 1 else 0.15) if k == "nnrnn" else 0.0}
            for s in (0, 1, 2) for k in KINDS if drop != (s, k)]
    rows += [{"seed": s, "task": "digits", "model": k, "loss": 0.3, "departure": 0.1,
              "accuracy": (accuracy or {}).get(k, DIGITS[k]) if s == 1 else DIGITS[k]}
             for s in (0, 1, 2) for k in KINDS]
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True, True, True]),
    (dict(loss={"orthogonal": 0.5 * B}), [False, True, True, True, True]),  # the orthogonal RNN did not learn
    (dict(loss={"nnrnn": 0.5 * B}), [False, True, False, True, True]),
    (dict(loss={"rnn": 0.2 * B}), [True, False, True, True, True]),  # the plain RNN learns: no memory problem shown
    (dict(loss={"nnrnn": 0.2 * B}), [True, True, False, True, True]),  # worse than orthogonal
    (dict(departure=0.001), [True, True, True, False, True]),  # T stayed at zero: an orthogonal RNN in disguise
    (dict(accuracy={"nnrnn": 0.80}), [True, True, True, True, False]),  # no better on ongoing input
    (dict(accuracy={"nnrnn": 0.88}), [True, True, True, True, False]),  # a tie in one seed is no win
    (dict(accuracy={"nnrnn": 0.3, "orthogonal": 0.2}), [True, True, True, True, False]),  # nothing learned there
    (dict(drop=(2, "rnn")), [False, False, False, False, True]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
