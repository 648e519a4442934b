"""The results database: SQLite in WAL mode at <results>/complab.db, plus run
directories (checkpoints) and figures beside it. It knows no experiment.

A run is one (experiment, config hash, cell, seed): a cell is a grid point of the
experiment's claim, stored as canonical JSON ("{}" for an experiment without cells).
Every write commits at once (a chunk's metrics in one transaction), so what was
stored survives a crash; a run interrupted while "running" is picked up again by
the next `begin`, and its checkpoints let training resume.

`begin` claims a run in one write transaction under a random owner token (leases:
`store_leases.py`); only the holder finishes or fails it. Tables, versions and
migrations: `store_schema.py`; older databases are migrated on open (readers read
them as they are), a newer one is refused.
"""

import contextlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from complab.errors import ComplabError
from complab.store_leases import LEASE_S, held_elsewhere, process_start  # noqa: F401 - LEASE_S for callers
from complab.store_schema import (ADDED_IN_4, MIGRATIONS, READABLE_FROM, SCHEMA, SCHEMA_VERSION, connect_readonly,
                                   expected_columns)



@dataclass(frozen=True)
class Run:
    id: int
    experiment: str
    tier: str
    config_hash: str
    cell: dict
    config: dict
    seed: int
    status: str
    error: str | None
    failed_step: int | None
    wall_s: float | None
    started: float | None
    ended: float | None
    code_version: str | None
    versions: dict
    device: str | None
    pid: int | None
    host: str | None
    owner: str | None
    heartbeat: float | None
    session_s: float | None = None
    pid_start: str | None = None
    previous: dict | None = None  # the finished run a forced rerun is replacing


def cell_key(cell: dict) -> str:
    """The canonical JSON of a cell, its identity in the store."""
    return json.dumps(cell, sort_keys=True)


def default_results_dir() -> Path:
    return Path(os.environ.get("COMPLAB_RESULTS", "results"))


