"""The store when things go wrong: a forced rerun that does not finish gives the
finished run back; a killed session's time counts; a reused pid is not a holder;
read-only directories can be read; damaged or foreign databases are refused by name."""

import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from complab.errors import ComplabError
from complab.store import Store

META = {"code_version": "abc", "versions": {"jax": "0"}, "device": "cpu"}


def _finished(s: Store):
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    s.log_metrics(run, "fit", 10, {"loss": 1.5})
    s.log_curve(run, "fit", 10, {"acc": 0.5})
    s.finish(run, [{"v": 1}], 2.0)
    return s.find("exp", "h", 0)


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_a_forced_rerun_that_does_not_finish_gives_the_finished_run_back(tmp_path, status):
    s = Store(tmp_path)
    done = _finished(s)
    rerun = s.begin("exp", "cpu", {}, "h", 0, {**META, "code_version": "new"}, fresh=True)
    assert s.metrics(rerun) == [] and s.curves([rerun]) == []  # the rerun starts its curves afresh
    s.log_metrics(rerun, "fit", 3, {"loss": 9.0})
    assert s.fail(rerun, status, "stopped", None, 0.5)
    back = s.find("exp", "h", 0)
    assert back.status == "done" and back.wall_s == 2.0 and back.code_version == "abc" and back.previous is None
    assert s.rows([back]) == [{"seed": 0, "v": 1}]
    assert s.metrics(back) == s.metrics(done) and s.curves([back]) == s.curves([done])
    assert not s.db.execute("SELECT 1 FROM metrics WHERE run_id < 0").fetchall()


def test_a_forced_rerun_that_finishes_replaces_everything(tmp_path):
    s = Store(tmp_path)
    _finished(s)
    rerun = s.begin("exp", "cpu", {}, "h", 0, META, fresh=True)
    s.log_metrics(rerun, "fit", 3, {"loss": 9.0})
    s.finish(rerun, [{"v": 2}], 1.0)
    run = s.find("exp", "h", 0)
    assert s.rows([run]) == [{"seed": 0, "v": 2}] and run.wall_s == 1.0
    assert s.metrics(run) == [{"fit": "fit", "step": 3, "name": "loss", "value": 9.0}] and s.curves([run]) == []
    assert not s.db.execute("SELECT 1 FROM metrics WHERE run_id < 0 UNION SELECT 1 FROM curves WHERE run_id < 0"
                            ).fetchall()


def test_a_killed_forced_rerun_resumes_as_a_rerun(tmp_path):
    s = Store(tmp_path)
    _finished(s)
    rerun = s.begin("exp", "cpu", {}, "h", 0, META, fresh=True)
    _dead_holder(s, rerun)
    resumed = Store(tmp_path).begin("exp", "cpu", {}, "h", 0, META)  # no --force: it continues the rerun
    assert resumed.status == "running" and resumed.previous is not None


def _dead_holder(s: Store, run):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    s.db.execute("UPDATE runs SET pid=? WHERE id=?", (gone.pid, run.id))


def test_a_killed_sessions_time_counts_up_to_its_last_heartbeat(tmp_path):
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    s.db.execute("UPDATE runs SET session_s=12.5 WHERE id=?", (run.id,))  # the heartbeat's last word
    _dead_holder(s, run)  # then kill -9
    other = Store(tmp_path)
    again = other.begin("exp", "cpu", {}, "h", 0, META)
    assert again.wall_s == 12.5 and again.session_s == 0
    other.finish(again, [], 3.0)
    assert other.find("exp", "h", 0).wall_s == 15.5


def test_a_pid_reused_by_another_process_is_not_the_holder(tmp_path):
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        pytest.skip("no /proc: process start times are unknown here")
    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    assert s.find("exp", "h", 0).pid_start is not None
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:  # the holder died and its pid went to `live`: same pid, another start time
        s.db.execute("UPDATE runs SET pid=?, pid_start='1' WHERE id=?", (live.pid, run.id))
        assert Store(tmp_path).begin("exp", "cpu", {}, "h", 0, META).pid == os.getpid()
        s.db.execute("UPDATE runs SET pid=?, pid_start=NULL, owner='x' WHERE id=?", (live.pid, run.id))
        with pytest.raises(ComplabError, match="is being run by"):  # without a start time, a live pid holds
            Store(tmp_path).begin("exp", "cpu", {}, "h", 0, META)
    finally:
        live.kill()
        live.wait()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes read-only directories anyway")
