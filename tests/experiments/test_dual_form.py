"""The dual-form checks pass on rows of the claimed shape and each fails for its reason:
the identity breaks, an ablation fails to break it (nothing was learned or momentum made
no difference), the net did not learn, a run is missing."""

import pytest

from complab.experiments.base import Results
from complab.experiments.dual_form import EXPERIMENT, OPTIMIZERS

CFG = EXPERIMENT.tiers["cpu"]
GOOD = {"identity_error": 1e-15, "unscaled_error": 0.5, "initial_only_error": 0.6, "accuracy": 0.94}


def _results(optimizer=None, layer=1, drop=None, **change):
    rows = []
    for s in (0, 1, 2):
        for o in OPTIMIZERS:
            for i in range(3):
                row = {"seed": s, "optimizer": o, "layer": i, **GOOD}
                if o == "sgd":
                    row["unscaled_error"] = row["identity_error"]
                if s == 1 and o == optimizer and i == layer:
                    row.update(change)
                if drop != (s, o):
                    rows.append(row)
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True]),
    (dict(optimizer="sgd", identity_error=3e-4), [False, True]),  # one layer is not its dual form
    (dict(optimizer="momentum", identity_error=3e-4), [True, False]),  # rescaled errors do not add up
    (dict(optimizer="sgd", layer=0, initial_only_error=1e-6), [False, True]),  # the layer never moved
    (dict(optimizer="momentum", unscaled_error=1e-12), [True, False]),  # momentum's rescaling changed nothing
    (dict(optimizer="momentum", accuracy=0.12), [True, False]),  # the net did not learn
    (dict(drop=(2, "sgd")), [False, True]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want


def test_its_fits_leave_no_checkpoint(tmp_path):
    """The memory of every step's patterns is large and trains in seconds: `ctx.fit(checkpoint=False)`."""
    from rich.console import Console

    from complab import runner

    out = runner.run("dual_form", tier="smoke", seeds=[0], results=tmp_path, console=Console(quiet=True))
    assert out.results.rows and not out.failures
    assert not list(tmp_path.rglob("*.eqx"))