class Store:
    def __init__(self, root: str | Path | None = None, readonly: bool = False):
        self.root = Path(root) if root is not None else default_results_dir()
        self.owner = secrets.token_hex(8)  # this process's lease token
        self.readonly = readonly
        try:
            if readonly:
                self.db = connect_readonly(self.root / "complab.db")
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=self.root):
                    pass
                self.db = sqlite3.connect(self.root / "complab.db", timeout=60, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes of the process
            self._open_schema()
            self._verify_schema()
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e) or "malformed" in str(e):
                raise damaged(self.root, e) from None
            raise self._unusable(e) from None
        except OSError as e:
            raise self._unusable(e) from None
        self.db.row_factory = sqlite3.Row

    def _unusable(self, e: Exception) -> ComplabError:
        if self.readonly:
            return ComplabError(f"cannot read the results database in {self.root} ({e.__class__.__name__}: {e})")
        return ComplabError(f"cannot write results to {self.root} ({e.__class__.__name__}: {e}); "
                            "pass a writable directory with --results or $COMPLAB_RESULTS")

    def _open_schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return  # nothing to write: concurrent openers do not contend
        if self.readonly and READABLE_FROM <= version < SCHEMA_VERSION:
            return  # what it lacks are columns that read as NULL
        if self.readonly:
            newer = version > SCHEMA_VERSION
            raise ComplabError(
                f"the results database {self.root / 'complab.db'} has schema version {version}, "
                f"{'newer' if newer else 'older'} than this complab's {SCHEMA_VERSION}; "
                + ("upgrade complab" if newer else "open it once with write access (any `complab run`) to migrate it"))
        with self.tx(immediate=True):
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            has_runs = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='runs'").fetchone() is not None
            if version > SCHEMA_VERSION:
                raise ComplabError(
                    f"the results database {self.root / 'complab.db'} has schema version {version}, newer than "
                    f"this complab's {SCHEMA_VERSION}; upgrade complab or use another --results directory"
                )
            if has_runs and version == 0:
                version = 1  # the first spine wrote no version
            for v in range(max(version, 1), SCHEMA_VERSION):
                if has_runs:
                    MIGRATIONS[v](self.db)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _verify_schema(self) -> None:
        """Every table and column this complab uses is there (a damaged or foreign database is refused)."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        optional = ADDED_IN_4 if version < 4 else ()
        for table, columns in expected_columns().items():
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in columns if c not in have and (table, c) not in optional]
            if missing:
                what = f"table {table}" if not have else f"column{'s' * (len(missing) > 1)} {', '.join(missing)} " \
                    f"of table {table}"
                raise ComplabError(
                    f"the results database {self.root / 'complab.db'} has no {what}: it is damaged or was not made "
                    "by complab; move it away to start a new one there, or pass another directory with --results")

    @contextlib.contextmanager
    def tx(self, immediate: bool = True):
        """One write transaction: everything inside commits together or not at all. It takes
        the write lock at once (IMMEDIATE), so that concurrent writers wait for each other
        (up to the connection's 60 s timeout) instead of failing on upgrading a read."""
        try:  # an interrupt may land while BEGIN waits for another writer: it must not leave a transaction open
            self.db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- runs
    def run_dir(self, run: Run) -> Path:
        cell = "".join(f"{k}={v}," for k, v in sorted(run.cell.items())).rstrip(",") or "all"
        return self.root / "runs" / run.experiment / run.config_hash / cell / f"seed{run.seed}"

    def find(self, experiment: str, config_hash: str, seed: int, cell: dict | None = None) -> Run | None:
        row = self.db.execute(
            "SELECT * FROM runs WHERE experiment=? AND config_hash=? AND cell=? AND seed=?",
            (experiment, config_hash, cell_key(cell or {}), seed),
        ).fetchone()
        return _run(row) if row else None

    def begin(self, experiment: str, tier: str, config: dict, config_hash: str, seed: int, meta: dict,
              fresh: bool = False, cell: dict | None = None) -> Run:
        """Claim the run to execute: a new one, or the stored one reset to "running"
        (checkpoints, metrics and rows kept until `finish` replaces the rows).
        `wall_s` adds up over the run's sessions: those that ended in `finish` or
        `fail`, and a killed one up to its last heartbeat (`session_s`). `fresh`
        (for --force) restarts the count and sets the finished run's metrics and
        curves aside, restored by `fail` if the rerun does not finish. A run that
        another process finished meanwhile is returned as it is, unclaimed."""
        now = time.time()
        me = (os.getpid(), socket.gethostname(), self.owner, now, process_start(os.getpid()))
        cell = cell or {}
        with self.tx(immediate=True):  # one claimant at a time, across processes
            existing = self.find(experiment, config_hash, seed, cell)
            if existing is None:
                self.db.execute(
                    "INSERT INTO runs (experiment, tier, config_hash, cell, config, seed, status, started,"
                    " code_version, versions, device, pid, host, owner, heartbeat, pid_start, session_s)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (experiment, tier, config_hash, cell_key(cell), json.dumps(config), seed, now,
                     meta["code_version"], json.dumps(meta["versions"]), meta["device"], *me),
                )
            elif existing.status == "done" and not fresh:
                return existing
            elif held_elsewhere(existing, self.owner):
                where = f"process {existing.pid} on {existing.host}"
                raise ComplabError(
                    f"{experiment} {_describe(cell)}seed {seed} is being run by {where} (last heartbeat "
                    f"{now - (existing.heartbeat or now):.0f} s ago); wait for it to finish or stop it"
                )
            else:
                previous = existing.previous
                if fresh and existing.status == "done":  # set the finished run aside until the rerun finishes
                    previous = {"wall_s": existing.wall_s, "started": existing.started, "ended": existing.ended,
                                "tier": existing.tier, "code_version": existing.code_version,
                                "versions": existing.versions, "device": existing.device}
                    for table in ("metrics", "curves"):
                        self.db.execute(f"DELETE FROM {table} WHERE run_id=?", (-existing.id,))
                        self.db.execute(f"UPDATE {table} SET run_id=? WHERE run_id=?", (-existing.id, existing.id))
                elif fresh:
                    for table in ("metrics", "curves"):
                        self.db.execute(f"DELETE FROM {table} WHERE run_id=?", (existing.id,))
                wall = "NULL" if fresh else "COALESCE(wall_s, 0) + COALESCE(session_s, 0)"  # a killed session's
                self.db.execute(
                    f"UPDATE runs SET status='running', error=NULL, failed_step=NULL, started=?, ended=NULL,"
                    f" wall_s={wall}, session_s=0, tier=?, code_version=?, versions=?, device=?, pid=?, host=?,"
                    " owner=?, heartbeat=?, pid_start=?, previous=? WHERE id=?",
                    (now, tier, meta["code_version"], json.dumps(meta["versions"]), meta["device"], *me,
                     json.dumps(previous) if previous else None, existing.id),
                )
        return self.find(experiment, config_hash, seed, cell)

    def clear_checkpoints(self, run: Run) -> None:
        """Delete a run's checkpoints so that it trains from scratch (for --force)."""
        try:
            shutil.rmtree(self.run_dir(run))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise ComplabError(
                f"cannot delete the checkpoints in {self.run_dir(run)} ({e}); delete them by hand"
            ) from None

    def finish(self, run: Run, rows: list[dict], wall_s: float) -> None:
        """Store the final rows (which must be JSON: plain numbers, strings, lists) and mark the run done."""
        data = [json.dumps(r, allow_nan=True) for r in rows]  # raises before anything is written
        with self.tx(immediate=True):
            done = self.db.execute(
                "UPDATE runs SET status='done', ended=?, wall_s=COALESCE(wall_s, 0) + ?, session_s=NULL,"
                " previous=NULL, owner=NULL WHERE id=? AND owner=?", (time.time(), wall_s, run.id, self.owner))
            if done.rowcount != 1:
                raise ComplabError(f"{run.experiment} {_describe(run.cell)}seed {run.seed} was taken over by another "
                                   "process (this one's lease had expired); its results are the other's to store")
            for table in ("metrics", "curves"):  # what a forced rerun set aside is replaced now
                self.db.execute(f"DELETE FROM {table} WHERE run_id=?", (-run.id,))
            self.db.execute("DELETE FROM rows WHERE run_id=?", (run.id,))
            self.db.executemany("INSERT INTO rows (run_id, idx, data) VALUES (?, ?, ?)",
                                [(run.id, i, d) for i, d in enumerate(data)])

    def fail(self, run: Run, status: str, error: str, step: int | None, wall_s: float) -> bool:
        """Mark the run failed or interrupted; a forced rerun of a finished run instead
        gives the finished run back (its rows, metrics, curves and wall time). Returns
        whether it did so."""
        with self.tx(immediate=True):
            row = self.db.execute("SELECT previous FROM runs WHERE id=? AND owner=?", (run.id, self.owner)).fetchone()
            if row is None:
                return False  # taken over: the other holder's to record
            if row[0]:
                p = json.loads(row[0])
                self.db.execute(
                    "UPDATE runs SET status='done', error=NULL, failed_step=NULL, wall_s=?, started=?, ended=?,"
                    " tier=?, code_version=?, versions=?, device=?, session_s=NULL, previous=NULL, owner=NULL"
                    " WHERE id=?", (p["wall_s"], p["started"], p["ended"], p["tier"], p["code_version"],
                                    json.dumps(p["versions"]), p["device"], run.id))
                for table in ("metrics", "curves"):
                    self.db.execute(f"DELETE FROM {table} WHERE run_id=?", (run.id,))
                    self.db.execute(f"UPDATE {table} SET run_id=? WHERE run_id=?", (run.id, -run.id))
                return True
            self.db.execute(
                "UPDATE runs SET status=?, error=?, failed_step=?, ended=?, wall_s=COALESCE(wall_s, 0) + ?,"
                " session_s=NULL, owner=NULL WHERE id=?", (status, error, step, time.time(), wall_s, run.id))
            return False

    def runs(self, experiment: str | None = None) -> list[Run]:
        q, args = "SELECT * FROM runs", ()
        if experiment:
            q, args = q + " WHERE experiment=?", (experiment,)
        return [_run(r) for r in self.db.execute(q + " ORDER BY id", args)]

    # ---- metrics, curves and rows
    def log_metrics(self, run: Run, fit: str, step: int, values: dict[str, float],
                    session_s: float | None = None) -> None:
        """A chunk's metrics, and with them the seconds the run's session has taken so far
        (so that a session killed between heartbeats still counts up to its last chunk)."""
        with self.tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, fit, step, name, value) VALUES (?, ?, ?, ?, ?)",
                [(run.id, fit, step, k, float(v)) for k, v in values.items()],
            )
            if session_s is not None:
                self.db.execute("UPDATE runs SET session_s=? WHERE id=? AND owner=?", (session_s, run.id, self.owner))

    def log_curve(self, run: Run, fit: str, step: int, values: dict) -> None:
        """Evaluation values at one step (scalars or small arrays, as JSON)."""
        with self.tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO curves (run_id, fit, step, name, value) VALUES (?, ?, ?, ?, ?)",
                [(run.id, fit, step, k, json.dumps(_jsonable(v))) for k, v in values.items()],
            )

    def metrics(self, run: Run) -> list[dict]:
        cur = self.db.execute("SELECT fit, step, name, value FROM metrics WHERE run_id=? ORDER BY fit, step", (run.id,))
        return [dict(r) for r in cur]

    def last_steps(self, run: Run) -> dict[str, int]:
        """The last step logged by each fit of the run."""
        cur = self.db.execute("SELECT fit, MAX(step) FROM metrics WHERE run_id=? GROUP BY fit", (run.id,))
        return {fit: step for fit, step in cur}

    def _labels(self, run: Run) -> dict:
        return {"seed": run.seed, **run.cell}

    def curves(self, runs: list[Run]) -> list[dict]:
        """Evaluation points of these runs, each with its run's seed and cell."""
        out = []
        for run in runs:
            cur = self.db.execute("SELECT fit, step, name, value FROM curves WHERE run_id=? ORDER BY fit, step, name",
                                  (run.id,))
            out += [{**self._labels(run), "fit": f, "step": s, "name": n, "value": json.loads(v)} for f, s, n, v in cur]
        return out

    def rows(self, runs: list[Run]) -> list[dict]:
        """Final rows of these runs, each with its run's seed and cell."""
        out = []
        for run in runs:
            for (data,) in self.db.execute("SELECT data FROM rows WHERE run_id=? ORDER BY idx", (run.id,)):
                out.append({**self._labels(run), **json.loads(data)})
        return out

    # ---- verdicts
    def save_verdict(self, experiment: str, tier: str, config_hash: str, seeds: list[int], checks: list[dict],
                     overrides: dict | None = None) -> None:
        self.db.execute(
            "INSERT INTO verdicts (experiment, tier, config_hash, seeds, checks, passed, created, overrides)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (experiment, tier, config_hash, json.dumps(seeds), json.dumps(checks),
             int(all(c["passed"] for c in checks)), time.time(), json.dumps(overrides or {}, sort_keys=True)),
        )

    def last_verdict(self, experiment: str) -> dict | None:
        """The verdict to show: made without overrides (a tier's canonical verdict) before
        one made with them (whose `overrides` then say what was changed), of the
        highest tier run (paper, cpu, smoke), the most recent."""
        row = self.db.execute(
            "SELECT * FROM verdicts WHERE experiment=? ORDER BY overrides != '{}',"
            " CASE tier WHEN 'paper' THEN 0 WHEN 'cpu' THEN 1 ELSE 2 END, id DESC LIMIT 1", (experiment,)
        ).fetchone()
        if row is None:
            return None
        return {**dict(row), "seeds": json.loads(row["seeds"]), "checks": json.loads(row["checks"]),
                "overrides": json.loads(row["overrides"])}

    # ---- bench
    def log_bench(self, suite: str, rows: list[dict], device: str, code_version: str) -> None:
        with self.tx():
            self.db.executemany("INSERT INTO bench (suite, data, device, code_version, created) VALUES (?, ?, ?, ?, ?)",
                                [(suite, json.dumps(r), device, code_version, time.time()) for r in rows])

    def bench(self, suite: str) -> list[dict]:
        return [{**json.loads(r["data"]), "device": r["device"], "code_version": r["code_version"],
                 "created": r["created"]}
                for r in self.db.execute("SELECT * FROM bench WHERE suite=? ORDER BY id", (suite,))]

    @classmethod
    def existing(cls, root: str | Path | None = None, readonly: bool = False) -> "Store | None":
        """The store at `root` if it has a database, else None (for commands that only read)."""
        path = Path(root) if root is not None else default_results_dir()
        return cls(path, readonly) if (path / "complab.db").exists() else None

    def close(self) -> None:
        self.db.close()


def damaged(root: Path, e: Exception) -> ComplabError:
    return ComplabError(f"{root / 'complab.db'} is not a readable complab database ({e}); move it away to start a "
                        "new one there, or pass another directory with --results")


def _jsonable(v):
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def _describe(cell: dict) -> str:
    return "".join(f"{k}={v} " for k, v in cell.items())


def _run(row: sqlite3.Row) -> Run:
    d = dict(row)
    return Run(
        id=d["id"], experiment=d["experiment"], tier=d["tier"], config_hash=d["config_hash"],
        cell=json.loads(d["cell"]), config=json.loads(d["config"]), seed=d["seed"], status=d["status"],
        error=d["error"], failed_step=d["failed_step"], wall_s=d["wall_s"], started=d["started"], ended=d["ended"],
        code_version=d["code_version"], versions=json.loads(d["versions"] or "{}"), device=d["device"],
        pid=d["pid"], host=d["host"], owner=d["owner"], heartbeat=d["heartbeat"], session_s=d.get("session_s"),
        pid_start=d.get("pid_start"), previous=json.loads(d["previous"]) if d.get("previous") else None,
    )
