"""The results database: SQLite in WAL mode at <results>/complab.db, plus run
directories (checkpoints) and figures beside it. It knows no experiment.

A run is keyed by (experiment, config hash, seed). Every write commits at once, so
what was stored survives a crash; a run interrupted while "running" is picked up
again by the next `begin`, and its checkpoints let training resume. `begin` claims a
run inside one write transaction and records the process that holds it, so two
processes never train the same run at once.

Tables: runs (one row per experiment x config x seed, with config JSON, status,
times, code and package versions, device, the step a failed run stopped at),
metrics (training curves: run, fit, step, name, value), rows (the final tidy rows as
JSON), verdicts (the claim checks evaluated over a set of seeds).
"""

import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from complab.errors import ComplabError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  experiment TEXT NOT NULL, tier TEXT NOT NULL, config_hash TEXT NOT NULL,
  config TEXT NOT NULL, seed INTEGER NOT NULL,
  status TEXT NOT NULL, error TEXT, failed_step INTEGER,
  started REAL, ended REAL, wall_s REAL,
  code_version TEXT, versions TEXT, device TEXT, pid INTEGER, host TEXT,
  UNIQUE (experiment, config_hash, seed)
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL, fit TEXT NOT NULL, step INTEGER NOT NULL,
  name TEXT NOT NULL, value REAL,
  PRIMARY KEY (run_id, fit, step, name)
);
CREATE TABLE IF NOT EXISTS rows (
  run_id INTEGER NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS verdicts (
  id INTEGER PRIMARY KEY,
  experiment TEXT NOT NULL, tier TEXT NOT NULL, config_hash TEXT NOT NULL,
  seeds TEXT NOT NULL, checks TEXT NOT NULL, passed INTEGER NOT NULL, created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Run:
    id: int
    experiment: str
    tier: str
    config_hash: str
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


def default_results_dir() -> Path:
    return Path(os.environ.get("COMPLAB_RESULTS", "results"))


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_results_dir()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root):
                pass
            self.db = sqlite3.connect(self.root / "complab.db", timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise ComplabError(
                f"cannot write results to {self.root} ({e.__class__.__name__}: {e}); "
                "pass a writable directory with --results or $COMPLAB_RESULTS"
            ) from None
        self.db.row_factory = sqlite3.Row

    # ---- runs
    def run_dir(self, run: Run) -> Path:
        return self.root / "runs" / run.experiment / run.config_hash / f"seed{run.seed}"

    def find(self, experiment: str, config_hash: str, seed: int) -> Run | None:
        row = self.db.execute(
            "SELECT * FROM runs WHERE experiment=? AND config_hash=? AND seed=?", (experiment, config_hash, seed)
        ).fetchone()
        return _run(row) if row else None

    def begin(self, experiment: str, tier: str, config: dict, config_hash: str, seed: int, meta: dict,
              fresh: bool = False) -> Run:
        """Claim the run to execute: a new one, or the stored one reset to "running"
        (checkpoints, metrics and rows kept until `finish` replaces the rows).
        `fresh` (for --force) restarts its wall-time count; otherwise `wall_s` adds up
        over the sessions that ended in `finish` or `fail` (a killed session's time
        is not known)."""
        now, me = time.time(), (os.getpid(), socket.gethostname())
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # one claimant at a time, across processes
            existing = self.find(experiment, config_hash, seed)
            if existing is None:
                self.db.execute(
                    "INSERT INTO runs (experiment, tier, config_hash, config, seed, status, started, code_version,"
                    " versions, device, pid, host) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    (experiment, tier, config_hash, json.dumps(config), seed, now, meta["code_version"],
                     json.dumps(meta["versions"]), meta["device"], *me),
                )
            elif _held_elsewhere(existing):
                raise ComplabError(
                    f"{experiment} seed {seed} is being run by process {existing.pid} on this machine; "
                    "wait for it to finish or stop it"
                )
            else:
                self.db.execute(
                    "UPDATE runs SET status='running', error=NULL, failed_step=NULL, started=?, ended=NULL,"
                    " tier=?, code_version=?, versions=?, device=?, pid=?, host=?"
                    + (", wall_s=NULL" if fresh else "") + " WHERE id=?",
                    (now, tier, meta["code_version"], json.dumps(meta["versions"]), meta["device"], *me,
                     existing.id),
                )
        return self.find(experiment, config_hash, seed)

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
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM rows WHERE run_id=?", (run.id,))
            self.db.executemany(
                "INSERT INTO rows (run_id, idx, data) VALUES (?, ?, ?)",
                [(run.id, i, json.dumps(r)) for i, r in enumerate(rows)],
            )
            self.db.execute(
                "UPDATE runs SET status='done', ended=?, wall_s=COALESCE(wall_s, 0) + ? WHERE id=?",
                (time.time(), wall_s, run.id),
            )

    def fail(self, run: Run, status: str, error: str, step: int | None, wall_s: float) -> None:
        self.db.execute(
            "UPDATE runs SET status=?, error=?, failed_step=?, ended=?, wall_s=COALESCE(wall_s, 0) + ? WHERE id=?",
            (status, error, step, time.time(), wall_s, run.id),
        )

    def runs(self, experiment: str | None = None) -> list[Run]:
        q, args = "SELECT * FROM runs", ()
        if experiment:
            q, args = q + " WHERE experiment=?", (experiment,)
        return [_run(r) for r in self.db.execute(q + " ORDER BY id", args)]

    # ---- metrics and rows
    def log_metrics(self, run: Run, fit: str, step: int, values: dict[str, float]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO metrics (run_id, fit, step, name, value) VALUES (?, ?, ?, ?, ?)",
            [(run.id, fit, step, k, float(v)) for k, v in values.items()],
        )

    def metrics(self, run: Run) -> list[dict]:
        cur = self.db.execute("SELECT fit, step, name, value FROM metrics WHERE run_id=? ORDER BY fit, step", (run.id,))
        return [dict(r) for r in cur]

    def rows(self, runs: list[Run]) -> list[dict]:
        """Final rows of these runs, each with its run's seed."""
        out = []
        for run in runs:
            for (data,) in self.db.execute("SELECT data FROM rows WHERE run_id=? ORDER BY idx", (run.id,)):
                out.append({"seed": run.seed, **json.loads(data)})
        return out

    # ---- verdicts
    def save_verdict(self, experiment: str, tier: str, config_hash: str, seeds: list[int], checks: list[dict]) -> None:
        self.db.execute(
            "INSERT INTO verdicts (experiment, tier, config_hash, seeds, checks, passed, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (experiment, tier, config_hash, json.dumps(seeds), json.dumps(checks),
             int(all(c["passed"] for c in checks)), time.time()),
        )

    def last_verdict(self, experiment: str) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM verdicts WHERE experiment=? ORDER BY id DESC LIMIT 1", (experiment,)
        ).fetchone()
        if row is None:
            return None
        return {**dict(row), "seeds": json.loads(row["seeds"]), "checks": json.loads(row["checks"])}

    @classmethod
    def existing(cls, root: str | Path | None = None) -> "Store | None":
        """The store at `root` if it has a database, else None (for commands that only read)."""
        path = Path(root) if root is not None else default_results_dir()
        return cls(path) if (path / "complab.db").exists() else None

    def close(self) -> None:
        self.db.close()


def _run(row: sqlite3.Row) -> Run:
    d = dict(row)
    return Run(
        id=d["id"], experiment=d["experiment"], tier=d["tier"], config_hash=d["config_hash"],
        config=json.loads(d["config"]), seed=d["seed"], status=d["status"], error=d["error"],
        failed_step=d["failed_step"], wall_s=d["wall_s"], started=d["started"], ended=d["ended"],
        code_version=d["code_version"], versions=json.loads(d["versions"] or "{}"), device=d["device"],
        pid=d["pid"], host=d["host"],
    )


def _held_elsewhere(run: Run) -> bool:
    """Whether another live process on this machine holds this running run."""
    if run.status != "running" or run.host != socket.gethostname() or run.pid in (None, os.getpid()):
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

