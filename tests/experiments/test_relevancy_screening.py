"""The relevancy-screening checks pass on rows of the claimed shape and each fails for its reason."""

import pytest

from complab.experiments.base import Results
from complab.experiments.relevancy_screening import EXPERIMENT, gradient_norms
from complab.models import relevancy_rnn as rr
from complab.tasks import symbol_copy as sc

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"rnn": {"decay_init": 2.5, "decay_trained": 4.0, "recall_accuracy": 0.15, "attended_last_step": 0},
        "memrnn": {"decay_init": 0.2, "attended_last_step": 119},
        "relrnn": {"decay_init": 0.3, "decay_trained": 0.4, "recall_accuracy": 0.95, "attended_last_step": 25}}


def _results(model=None, drop=None, **change):
    rows = []
    for s in (0, 1, 2):
        for k in rr.KINDS:
            row = {"seed": s, "model": k, **GOOD[k], **(change if (s == 1 and k == model) else {})}
            if drop != (s, k):
                rows.append(row)
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    (dict(model="relrnn", decay_trained=1.5), [False, True, True]),  # attention did not keep gradients alive
    (dict(model="memrnn", decay_init=1.2), [False, True, True]),
    (dict(model="rnn", decay_trained=0.5), [True, False, True]),  # nothing vanished: no problem to solve
    (dict(model="rnn", decay_init=0.8), [True, False, True]),
    (dict(model="relrnn", recall_accuracy=0.6), [True, True, False]),
    (dict(model="rnn", recall_accuracy=0.9), [True, True, False]),  # the plain RNN copies too
    (dict(drop=(2, "memrnn")), [False, False, False]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_gradient_norms_see_the_recall_loss_only():
    import jax

    task = sc.SymbolCopy(sc.Config(symbols=2, alphabet=4, delay=20))
    model = rr.RelevancyRNN(rr.Config(kind="rnn", hidden=8), *task.dims, key=jax.random.key(0))
    norms = gradient_norms(model, task.sample(jax.random.key(1), "test", 4))
    assert norms.shape == (task.cfg.length,)
    assert float(norms.min()) > 0  # the recall steps' loss reaches every earlier state through the recurrence
