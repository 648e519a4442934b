"""The fuzzy-logic checks fail when their numbers leave the claim or its precondition fails;
the latent probe reads each layer's last-query score."""

import jax
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.experiments.base import Results
from complab.experiments.hyla_fuzzy_logic import EXPERIMENT, Config, _query_scores, model_config
from complab.models import sequence
from complab.tasks import fuzzy_logic

CFG = EXPERIMENT.tiers["cpu"]
CLAIM = {"hyla": 0.9, "softmax": 0.85, "linear": 0.6}


def _results(test=None, train_softmax=0.9, train_hyla=0.9, decode=0.5, decode_init=0.1, seeds=(0, 1, 2)):
    test = {**CLAIM, **(test or {})}
    rows = []
    for s in seeds:
        for m in CFG.models:
            rows += [{"seed": s, "model": m, "metric": "r2", "split": "test", "value": test.get(m, 0.5)},
                     {"seed": s, "model": m, "metric": "r2", "split": "train",
                      "value": {"softmax": train_softmax, "hyla": train_hyla}.get(m, 0.9)}]
            if m in CLAIM:
                rows += [{"seed": s, "model": m, "metric": k, "value": v} for k, v in
                         (("decode_r2", decode), ("decode_r2_init", decode_init), ("decode_r2_held_out", decode),
                          ("decode_r2_held_out_init", decode_init))]
    return Results(rows)


def _passed(**kw):
    return [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)]


def test_all_checks_pass_on_results_that_show_the_claim():
    assert _passed() == [True, True, True]


@pytest.mark.parametrize("kw, want", [
    (dict(test={"hyla": 0.8}), [False, True, True]),  # HYLA below softmax
    (dict(test={"hyla": 0.85}), [True, True, True]),  # ">=": a tie holds
    (dict(test={"linear": 0.85}), [True, False, True]),  # linear as good as softmax
    (dict(train_softmax=0.3), [False, False, True]),  # nothing fitted: no ordering is evidence
    (dict(train_hyla=0.3), [False, True, False]),  # HYLA did not fit: its ordering and code say nothing
    (dict(decode=0.25), [True, True, False]),  # the code is no better than at initialisation
])
def test_each_check_fails_when_its_numbers_leave_the_claim(kw, want):
    assert _passed(**kw) == want


def test_the_probe_reads_one_score_per_layer_and_head_and_later_layers_see_the_context():
    cfg = Config(task=fuzzy_logic.Config(variables=3, terms=2, seq_len=8), train=CFG.train, width=16, heads=2,
                 mlp=32, models=("hyla", "softmax", "linear"))
    task = fuzzy_logic.FuzzyLogic(cfg.task)
    model = sequence.SequenceModel(model_config(cfg, "hyla"), *task.dims, key=jax.random.key(0))
    x = task.sample(jax.random.key(1), "train", 16).x
    x = x.at[:, -1, :3].set(0.5)  # one fixed query
    f = np.asarray(_query_scores(model, x))
    assert f.shape == (16, 2 * 2)
    assert np.allclose(f[:, :2], f[:1, :2]) and not np.allclose(f[:, 2:], f[:1, 2:])  # layer 1 cannot see it


def test_configs_that_cannot_show_the_claim_are_refused():
    with pytest.raises(ComplabError, match="must include them"):
        Config(task=CFG.task, train=CFG.train, models=("hyla", "softmax"))
    with pytest.raises(ComplabError, match="layers >= 2"):
        Config(task=CFG.task, train=CFG.train, layers=1)
