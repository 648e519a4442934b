"""Every experiment in experiments/: well formed, and its smoke tier runs with checks
that evaluate to verdicts with measured numbers and a figure that shows data."""

import subprocess
import sys

import matplotlib.figure
import pytest
from rich.console import Console

from complab import config, experiments, runner
from complab.experiments.base import TIERS

IDS = experiments.ids()


def test_experiments_are_listed():
    assert {"gated_rnn_discovers_attention", "teacher_student_odes", "guided_es"} <= set(IDS)


def test_helper_modules_are_not_experiments(monkeypatch):
    class M:
        def __init__(self, name):
            self.name = name

    monkeypatch.setattr(experiments.pkgutil, "iter_modules", lambda path: [M("base"), M("_shared"), M("real")])
    assert experiments.ids() == ["real"]


def test_listing_experiments_imports_no_matplotlib():
    code = ("import sys, complab.experiments as e; [e.load(i) for i in e.ids()]; "
            "import complab.runner; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("eid", IDS)
def test_well_formed(eid):
    exp = experiments.load(eid)
    assert exp.id == eid and exp.paper and exp.claim
    assert set(exp.tiers) == set(TIERS)
    for cfg in exp.tiers.values():
        config.config_hash(cfg)  # JSON-able, frozen
        assert exp.cell_list(cfg) and all(isinstance(c, dict) for c in exp.cell_list(cfg))
        assert all(g in config.to_dict(cfg) or g in config.leaves(cfg) for g in exp.grid)


@pytest.mark.parametrize("eid", IDS)
def test_smoke_tier_runs_and_checks_evaluate(eid, tmp_path):
    out = runner.run(eid, tier="smoke", seeds=[0, 1], results=tmp_path, console=Console(quiet=True))
    assert not out.failures, out.failures
    assert out.checks and all(isinstance(c.passed, bool) and c.measured for c in out.checks)
    assert all("seed 1" in c.measured for c in out.checks if "seed 0" in c.measured)  # per-seed checks show all
    assert out.results.curves, "every experiment records curves over training"
    fig = out.experiment.plot(out.results, out.config)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert any(ax.lines or ax.collections for ax in fig.axes)
    import matplotlib.pyplot as plt

    plt.close("all")  # the runner's figure and this one: a worker runs every smoke tier
