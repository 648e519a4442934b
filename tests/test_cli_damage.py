"""Reading commands on a read-only results directory, and damaged databases: each a
clear sentence or a normal answer, never a traceback, never a write."""

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys

import pytest

from complab.cli import main

from .conftest import FLAGSHIP


def _read_only_shell(root, mount, commands: list[list[str]]) -> subprocess.CompletedProcess:
    """Run CLI commands with `root` seen read-only at `mount` (a read-only bind mount in a
    mount namespace of their own; root can write anywhere else)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount the results read-only")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here: {probe.stderr.decode().strip()}")
    lines = [f"mount --bind {shlex.quote(str(root))} {shlex.quote(str(mount))}",
             f"mount -o remount,bind,ro {shlex.quote(str(mount))}"]
    lines += [" ".join(shlex.quote(a) for a in [sys.executable, "-m", "complab.cli", *c]) + "; echo rc=$?"
              for c in commands]
    return subprocess.run(["unshare", "-m", "sh", "-c", " && ".join(lines[:2]) + "; " + "; ".join(lines[2:])],
                          capture_output=True, text=True, timeout=300)


def test_reading_commands_work_on_a_read_only_results_directory(smoke_results, tmp_path):
    root, _ = smoke_results
    copy, mount, site = tmp_path / "copy", tmp_path / "ro", tmp_path / "site"
    shutil.copytree(root, copy)
    mount.mkdir()
    before = (copy / "complab.db").read_bytes()
    r = "--results", str(mount)
    out = _read_only_shell(copy, mount, [["results", FLAGSHIP, *r, "--format", "csv"], ["list", *r],
                                         ["show", FLAGSHIP, *r], ["report", "--html", str(site), *r],
                                         ["report", *r]])
    codes = [line for line in out.stdout.splitlines() if line.startswith("rc=")]
    assert codes == ["rc=0"] * 4 + ["rc=2"], out.stdout + out.stderr
    assert "seed" in out.stdout and FLAGSHIP in out.stdout and (site / "index.html").exists()
    assert "cannot write the report to" in out.stderr and "--out" in out.stderr and "Traceback" not in out.stderr
    assert (copy / "complab.db").read_bytes() == before


def _error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_a_database_damaged_inside_is_one_sentence(smoke_results, tmp_path, capsys):
    root, _ = smoke_results
    shutil.copy(root / "complab.db", tmp_path / "complab.db")
    db = sqlite3.connect(tmp_path / "complab.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    with open(tmp_path / "complab.db", "r+b") as f:  # garbage over every page but the first
        f.seek(page)
        f.write(b"\xa5" * page * (pages - 1))
    for argv in (["results", FLAGSHIP], ["run", FLAGSHIP, "--tier", "smoke"], ["report"]):
        err = _error(capsys, [*argv, "--results", str(tmp_path)])
        assert "complab.db" in err or "results database" in err, err
        assert "damaged" in err or "not a readable complab database" in err, err
