"""The results database's schema: its tables, its version and the migrations from
older versions, the columns a database must have, and opening one read-only. The
store (`store.py`) opens the database; this module knows only its shape."""

import sqlite3
from functools import lru_cache
from pathlib import Path

SCHEMA_VERSION = 4
READABLE_FROM = 3  # an older database a reader reads as it is (later versions only added nullable columns)

RUNS = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  experiment TEXT NOT NULL, tier TEXT NOT NULL, config_hash TEXT NOT NULL, cell TEXT NOT NULL DEFAULT '{}',
  config TEXT NOT NULL, seed INTEGER NOT NULL,
  status TEXT NOT NULL, error TEXT, failed_step INTEGER,
  started REAL, ended REAL, wall_s REAL,
  code_version TEXT, versions TEXT, device TEXT, pid INTEGER, host TEXT, owner TEXT, heartbeat REAL,
  session_s REAL, pid_start TEXT, previous TEXT,
  UNIQUE (experiment, config_hash, cell, seed)
);"""
SCHEMA = RUNS + """
CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL, fit TEXT NOT NULL, step INTEGER NOT NULL,
  name TEXT NOT NULL, value REAL,
  PRIMARY KEY (run_id, fit, step, name)
);
CREATE TABLE IF NOT EXISTS curves (
  run_id INTEGER NOT NULL, fit TEXT NOT NULL, step INTEGER NOT NULL,
  name TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_id, fit, step, name)
);
CREATE TABLE IF NOT EXISTS rows (
  run_id INTEGER NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS verdicts (
  id INTEGER PRIMARY KEY,
  experiment TEXT NOT NULL, tier TEXT NOT NULL, config_hash TEXT NOT NULL,
  seeds TEXT NOT NULL, checks TEXT NOT NULL, passed INTEGER NOT NULL, created REAL NOT NULL,
  overrides TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS bench (
  id INTEGER PRIMARY KEY,
  suite TEXT NOT NULL, data TEXT NOT NULL, device TEXT, code_version TEXT, created REAL NOT NULL
);
"""


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Version 1 (the first spine) had no cells, curves, leases or verdict overrides."""
    db.execute("ALTER TABLE runs RENAME TO runs_v1")
    db.execute(RUNS)
    db.execute("INSERT INTO runs (id, experiment, tier, config_hash, cell, config, seed, status, error, failed_step,"
               " started, ended, wall_s, code_version, versions, device, pid, host) SELECT id, experiment, tier,"
               " config_hash, '{}', config, seed, status, error, failed_step, started, ended, wall_s, code_version,"
               " versions, device, pid, host FROM runs_v1")
    db.execute("DROP TABLE runs_v1")
    db.execute("ALTER TABLE verdicts ADD COLUMN overrides TEXT NOT NULL DEFAULT '{}'")


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Version 3 adds the bench table (created with the schema): nothing to move."""


ADDED_IN_4 = (("runs", "session_s"), ("runs", "pid_start"), ("runs", "previous"))


def _migrate_3_to_4(db: sqlite3.Connection) -> None:
    """Version 4: the running session's seconds (kept by the heartbeat, so a killed
    session's time counts), the holder's process start time (a reused pid is not its
    holder), and the finished run a forced rerun replaces (restored if the rerun fails)."""
    have = {r[1] for r in db.execute("PRAGMA table_info(runs)")}  # a table rebuilt from version 1 has them
    for column in ("session_s REAL", "pid_start TEXT", "previous TEXT"):
        if column.split()[0] not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column}")


MIGRATIONS = {1: _migrate_1_to_2, 2: _migrate_2_to_3, 3: _migrate_3_to_4}  # from version k to k + 1


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes: `mode=ro`, or, where the directory is read-only and
    SQLite cannot make its shared-memory file, `immutable` (the last writer, when it
    closed, folded its log into the file)."""
    if not path.exists():
        raise sqlite3.OperationalError(f"{path} does not exist")
    wal = path.with_name(path.name + "-wal")
    unfolded = wal.exists() and wal.stat().st_size > 0  # `immutable` would not read what is still in the log
    error = None
    for query in ("mode=ro",) if unfolded else ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, timeout=60, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError as e:
            db.close()
            error = e
    if unfolded:
        raise sqlite3.OperationalError(f"{error}; its log {wal.name} holds writes not yet folded into it, which a "
                                       "reader of a read-only directory cannot read: copy the directory somewhere "
                                       "writable and read the copy")
    raise error


@lru_cache(maxsize=1)
def expected_columns() -> dict[str, list[str]]:
    mem = sqlite3.connect(":memory:")
    mem.executescript(SCHEMA)
    tables = [r[0] for r in mem.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: [r[1] for r in mem.execute(f"PRAGMA table_info({t})")] for t in tables}
