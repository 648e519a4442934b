"""The gated-network checks pass on the reduction's own curves and each fails when its part
of the claim is broken."""

import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.gated_deep_linear_race import EXPERIMENT, cells, prediction, setting
from complab.training import linear_steps

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"small": (1e-4, 1e-3, 1.0), "large": (1e-9, 90.0, 0.3)}  # trained, untrained, sharing


def _results(bump=0.0, single_like_shared=False, small=GOOD["small"], large=GOOD["large"]):
    rows, curves = [], []
    for seed in (0, 1, 2):
        for cell in cells(CFG):
            modules, routes, lr, epochs = setting(CFG, cell)
            pathways = modules * routes
            row = {"seed": seed, **cell, "modules": modules, "routes": routes, "pathways": pathways, "lr": lr,
                   "epochs": epochs, "b0": CFG.b0 if cell["net"] != "random" else 0.1}
            rows.append(row)
            st = np.array(linear_steps(epochs, CFG.points))
            series = {}
            if cell["net"] in ("decoupled", "single"):
                src = dict(row, modules=CFG.modules, routes=CFG.routes, pathways=CFG.modules * CFG.routes) \
                    if cell["net"] == "single" and single_like_shared else row
                loss = prediction(src)[np.minimum(st, src["epochs"])]
                if cell["net"] == "decoupled":
                    loss = loss * (1 + bump * np.exp(-((st - 75) / 10) ** 2))
                series["loss"] = loss
            else:
                vals = small if cell["gain"] == min(CFG.gains) else large
                series = {"loss": np.linspace(100, 0, len(st)), **{n: np.full(len(st), v) for n, v in zip(
                    ("trained_error", "untrained_error", "sharing"), vals)}}
            for name, values in series.items():
                curves += [{"seed": seed, **cell, "fit": "gd", "name": name, "step": int(s), "value": float(v)}
                           for s, v in zip(st, values)]
    return Results(rows, curves)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True, True]),
    (dict(bump=0.05), [False, True, True]),  # network and reduction part by 5% around the first transition
    (dict(single_like_shared=True), [True, False, True]),  # no race: the lone pathway as fast as the shared one
    (dict(small=(1e-4, 30.0, 1.0)), [True, True, False]),  # the small start does not generalise
    (dict(small=(1e-4, 1e-3, 0.4)), [True, True, False]),  # ... nor share its representation
    (dict(small=(5.0, 5.0, 1.0)), [True, True, False]),  # its trained pathways not learned
    (dict(large=(1e-9, 1.0, 0.3)), [True, True, False]),  # the large start generalises too
    (dict(large=(20.0, 90.0, 0.3)), [True, True, False]),  # the large start did not learn (no evidence)
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
