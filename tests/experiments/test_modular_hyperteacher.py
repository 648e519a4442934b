"""The modular-hyperteacher checks fail when their numbers leave the claim or the hypernetwork learned nothing."""

import pytest

from complab.errors import ComplabError
from complab.experiments.base import Results
from complab.experiments.modular_hyperteacher import EXPERIMENT, Config, cells

CFG = EXPERIMENT.tiers["cpu"]  # the hypernetwork on 4 supports, ANIL and MAML on the connected one
GOOD = {"train": 0.02, "test": 0.04, "decoding_r2": 0.95}
BAD = {"train": 0.02, "test": 0.25, "decoding_r2": 0.3}
BASELINE = {"train": 0.15, "test": 0.3, "decoding_r2": 0.1}


def _results(change=None, seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        for c in cells(CFG):
            v = dict(GOOD if c["support"] in ("connected", "random") else BAD)
            if c["student"] != "linear_hnet":
                v = dict(BASELINE)
            v.update((change or {}).get((c["student"], c["support"]), {}))
            rows += [{"seed": s, **c, "metric": "loss", "split": sp, "value": v[sp]} for sp in ("train", "test")]
            rows.append({"seed": s, **c, "metric": "decoding_r2", "split": "test", "value": v["decoding_r2"]})
    return Results(rows)


def _passed(change=None):
    return [c.passed for c in EXPERIMENT.expect(_results(change), CFG)]


def test_all_checks_pass_on_results_that_show_the_claim():
    assert _passed() == [True, True, True]


@pytest.mark.parametrize("change, want", [
    ({("linear_hnet", "random"): {"test": 0.2}}, [False, True, False]),  # no generalisation on random
    ({("linear_hnet", "connected"): {"decoding_r2": 0.5}}, [False, True, False]),  # modules not decodable
    ({("linear_hnet", "disconnected"): {"test": 0.05}}, [True, False, True]),  # disconnected generalises
    ({("linear_hnet", "non_compositional"): {"train": 0.5}}, [True, False, True]),  # never fit the training tasks
    ({("anil", "connected"): {"test": 0.06}}, [True, True, False]),  # ANIL generalises
    ({("maml", "connected"): {"test": 0.07}}, [True, True, False]),  # MAML within 2x of the hypernetwork
    ({("anil", "connected"): {"train": 1.0, "test": 1.0}}, [True, True, False]),  # ANIL learned nothing
    ({("linear_hnet", s): {"train": 1.0, "test": 1.0, "decoding_r2": 0.0} for s in
      ("connected", "random", "disconnected", "non_compositional")}, [False, False, False]),  # nothing learned
])
def test_each_check_fails_when_its_numbers_leave_the_claim(change, want):
    assert _passed(change) == want


def test_supports_without_the_connected_one_are_refused():
    with pytest.raises(ComplabError, match="must include connected"):
        Config(task=CFG.task, train=CFG.train, supports=("random",))
