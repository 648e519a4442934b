import os
import sqlite3
import subprocess
import sys
import time

import pytest

from complab.errors import ComplabError
from complab.store import LEASE_S, SCHEMA_VERSION, Store

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


def test_a_run_held_by_a_live_owner_is_not_claimed_twice(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    other = Store(tmp_path)  # another process: another owner token
    with pytest.raises(ComplabError, match=r"is being run by process .* \(last heartbeat"):
        other.begin("exp", "cpu", {}, "h", 0, META)
    s.db.execute("UPDATE runs SET heartbeat=? WHERE id=?", (time.time() - LEASE_S - 1, run.id))
    assert other.begin("exp", "cpu", {}, "h", 0, META).owner == other.owner  # an expired lease is taken over


def test_a_dead_local_holder_releases_its_lease_at_once(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    s.db.execute("UPDATE runs SET pid=? WHERE id=?", (gone.pid, run.id))  # its holder was killed (-9)
    other = Store(tmp_path)
    assert other.begin("exp", "cpu", {}, "h", 0, META).pid == os.getpid()


def test_cells_are_runs_of_their_own(tmp_path):
    s = Store(tmp_path)
    a = s.begin("exp", "cpu", {}, "h", 0, META, cell={"model": "lsa"})
    b = s.begin("exp", "cpu", {}, "h", 0, META, cell={"model": "rnn", "neurons": 4})
    assert a.id != b.id and s.run_dir(a) != s.run_dir(b)
    s.finish(b, [{"metric": "loss", "value": 1.0}], 1.0)
    s.log_curve(b, "fit", 10, {"eg": 0.5, "R": [[1.0, 0.0]]})
    assert s.rows([b]) == [{"seed": 0, "model": "rnn", "neurons": 4, "metric": "loss", "value": 1.0}]
    assert s.curves([b]) == [{"seed": 0, "model": "rnn", "neurons": 4, "fit": "fit", "step": 10, "name": "R",
                              "value": [[1.0, 0.0]]},
                             {"seed": 0, "model": "rnn", "neurons": 4, "fit": "fit", "step": 10, "name": "eg",
                              "value": 0.5}]


def test_rows_that_are_not_json_fail_before_anything_is_written(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    with pytest.raises(TypeError):
        s.finish(run, [{"value": object()}], 1.0)
    assert s.find("exp", "h", 0).status == "running" and s.rows([run]) == []


def test_a_forced_rerun_clears_the_runs_metrics_and_curves(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    s.log_metrics(run, "fit", 5, {"loss": 2.0})
    s.log_curve(run, "fit", 5, {"eg": 1.0})
    s.finish(run, [], 1.0)
    again = s.begin("exp", "cpu", {}, "h", 0, META, fresh=True)
    assert s.metrics(again) == [] and s.curves([again]) == []


def test_the_canonical_verdict_is_the_one_without_overrides(tmp_path):
    s = Store(tmp_path)
    s.save_verdict("exp", "cpu", "h", [0], [{"name": "c", "passed": True, "measured": "1"}])
    s.save_verdict("exp", "cpu", "h2", [0], [{"name": "c", "passed": False, "measured": "2"}], {"lr": "1"})
    v = s.last_verdict("exp")
    assert v["passed"] == 1 and v["overrides"] == {}
    only = Store(tmp_path / "other")
    only.save_verdict("exp", "cpu", "h2", [0], [{"name": "c", "passed": False, "measured": "2"}], {"lr": "1"})
    assert only.last_verdict("exp")["overrides"] == {"lr": "1"}  # shown, marked as overridden


V1 = """
CREATE TABLE runs (id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, tier TEXT NOT NULL, config_hash TEXT NOT NULL,
  config TEXT NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, failed_step INTEGER, started REAL,
  ended REAL, wall_s REAL, code_version TEXT, versions TEXT, device TEXT, pid INTEGER, host TEXT,
  UNIQUE (experiment, config_hash, seed));
CREATE TABLE metrics (run_id INTEGER NOT NULL, fit TEXT NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL,
  value REAL, PRIMARY KEY (run_id, fit, step, name));
CREATE TABLE rows (run_id INTEGER NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, idx));
CREATE TABLE verdicts (id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, tier TEXT NOT NULL,
  config_hash TEXT NOT NULL, seeds TEXT NOT NULL, checks TEXT NOT NULL, passed INTEGER NOT NULL, created REAL NOT NULL);
INSERT INTO runs VALUES (1, 'exp', 'cpu', 'h', '{}', 0, 'done', NULL, NULL, 1.0, 2.0, 1.0, 'abc', '{}', 'cpu', 1, 'x');
INSERT INTO rows VALUES (1, 0, '{"value": 3}');
INSERT INTO verdicts VALUES (1, 'exp', 'cpu', 'h', '[0]', '[]', 1, 5.0);
"""


def test_a_first_spine_database_is_migrated(tmp_path):
    db = sqlite3.connect(tmp_path / "complab.db")
    db.executescript(V1)
    db.close()
    s = Store(tmp_path)
    run = s.find("exp", "h", 0)
    assert run.status == "done" and run.cell == {} and s.rows([run]) == [{"seed": 0, "value": 3}]
    assert s.last_verdict("exp")["overrides"] == {}
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_database_is_refused(tmp_path):
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "complab.db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ComplabError, match="newer than this complab's"):
        Store(tmp_path)


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


def test_only_the_holder_finishes_a_run(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    s.db.execute("UPDATE runs SET heartbeat=? WHERE id=?", (time.time() - LEASE_S - 1, run.id))
    other = Store(tmp_path)
    other.begin("exp", "cpu", {}, "h", 0, META)  # the lease had expired: taken over
    with pytest.raises(ComplabError, match="was taken over by another process"):
        s.finish(run, [{"v": 1}], 1.0)
    assert s.rows([run]) == [] and s.find("exp", "h", 0).owner == other.owner


def test_begin_returns_a_run_finished_elsewhere_unclaimed(tmp_path):
    s = Store(tmp_path)
    s.finish(s.begin("exp", "cpu", {}, "h", 0, META), [{"v": 1}], 1.0)
    again = Store(tmp_path).begin("exp", "cpu", {}, "h", 0, META)
    assert again.status == "done" and again.owner is None


def test_a_file_that_is_not_a_database_is_named_as_such_and_left_alone(tmp_path):
    garbage = b"this is not sqlite" * 100
    (tmp_path / "complab.db").write_bytes(garbage)
    with pytest.raises(ComplabError, match="complab.db is not a readable complab database"):
        Store(tmp_path)
    assert (tmp_path / "complab.db").read_bytes() == garbage
