"""The online-LRU checks pass on rows and curves of the claimed shape and each fails when its
part of the claim breaks, including a run where nothing learned (BPTT near chance)."""

import pytest

from complab.experiments.base import Results
from complab.experiments.online_lru import EXPERIMENT, RULES

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"bptt": 0.99, "online": 0.97, "truncated": 0.78, "spatial": 0.76}
COSINE = {"bptt": 1.0, "online": 0.95, "truncated": 0.55, "spatial": 0.45}
MEMORY = {"bptt": (20e3, 60e3), "online": (16e3, 16.5e3), "truncated": (16e3, 16.5e3), "spatial": (16e3, 16.5e3)}


def _results(acc=None, cos=None, memory=None, exact=None, drop=None):
    rows, curves = [], []
    for seed in (0, 1, 2):
        for rule in RULES:
            if drop == (seed, rule):
                continue
            a = (acc or {}).get(rule, GOOD[rule]) if seed == 1 else GOOD[rule]
            c = (cos or {}).get(rule, COSINE[rule]) if seed == 1 else COSINE[rule]
            m = (memory or {}).get(rule, MEMORY[rule]) if seed == 2 else MEMORY[rule]
            row = {"seed": seed, "rule": rule, "bit_accuracy": a, "memory": m[0] + 30e3, "memory_temp": m[0],
                   "memory_temp_longer": m[1], "memory_inference": 15e3}
            if rule == "online":
                row.update({"exact_rel_error": 1e-7, "encoder_rel_error": 0.1, "lower_lru_rel_error": 0.2})
                if exact and seed == 0:
                    row.update(exact)
            rows.append(row)
            curves += [{"seed": seed, "rule": rule, "name": "cosine", "step": s, "value": c} for s in (0, 100)]
    return Results(rows, curves)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True, True]),
    (dict(exact={"exact_rel_error": 1e-2}), [False, True, True, True]),  # the rule is not exact
    (dict(exact={"lower_lru_rel_error": 0.0}), [False, True, True, True]),  # two layers exact too: BPTT in disguise
    (dict(cos={"online": 0.5}), [True, False, True, True]),
    (dict(acc={"bptt": 0.55, "online": 0.54, "truncated": 0.5, "spatial": 0.5}),  # nothing learned
     [True, True, False, True]),
    (dict(acc={"online": 0.9}), [True, True, False, True]),  # online falls behind BPTT
    (dict(acc={"truncated": 0.93}), [True, True, False, True]),  # no temporal credit needed
    (dict(memory={"online": (16e3, 40e3)}), [True, True, True, False]),  # grows with the length
    (dict(memory={"bptt": (20e3, 21e3)}), [True, True, True, False]),  # the comparison is vacuous
    (dict(drop=(1, "spatial")), [False, False, False, False]),
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
