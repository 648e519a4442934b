"""Runner: determinism in the seed, reuse of finished runs, NaN runs stored as failed,
and resume after a killed process ending with the same rows."""

import os
import re
import signal
import subprocess
import sys
import time

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import pytest
from rich.console import Console

from complab import experiments, runner, training
from complab.experiments.base import Check, Experiment
from complab.store import Store

from .conftest import FLAGSHIP

QUIET = Console(quiet=True)


def test_same_seed_same_rows_and_finished_runs_are_reused(smoke_results, tmp_path):
    root, first = smoke_results
    again = runner.run(FLAGSHIP, tier="smoke", seeds=[0], results=tmp_path, console=QUIET)
    assert again.rows == first.rows  # a fresh directory: recomputed, identical
    metrics_before = Store(root).metrics(first.runs[0])
    reused = runner.run(FLAGSHIP, tier="smoke", seeds=[0], results=root, console=QUIET)
    # not retrained: the same stored run, untouched
    assert reused.runs[0].id == first.runs[0].id and reused.runs[0].ended == first.runs[0].ended
    assert reused.rows == first.rows and Store(root).metrics(reused.runs[0]) == metrics_before


def test_different_seeds_differ(smoke_results):
    root, first = smoke_results
    other = runner.run(FLAGSHIP, tier="smoke", seeds=[1], results=root, console=QUIET)
    assert other.rows != first.rows


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the claim is evaluated over missing rows
def test_nan_run_is_stored_as_failed_and_the_other_cells_go_on(tmp_path):
    out = runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides={"lsa.lr": 1e30}, results=tmp_path, console=QUIET)
    assert len(out.failures) == 1 and re.search(r"became non-finite at step \d+.*stored as failed", out.failures[0])
    assert not out.passed and out.checks[0].name.startswith("the claim could not be evaluated")
    runs = Store(tmp_path).runs(FLAGSHIP)
    (lsa,) = [r for r in runs if r.cell == {"model": "lsa"}]
    assert lsa.status == "failed" and lsa.failed_step is not None and "became" in lsa.error
    assert Store(tmp_path).metrics(lsa)  # the training curve up to the failure is kept
    assert all(r.status == "done" for r in runs if r is not lsa and r.id != lsa.id)


def test_adding_a_cell_recomputes_nothing_else(smoke_results):
    root, first = smoke_results
    more = runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides={"neurons": "2,8,4"}, results=root, console=QUIET)
    old = {r.id: r.ended for r in first.runs}
    new = [r for r in more.runs if r.id not in old]
    assert [r.cell for r in new] == [{"model": "rnn", "neurons": 4}]
    assert all(old[r.id] == r.ended for r in more.runs if r.id in old)  # reused, untouched


def test_curves_reach_expect(smoke_results):
    _, out = smoke_results
    steps, values = out.results.curve("test_loss", seed=0, model="lsa")
    assert steps[0] == 0 and steps[-1] == out.config.lsa.steps and len(values) == len(steps) > 2


def _fake(monkeypatch, run, x64=False):
    exp = Experiment(id="fake", title="t", paper="p", claim="c", tiers={"smoke": Tiny(), "cpu": Tiny(),
                     "paper": Tiny()}, run=run, expect=lambda res, cfg: [Check("c", True, "seed 0")],
                     plot=lambda res, cfg: None, x64=x64)
    monkeypatch.setattr(experiments, "load", lambda eid: exp)


@dataclass(frozen=True)
class Tiny:
    n: int = 1


def test_x64_is_asked_for_by_one_experiment_only(monkeypatch, tmp_path):
    _fake(monkeypatch, lambda cfg, cell, key, ctx: [{"dtype": str(jnp.zeros(1).dtype)}], x64=True)
    out = runner.run("fake", tier="smoke", seeds=[0], results=tmp_path, console=QUIET)
    assert out.rows[0]["dtype"] == "float64" and jnp.zeros(1).dtype == jnp.float32


def test_rows_hold_arrays_as_lists_and_a_bad_row_fails_the_run_not_the_store(monkeypatch, tmp_path):
    _fake(monkeypatch, lambda cfg, cell, key, ctx: [{"v": jnp.arange(3), "s": np.float32(2)}])
    out = runner.run("fake", tier="smoke", seeds=[0], results=tmp_path, console=QUIET)
    assert out.rows == [{"seed": 0, "v": [0, 1, 2], "s": 2.0}]
    _fake(monkeypatch, lambda cfg, cell, key, ctx: [{"v": object()}])
    out = runner.run("fake", tier="smoke", seeds=[1], results=tmp_path, console=QUIET)
    assert out.failures and "TypeError" in out.failures[0]
    assert Store(tmp_path).find("fake", out.runs[0].config_hash, 1).status == "failed"  # not left "running"


LONG = {"lsa.steps": "3000", "rnn.steps": "400"}


@pytest.fixture(scope="module")
def straight_long(tmp_path_factory):
    """Rows of the lengthened smoke run, uninterrupted."""
    root = tmp_path_factory.mktemp("straight")
    return runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides=LONG, results=root, console=QUIET).rows


