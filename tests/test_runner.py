"""Runner: determinism in the seed, reuse of finished runs, NaN runs stored as failed,
and resume after a killed process ending with the same rows."""

import os
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console

from complab import runner, training
from complab.errors import ComplabError
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


def test_nan_run_is_stored_as_failed(tmp_path):
    with pytest.raises(ComplabError, match=r"became .* at step \d+.*stored as failed"):
        runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides={"lsa.lr": 1e30}, results=tmp_path, console=QUIET)
    (run,) = Store(tmp_path).runs(FLAGSHIP)
    assert run.status == "failed" and run.failed_step is not None and "became" in run.error
    assert Store(tmp_path).metrics(run)  # the training curve up to the failure is kept


LONG = {"lsa.steps": "3000", "rnn.steps": "400"}


@pytest.fixture(scope="module")
def straight_long(tmp_path_factory):
    """Rows of the lengthened smoke run, uninterrupted."""
    root = tmp_path_factory.mktemp("straight")
    return runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides=LONG, results=root, console=QUIET).rows


@pytest.mark.parametrize("sig,status", [(signal.SIGKILL, "running"), (signal.SIGINT, "interrupted")])
def test_resume_after_interruption_gives_the_same_rows(tmp_path, straight_long, sig, status, monkeypatch):
    sets = [arg for k, v in LONG.items() for arg in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "complab.cli", "run", FLAGSHIP, "--tier", "smoke", *sets, "--checkpoint-s", "0",
           "--results", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = None
    deadline = time.monotonic() + 120
    while ckpt is None and time.monotonic() < deadline and proc.poll() is None:
        found = list(tmp_path.glob("runs/*/*/seed0/lsa.eqx"))
        ckpt = found[0] if found else None
        time.sleep(0.05)
    assert ckpt is not None, "no checkpoint appeared before the run ended"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    (run,) = Store(tmp_path).runs(FLAGSHIP)
    assert run.status == status  # kill -9: nothing could mark it; Ctrl-C: marked interrupted
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "resumes from the last checkpoint" in err and "Traceback" not in err
    starts = []
    original = training.train_chunk

    def recording(learner, task, state, k_data, k_step, start, *args):
        starts.append(int(start))
        return original(learner, task, state, k_data, k_step, start, *args)

    monkeypatch.setattr(training, "train_chunk", recording)
    resumed = runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides=LONG, results=tmp_path, console=QUIET)
    assert starts[0] > 0  # the first fit picked up from its checkpoint
    assert resumed.rows == straight_long
