"""`run --jobs N`: the cores' shares; a run in worker processes (the workers train every run,
the rows and verdict of a one-process run, reuse on relaunch); the queue's rules (a peer's
held or failed run is passed over; a worker of another config refuses); workers end with
their command; bad --jobs input as one sentence."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from complab import runner, workers
from complab.cli import main
from complab.errors import ComplabError
from complab.store import Store

QUIET = Console(quiet=True)
# an experiment without JAX programs: the test spends its time on the workers' machinery (the rows' bit-identity
# across processes with compiled programs: test_campaign, test_runner)
EXP, SEEDS = "ea_mutation_schedules", [0, 1, 2]


@pytest.mark.parametrize("jobs,cores", [(1, [0, 1]), (2, [0, 1]), (3, [0, 1, 2, 3, 4, 5, 6]), (2, [3]), (5, [0, 1])])
def test_the_workers_share_the_cores(jobs, cores):
    shares = workers.core_shares(jobs, cores)
    assert len(shares) == jobs and all(shares)
    flat = [c for s in shares for c in s]
    if jobs <= len(cores):  # disjoint, every core used, sizes differing by at most one
        assert sorted(flat) == cores
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
    else:  # one core each, in turn
        assert flat == [cores[i % len(cores)] for i in range(jobs)]


def test_workers_train_every_run_once_as_one_process_would_and_a_relaunch_reuses_them(tmp_path_factory):
    root, sets = tmp_path_factory.mktemp("jobs"), {"wrong": "5"}  # an override, through the workers' JSON
    out = runner.run(EXP, tier="smoke", seeds=SEEDS, overrides=sets, results=root, console=QUIET, jobs=2)
    cells = len(out.experiment.cell_list(out.config))
    assert not out.failures and len(out.runs) == cells * len(SEEDS)
    db = sqlite3.connect(root / "complab.db")
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == cells * len(SEEDS)  # the command's runs only
    assert {r.status for r in out.runs} == {"done"}
    assert db.execute("SELECT COUNT(*) FROM verdicts WHERE experiment=?", (EXP,)).fetchone()[0] == 1
    logs = sorted((root / "workers" / EXP).glob("*/worker-*.log"))
    said = [line for log in logs for line in log.read_text().splitlines() if line.startswith("worker on cores")]
    assert len(logs) == 2 and len(said) == 2  # two workers started, each held to its cores
    assert os.getpid() not in {r.pid for r in out.runs}  # the workers trained, not the command's process
    alone = runner.run(EXP, tier="smoke", seeds=SEEDS, overrides=sets, results=tmp_path_factory.mktemp("alone"),
                       console=QUIET)
    assert sorted(out.rows, key=str) == sorted(alone.rows, key=str)
    assert [(c.name, c.passed, c.measured) for c in out.checks] == [(c.name, c.passed, c.measured)
                                                                     for c in alone.checks]
    ended = {r.id: r.ended for r in Store(root).runs(EXP)}
    again = runner.run(EXP, tier="smoke", seeds=SEEDS, overrides=sets, results=root, console=QUIET, jobs=2)
    assert {r.id: r.ended for r in Store(root).runs(EXP)} == ended and not again.failures


@pytest.mark.parametrize("argv,fragment", [
    (["--jobs", "0"], "--jobs must be an integer >= 1 (worker processes), got 0"),
    (["--jobs", "2", "--force"], "--force reruns finished runs in the command's own process"),
])
def test_bad_jobs_are_one_sentence_and_store_nothing(capsys, tmp_path, argv, fragment):
    assert main(["run", EXP, "--tier", "smoke", "--results", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert not (tmp_path / "complab.db").exists()


def test_a_worker_passes_over_what_its_peers_hold_or_failed_on_and_refuses_another_config(tmp_path, capsys):
    """The queue's rules: what a live peer holds, or failed on during this command, is not this worker's to
    train or to report; a run that failed before the command began is trained again, as without --jobs."""
    first = runner.run(EXP, tier="smoke", seeds=[0], results=tmp_path, console=QUIET).runs[0]
    other = Store(tmp_path)  # another lease holder, alive
    held = other.begin(EXP, "smoke", {}, first.config_hash, 5, runner.run_meta(), cell=first.cell)
    assert runner.execute(EXP, "smoke", [5], results=tmp_path, shared_since=0.0) == []
    said = runner.execute(EXP, "smoke", [5], results=tmp_path)
    assert len(said) == 1 and "is being run by" in said[0]
    since = time.time()
    other.fail(held, "failed", "a peer's NaN", 3, 1.0)
    assert runner.execute(EXP, "smoke", [5], results=tmp_path, shared_since=since) == []
    assert Store(tmp_path).find(EXP, first.config_hash, 5, first.cell).status == "failed"  # passed over
    assert runner.execute(EXP, "smoke", [5], results=tmp_path, shared_since=time.time() + 60) == []
    assert Store(tmp_path).find(EXP, first.config_hash, 5, first.cell).status == "done"  # failed before: trained
    work = {"experiment": EXP, "tier": "smoke", "seeds": [0], "config_hash": "another", "since": 0.0, "overrides": {},
            "results": str(tmp_path), "checkpoint_s": 30.0, "trackers": []}
    assert workers.main([json.dumps(work)]) == workers.FAILED
    assert "is not its command's (another)" in capsys.readouterr().out
    with pytest.raises(ComplabError):
        workers.check(2, force=True)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie is gone
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the parent-death signal is Linux's")
def test_a_worker_ends_when_the_command_is_killed_outright(tmp_path):
    """kill -9 of the command cannot stop its workers; each asked for SIGTERM at its parent's death."""
    ready = tmp_path / "ready"
    worker = f"from complab import workers; workers._end_with_parent(); open({str(ready)!r}, 'w'); " \
             "import time; time.sleep(60)"
    command = f"import os, subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', {worker!r}], " \
              "env={**os.environ, 'COMPLAB_PARENT': str(os.getpid())}); print(p.pid, flush=True); time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", command], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists() and not _gone(child)
    parent.kill()
    parent.wait()
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
    # a worker whose command was gone before it asked ends at once
    late = subprocess.run([sys.executable, "-c", "from complab import workers; workers._end_with_parent()"],
                          env={**os.environ, "COMPLAB_PARENT": "1"}, timeout=60)
    assert late.returncode == workers.INTERRUPTED
