"""The reliability campaign, as a user would try it, bounded in time: kill -9 at
random points (one of them in the middle of a checkpoint write) then resume, Ctrl-C
during start-up, 8 processes writing to one database at once. Each test records its
figures (points killed, rows expected / found) for the terminal summary."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from rich.console import Console

from complab import runner
from complab.store import Store

from .conftest import FLAGSHIP

LONG = {"lsa.steps": "4000", "rnn.steps": "600"}  # a few seconds of training: kills land by progress, not time
SETS = [arg for k, v in LONG.items() for arg in ("--set", f"{k}={v}")]

# Runs the CLI; with COMPLAB_TEST_SLOW_CHECKPOINT set, the first checkpoint write stops half-way
# (its temporary file half-written), says so in that file, and waits there to be killed.
CLI = textwrap.dedent("""
    import os, pathlib, sys, time
    from complab import cli, training
    marker = os.environ.get("COMPLAB_TEST_SLOW_CHECKPOINT")
    if marker:
        def stalled(path, state, step, identity=""):
            path.with_suffix(".tmp").write_bytes(training.CHECKPOINT_MAGIC + b'{"step": ')
            pathlib.Path(marker).touch()
            time.sleep(600)
        training.save_checkpoint = stalled
    sys.exit(cli.main(sys.argv[1:]))
""")


def _start(root, env=None):
    cmd = [sys.executable, "-c", CLI, "run", FLAGSHIP, "--tier", "smoke", *SETS, "--checkpoint-s", "0",
           "--results", str(root)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def _metric_rows(root) -> int:
    if not (root / "complab.db").exists():
        return 0
    db = sqlite3.connect(f"file:{root / 'complab.db'}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM metrics").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        db.close()


def _integrity(root) -> str:
    db = sqlite3.connect(root / "complab.db")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_rows(tmp_path, record_property):
    quiet = Console(quiet=True)
    straight = runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides=LONG, results=tmp_path / "straight",
                          console=quiet)
    root = tmp_path / "killed"
    rng = random.Random(20261126)
    killed, counted = [], 0.0
    # mid-checkpoint first: a half-written temporary file must not stop the resume
    marker = tmp_path / "in-checkpoint"
    proc = _start(root, {"COMPLAB_TEST_SLOW_CHECKPOINT": str(marker)})
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the run never reached a checkpoint write"
    proc.kill()
    proc.wait()
    killed.append("during a checkpoint write")
    assert list(root.glob("runs/**/*.tmp"))  # the half-written file is there
    # then at random points of the run, by its progress (metric rows logged, out of the uninterrupted run's),
    # so that the kills land while it trains however fast this machine is
    total = _metric_rows(tmp_path / "straight")
    for fraction in sorted(rng.uniform(0.1, 0.9) for _ in range(5)):
        proc = _start(root)
        while proc.poll() is None and _metric_rows(root) < fraction * total:
            time.sleep(0.02)
        if proc.poll() is not None:  # it finished before reaching the point: nothing more to kill
            break
        proc.kill()
        proc.wait()
        killed.append(f"at {_metric_rows(root) / total:.0%} of the run")
        assert _integrity(root) == "ok"
        running = [r for r in Store(root, readonly=True).runs(FLAGSHIP) if r.status == "running"]
        counted += sum(r.session_s or 0 for r in running)
    resumed = runner.run(FLAGSHIP, tier="smoke", seeds=[0], overrides=LONG, results=root, console=quiet)
    found, expected = resumed.rows, straight.rows
    record_property("campaign", f"kill -9: {len(killed)} points killed ({'; '.join(killed)}); rows expected "
                                f"{len(expected)}, found {len(found)}, identical: {found == expected}; killed "
                                f"sessions' time counted {counted:.1f} s; integrity {_integrity(root)}")
    assert len(killed) >= 5
    assert found == expected and _integrity(root) == "ok"
    assert sum(r.wall_s for r in resumed.runs) >= counted > 0  # the killed sessions' time is in the wall time


def test_ctrl_c_during_start_up_exits_130_and_never_crashes(tmp_path, record_property):
    rng = random.Random(7)
    codes = []
    for i in range(6):
        root = tmp_path / f"r{i}"
        proc = subprocess.Popen([sys.executable, "-m", "complab.cli", "run", "guided_es", "--tier", "smoke",
                                 "--results", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        # from 0.3 s: earlier, the interpreter is still starting and no code of complab's has run (a
        # Ctrl-C there ends Python with its own KeyboardInterrupt, exit -2: not a crash, not swallowed)
        time.sleep(rng.uniform(0.3, 2.0))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        codes.append(proc.returncode)
        assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err)
        if (root / "complab.db").exists():
            assert _integrity(root) == "ok"
    record_property("campaign", f"Ctrl-C 0.3-2 s after start: {len(codes)} tries, exit codes {codes}")


WRITER = textwrap.dedent("""
    import sys
    from complab.store import Store
    root, seed = sys.argv[1], int(sys.argv[2])
    store = Store(root)
    run = store.begin("concurrent", "smoke", {}, "h", seed, {"code_version": "t", "versions": {}, "device": "cpu"})
    for step in range(1000):
        store.log_metrics(run, "fit", step, {"loss": seed + step / 1000})
    store.finish(run, [{"seed_again": seed}], 1.0)
""")


def test_eight_concurrent_writers_lose_no_row(tmp_path, record_property):
    Store(tmp_path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(seed)], stderr=subprocess.PIPE,
                              text=True) for seed in range(8)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    db = sqlite3.connect(tmp_path / "complab.db")
    found = db.execute("SELECT count(*) FROM metrics").fetchone()[0]
    distinct = db.execute("SELECT count(DISTINCT value) FROM metrics").fetchone()[0]
    done = db.execute("SELECT count(*) FROM runs WHERE status='done'").fetchone()[0]
    record_property("campaign", f"8 concurrent writers x 1000 metric rows: expected 8000, found {found} "
                                f"({distinct} distinct), runs done {done}/8, integrity {_integrity(tmp_path)}")
    assert found == distinct == 8000 and done == 8 and _integrity(tmp_path) == "ok"
