"""The hierarchical-RNN checks pass on rows of the claimed shape and each fails when its part
of the claim breaks (the local loss harms learning, the bare cut learns, full gradients
do not learn, nothing learns)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.hrnn_local_losses import EXPERIMENT, VARIANTS

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"full": 0.97, "local": 0.99, "cut": 0.13}


def _results(acc=None, drop=None):
    rows = [{"seed": s, "variant": v, "recall_accuracy": (acc or {}).get(v, GOOD[v]) if s == 1 else GOOD[v]}
            for s in (0, 1, 2) for v in VARIANTS if drop != (s, v)]
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    (dict(acc={"local": 0.85}), [False, True, False]),  # the local loss harms learning
    (dict(acc={"cut": 0.6}), [True, False, True]),  # the bare cut learns: no need for a local loss
    (dict(acc={"full": 0.38}), [True, True, False]),  # full gradients stuck: the comparison's premise
    (dict(acc={"full": 0.13, "local": 0.13, "cut": 0.13}), [False, False, False]),  # nothing learned
    (dict(drop=(2, "cut")), [False, False, False]),
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
