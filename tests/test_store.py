import os
import sqlite3
import subprocess
import sys

import pytest

from complab.errors import ComplabError
from complab.store import Store

META = {"code_version": "abc", "versions": {"jax": "0"}, "device": "cpu"}


def test_round_trip_and_reuse_key(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {"a": 1}, "h1", 0, META)
    assert run.status == "running" and s.run_dir(run).name == "seed0"
    s.log_metrics(run, "fit", 10, {"loss": 1.5})
    s.finish(run, [{"model": "m", "value": 0.25}], wall_s=2.0)
    again = Store(tmp_path)  # a new connection sees everything committed
    got = again.find("exp", "h1", 0)
    assert got.status == "done" and got.config == {"a": 1} and got.wall_s == 2.0 and got.versions == {"jax": "0"}
    assert again.rows([got]) == [{"seed": 0, "model": "m", "value": 0.25}]
    assert again.metrics(got) == [{"fit": "fit", "step": 10, "name": "loss", "value": 1.5}]
    assert again.find("exp", "h2", 0) is None and again.find("exp", "h1", 1) is None


def test_begin_again_resets_a_failed_run_and_keeps_its_metrics(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    s.log_metrics(run, "fit", 5, {"loss": 2.0})
    s.fail(run, "failed", "boom", 5, 1.0)
    assert s.find("exp", "h", 0).failed_step == 5
    again = s.begin("exp", "cpu", {}, "h", 0, META)
    assert again.id == run.id and again.status == "running" and again.failed_step is None
    assert len(s.metrics(again)) == 1
    s.finish(again, [], 2.5)
    assert s.find("exp", "h", 0).wall_s == 3.5  # compute adds up over sessions


def test_wal_mode(tmp_path):
    Store(tmp_path)
    mode = sqlite3.connect(tmp_path / "complab.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_unwritable_results_dir_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ComplabError, match="cannot write results to .*pass a writable directory"):
        Store(blocker / "sub")


def test_a_run_held_by_a_live_process_is_not_claimed_twice(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        s.db.execute("UPDATE runs SET pid=? WHERE id=?", (other.pid, run.id))
        with pytest.raises(ComplabError, match=f"is being run by process {other.pid}"):
            s.begin("exp", "cpu", {}, "h", 0, META)
    finally:
        other.kill()
        other.wait()
    assert s.begin("exp", "cpu", {}, "h", 0, META).pid == os.getpid()  # a dead holder's run is taken over


def test_a_forced_rerun_keeps_the_old_rows_until_it_finishes(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    s.run_dir(run).mkdir(parents=True)
    (s.run_dir(run) / "fit.eqx").write_bytes(b"x")
    s.finish(run, [{"v": 1}], 1.0)
    s.clear_checkpoints(run)
    assert not s.run_dir(run).exists()
    again = s.begin("exp", "cpu", {}, "h", 0, META, fresh=True)
    s.fail(again, "interrupted", "stopped", None, 0.5)
    assert s.rows([again]) == [{"seed": 0, "v": 1}]  # nothing already written is lost
    s.finish(s.begin("exp", "cpu", {}, "h", 0, META, fresh=True), [{"v": 2}], 1.0)
    assert s.rows([again]) == [{"seed": 0, "v": 2}] and s.find("exp", "h", 0).wall_s == 1.0


def test_store_existing_opens_only_what_is_there(tmp_path):
    assert Store.existing(tmp_path / "none") is None and not (tmp_path / "none").exists()
    Store(tmp_path).close()
    assert Store.existing(tmp_path) is not None


def test_results_dir_comes_from_the_environment_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLAB_RESULTS", str(tmp_path / "env"))
    assert Store().root == tmp_path / "env" and (tmp_path / "env" / "complab.db").exists()
    monkeypatch.delenv("COMPLAB_RESULTS")
    monkeypatch.chdir(tmp_path)
    assert Store().root.resolve() == (tmp_path / "results").resolve()
