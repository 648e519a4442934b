"""Every experiment in experiments/: well formed, and its smoke tier runs with checks
that evaluate to verdicts with measured numbers and a figure that shows data."""

import matplotlib.figure
import pytest
from rich.console import Console

from complab import config, experiments, runner
from complab.experiments.base import TIERS

IDS = experiments.ids()


def test_experiments_are_listed():
    assert "gated_rnn_discovers_attention" in IDS


@pytest.mark.parametrize("eid", IDS)
def test_well_formed(eid):
    exp = experiments.load(eid)
    assert exp.id == eid and exp.paper and exp.claim
    assert set(exp.tiers) == set(TIERS)
    for cfg in exp.tiers.values():
        config.config_hash(cfg)  # JSON-able, frozen


@pytest.mark.parametrize("eid", IDS)
def test_smoke_tier_runs_and_checks_evaluate(eid, tmp_path):
    out = runner.run(eid, tier="smoke", seeds=[0, 1], results=tmp_path, console=Console(quiet=True))
    assert out.checks and all(isinstance(c.passed, bool) and c.measured for c in out.checks)
    assert all("seed 0" in c.measured and "seed 1" in c.measured for c in out.checks)
    fig = out.experiment.plot(out.rows, out.config)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert any(ax.lines or ax.collections for ax in fig.axes)