# kill -9 (the run left "running") is test_campaign's, at six points of the same lengthened run
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_resume_after_interruption_gives_the_same_rows(tmp_path, straight_long, sig, monkeypatch):
    sets = [arg for k, v in LONG.items() for arg in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "complab.cli", "run", FLAGSHIP, "--tier", "smoke", *sets, "--checkpoint-s", "0",
           "--results", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = None
    deadline = time.monotonic() + 120
    while ckpt is None and time.monotonic() < deadline and proc.poll() is None:
        found = list(tmp_path.glob("runs/*/*/model=lsa/seed0/lsa.eqx"))
        ckpt = found[0] if found else None
        time.sleep(0.05)
    assert ckpt is not None, "no checkpoint appeared before the run ended"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    (run,) = Store(tmp_path).runs(FLAGSHIP)
    assert run.status == "interrupted"  # Ctrl-C and SIGTERM: marked so
    assert proc.returncode == 130 and "resumes from the last checkpoint" in err and "Traceback" not in err
    starts = []
    original = training.train_chunk

    def recording(learner, data, state, k_data, k_step, start, *args):
        starts.append(int(start))
        return original(learner, data, state, k_data, k_step, start, *args)

    monkeypatch.setattr(training, "train_chunk", recording)
    resumed = runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides=LONG, results=tmp_path, console=QUIET)
    assert starts[0] > 0  # the first fit picked up from its checkpoint
    assert resumed.rows == straight_long


def test_a_run_held_elsewhere_is_skipped_and_force_deletes_nothing_of_it(monkeypatch, tmp_path):
    _fake(monkeypatch, lambda cfg, cell, key, ctx: [{"v": 1}])
    first = runner.run("fake", tier="smoke", seeds=[0], results=tmp_path, console=QUIET).runs[0]
    other = Store(tmp_path)
    held = other.begin("fake", "smoke", {}, first.config_hash, 0, runner.run_meta(), fresh=True)
    ckpt = other.run_dir(held) / "fit.eqx"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    ckpt.write_bytes(b"the other process's checkpoint")
    out = runner.run("fake", tier="smoke", seeds=[0, 1], results=tmp_path, force=True, console=QUIET)
    assert len(out.failures) == 1 and "is being run by" in out.failures[0]
    assert ckpt.exists()  # --force claimed nothing, so it deleted nothing
    assert [r.seed for r in out.runs] == [1] and out.rows == [{"seed": 1, "v": 1}]  # the other seed went on


@pytest.mark.parametrize("failure", ["nan", "interrupt"])
def test_a_forced_rerun_that_fails_keeps_the_finished_run(monkeypatch, tmp_path, failure):
    mode = ["ok"]

    def run(cfg, cell, key, ctx):
        if mode[0] == "nan":
            raise training.NaNLossError("the loss of 'fit' became non-finite at step 3", step=3)
        if mode[0] == "interrupt":
            raise KeyboardInterrupt
        return [{"v": 1}]

    _fake(monkeypatch, run)
    first = runner.run("fake", tier="smoke", seeds=[0], results=tmp_path, console=QUIET).runs[0]
    mode[0] = failure
    if failure == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            runner.run("fake", tier="smoke", seeds=[0], results=tmp_path, force=True, console=QUIET)
    else:
        out = runner.run("fake", tier="smoke", seeds=[0], results=tmp_path, force=True, console=QUIET)
        assert "the finished run it was to replace is kept" in out.failures[0]
    (kept,) = Store(tmp_path).runs("fake")
    assert kept.status == "done" and kept.wall_s == first.wall_s and kept.ended == first.ended
    assert Store(tmp_path).rows([kept]) == [{"seed": 0, "v": 1}]


def test_a_forced_rerun_stopped_before_it_trained_starts_over_when_resumed(tmp_path):
    """--force claimed the finished run, then the process died before deleting its
    checkpoints: the next plain run must train from scratch, not resume the finished
    checkpoints (which would end with no metrics or curves)."""
    first = runner.run("guided_es", tier="smoke", seeds=[0], results=tmp_path, console=QUIET)
    store = Store(tmp_path)
    (done,) = [r for r in first.runs if r.cell == {"method": "past", "objective": "network"}]
    claimed = store.begin(done.experiment, done.tier, done.config, done.config_hash, 0, runner.run_meta(), fresh=True,
                          cell=done.cell)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store.db.execute("UPDATE runs SET pid=? WHERE id=?", (gone.pid, claimed.id))  # killed (-9) right there
    again = runner.run("guided_es", tier="smoke", seeds=[0], results=tmp_path, console=QUIET)
    after = store.find(done.experiment, done.config_hash, 0, done.cell)
    assert after.status == "done" and len(store.metrics(after)) == len(store.metrics(done)) > 0
    assert len(store.curves([after])) == len(store.curves([done])) > 0 and again.rows == first.rows
