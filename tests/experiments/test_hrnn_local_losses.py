"""The hierarchical-RNN checks pass on rows of the claimed shape and each fails when its part
of the claim breaks (the local loss harms learning, the bare cut learns, full gradients
do not learn, nothing learns; the block-local gradient's memory is not below full BPTT's,
grows like it, or full BPTT's does not grow: the measure would not see the sequence)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.hrnn_local_losses import EXPERIMENT, VARIANTS

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"full": 0.97, "local": 0.99, "cut": 0.13}
# bytes at T and 4T: full BPTT ~a T + P, block-local ~a k + c T / k + P (the docstring's argument)
MEMORY = {"full": (600e3, 1870e3), "local": (186e3, 223e3), "cut": (186e3, 223e3)}


def _results(acc=None, drop=None, memory=None):
    def row(s, v):
        a = (acc or {}).get(v, GOOD[v]) if s == 1 else GOOD[v]
        temp, longer = (memory or {}).get(v, MEMORY[v]) if s == 1 else MEMORY[v]
        return {"seed": s, "variant": v, "recall_accuracy": a, "memory_temp": temp, "memory_temp_longer": longer}

    return Results([row(s, v) for s in (0, 1, 2) for v in VARIANTS if drop != (s, v)])


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True, True]),
    (dict(acc={"local": 0.85}), [False, True, False, True]),  # the local loss harms learning
    (dict(acc={"cut": 0.6}), [True, False, True, True]),  # the bare cut learns: no need for a local loss
    (dict(acc={"full": 0.38}), [True, True, False, True]),  # full gradients stuck: the comparison's premise
    (dict(acc={"full": 0.13, "local": 0.13, "cut": 0.13}), [False, False, False, True]),  # nothing learned
    (dict(drop=(2, "cut")), [False, False, False, False]),
    (dict(memory={"local": (350e3, 420e3)}), [True, True, True, False]),  # block-local not below half of full's
    (dict(memory={"cut": (186e3, 700e3)}), [True, True, True, False]),  # block-local grows like full's (x3.8)
    (dict(memory={"full": (600e3, 1100e3)}), [True, True, True, False]),  # full's does not grow: T unseen
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_the_memory_check_states_the_argument_and_the_figures():
    check = EXPERIMENT.expect(_results(), CFG)[3]
    assert "16 + 8 of 128" in check.name and "x2.0" in check.name
    assert "full 586 KiB x3.12" in check.measured and "(0.31 of full)" in check.measured
