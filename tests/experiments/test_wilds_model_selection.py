"""The model-selection checks pass on curves of the claimed shape and each fails for its reason."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.wilds_model_selection import EXPERIMENT

CFG = EXPERIMENT.tiers["cpu"]
STEPS = np.arange(CFG.eval_every, CFG.steps + 1, CFG.eval_every)
N = len(STEPS)
BY_F1, BY_ACC = 15, 5  # the checkpoints OOD-validation F1 and accuracy pick


def _curves(seed, lr, change):
    r = np.random.default_rng([seed, int(lr * 1e5)])
    c = {"ood_val_f1": 0.3 + 0.02 * r.random(N), "ood_val_accuracy": 0.6 + 0.02 * r.random(N),
         "ood_test_f1": 0.3 + 0.02 * r.random(N), "ood_test_accuracy": 0.6 + 0.02 * r.random(N),
         "id_val_f1": np.linspace(0.5, 0.7, N), "id_val_accuracy": np.linspace(0.7, 0.8, N)}
    c["ood_val_f1"][BY_F1], c["ood_val_accuracy"][BY_ACC] = 0.4, 0.7
    c["ood_test_f1"][[BY_F1, BY_ACC]] = 0.35, 0.30
    c["ood_test_accuracy"][[BY_F1, BY_ACC]] = 0.62, 0.65
    if "same_pick" in change:
        c["ood_val_accuracy"][BY_F1] = 0.8
    if "accuracy_misleads" in change:
        c["ood_test_accuracy"][BY_ACC] = 0.55
    if "ood_tracks" in change:
        c["ood_test_f1"] = c["ood_val_f1"].copy()
    if lr == 3e-4 and "flat_lr" not in change:
        c["ood_val_f1"] += 0.05
        c["ood_test_f1"] += 0.05
    if "untrained" in change:  # the same output at every checkpoint and learning rate
        c = {k: np.full(N, 0.3) for k in c}
    c["id_test_f1"], c["id_test_accuracy"] = c["id_val_f1"] + 0.001, c["id_val_accuracy"]
    return c


def _results(*change, drop=None):
    rows, curves = [], []
    for s in (0, 1, 2):
        for lr in CFG.lrs:
            if drop == (s, lr):
                continue
            for name, values in _curves(s, lr, change).items():
                curves += [{"seed": s, "model": "mlp", "lr": lr, "fit": "train", "step": int(t), "name": name,
                            "value": float(v)} for t, v in zip(STEPS, values)]
            rows.append({"seed": s, "model": "mlp", "lr": lr, "cramers_v": 0.1 if "independent" in change else 0.35})
        dom_ood = 0.45 if "domain_transfers" in change else 0.1
        rows.append({"seed": s, "model": "domain_only", "lr": CFG.default_lr, "id_test_accuracy": 0.45,
                     "id_test_majority": 0.25, "ood_test_accuracy": dom_ood, "ood_test_majority": 0.25})
    return Results(rows, curves)


@pytest.mark.parametrize("change, want", [
    ((), [True, True, True, True, True]),
    (("same_pick",), [False, False, True, True, True]),  # both metrics pick the same checkpoint: no gain either way
    (("accuracy_misleads",), [True, False, True, True, True]),  # accuracy's pick is worse on test accuracy
    (("ood_tracks",), [True, True, False, True, True]),  # OOD validation ranks the test as well as ID does
    (("flat_lr",), [True, True, True, False, True]),  # no learning rate beats the default
    (("independent",), [True, True, True, True, False]),  # labels do not go with domains
    (("domain_transfers",), [True, True, True, True, False]),  # the domain alone predicts unseen domains
    (("untrained",), [False, False, False, False, True]),  # flat curves: no selection gain, no ranks, no lr gain
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(*change), CFG)] == want


def test_a_missing_run_fails_the_checks_that_read_it():
    got = [c.passed for c in EXPERIMENT.expect(_results(drop=(1, 1e-3)), CFG)]
    assert got[:4] == [False] * 4