def test_a_read_only_results_directory_can_be_read(tmp_path):
    s = Store(tmp_path)
    _finished(s)
    s.close()
    os.chmod(tmp_path, stat.S_IRUSR | stat.S_IXUSR)
    try:
        ro = Store(tmp_path, readonly=True)
        assert ro.rows(ro.runs("exp")) == [{"seed": 0, "v": 1}]
    finally:
        os.chmod(tmp_path, stat.S_IRWXU)


def test_a_read_only_store_never_writes(tmp_path):
    s = Store(tmp_path)
    _finished(s)
    s.close()
    before = (tmp_path / "complab.db").read_bytes()
    ro = Store(tmp_path, readonly=True)
    assert ro.rows(ro.runs("exp")) == [{"seed": 0, "v": 1}]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.db.execute("UPDATE runs SET seed=1")
    ro.close()
    assert (tmp_path / "complab.db").read_bytes() == before  # (SQLite's -shm and -wal files come and go)
    assert {p.name for p in tmp_path.iterdir()} <= {"complab.db", "complab.db-shm", "complab.db-wal"}


@pytest.mark.parametrize("damage,says", [
    ("DROP TABLE curves", "has no table curves"),
    ("ALTER TABLE runs DROP COLUMN heartbeat", "has no column heartbeat of table runs"),
])
def test_a_database_missing_a_table_or_column_is_refused_by_name(tmp_path, damage, says):
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "complab.db")
    db.execute(damage)
    db.commit()
    db.close()
    for readonly in (False, True):
        with pytest.raises(ComplabError, match=f"{says}: it is damaged or was not made by complab"):
            Store(tmp_path, readonly=readonly)


def _version_3(root):
    """A database as complab's schema 3 made it: without the columns version 4 added."""
    s = Store(root)
    s.finish(s.begin("exp", "cpu", {}, "h", 0, META), [{"v": 1}], 2.0)
    s.close()
    db = sqlite3.connect(root / "complab.db")
    for column in ("session_s", "pid_start", "previous"):
        db.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    db.execute("PRAGMA user_version=3")
    db.commit()
    db.close()


def test_a_reader_reads_a_version_3_database_as_it_is_and_a_writer_migrates_it(tmp_path):
    _version_3(tmp_path)
    ro = Store(tmp_path, readonly=True)
    (run,) = ro.runs("exp")
    assert run.status == "done" and run.session_s is None and ro.rows([run]) == [{"seed": 0, "v": 1}]
    ro.close()
    assert sqlite3.connect(tmp_path / "complab.db").execute("PRAGMA user_version").fetchone()[0] == 3
    s = Store(tmp_path)  # a writer migrates it, and the run is usable as before
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == 4
    again = s.begin("exp", "cpu", {}, "h", 0, META, fresh=True)
    assert again.previous is not None and s.fail(again, "interrupted", "stopped", None, 0.1)
    assert s.find("exp", "h", 0).status == "done"


def test_a_reader_refuses_a_much_older_database(tmp_path):
    Store(tmp_path).close()
    sqlite3.connect(tmp_path / "complab.db").execute("PRAGMA user_version=2").close()
    with pytest.raises(ComplabError, match="older than this complab's .*open it once with write access"):
        Store(tmp_path, readonly=True)


def test_an_interrupt_while_waiting_for_the_write_lock_leaves_no_transaction_open(tmp_path):
    import signal
    import threading

    from complab import interrupts

    s = Store(tmp_path)
    run = s.begin("exp", "cpu", {}, "h", 0, META)
    other = sqlite3.connect(tmp_path / "complab.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()  # Ctrl-C while we wait for it
    threading.Timer(0.8, lambda: other.execute("COMMIT")).start()
    with interrupts.handled(), pytest.raises(KeyboardInterrupt):
        s.log_metrics(run, "fit", 1, {"loss": 1.0})
    assert not s.db.in_transaction
    s.fail(run, "interrupted", "interrupted by the user", None, 1.0)  # what the runner does next
    assert s.find("exp", "h", 0).status == "interrupted"


def test_an_interrupt_is_remembered_only_inside_the_outermost_handled_block():
    from complab import interrupts

    with interrupts.handled():
        with interrupts.handled():
            interrupts._pending = True  # as the signal handler does
        assert interrupts.pending()  # the inner block's end keeps it for the outer one
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert not interrupts.pending()
    interrupts.check()  # outside any block: nothing left over raises


def test_an_interrupt_python_cannot_raise_is_remembered_not_printed(capsys):
    import gc

    from complab import interrupts

    class Finalizer:
        def __del__(self):
            raise KeyboardInterrupt  # as a Ctrl-C landing in a finalizer does

    with interrupts.handled():
        Finalizer()
        gc.collect()
        assert interrupts.pending()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert "Traceback" not in capsys.readouterr().err
