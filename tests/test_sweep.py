"""Sweeps: grid parsing, the local pool's retries, a sweep of 2 grid values x 2 seeds
on each backend (equal rows, reuse on relaunch, one verdict per grid point), and bad
sweep inputs as one sentence that loses nothing stored."""

import importlib.util
import sqlite3
import sys

import pytest
from rich.console import Console

from complab import experiments, runner
from complab.cli import main
from complab.errors import ComplabError
from complab.store import Store
from complab.sweeps import driver, grid, local

QUIET = Console(quiet=True)
# each (point, seed) is a process: an experiment without JAX programs, so that the sweep's machinery is what the
# test spends its time on (the rows' bit-identity across processes with compiled programs: test_campaign, test_runner)
EXP, GRID, SEEDS = "ea_mutation_schedules", {"wrong": ["10", "5"]}, [0, 1]


def test_grid_values_split_on_commas_outside_brackets():
    assert grid.parse(["a=1,2", "b.c=[2,8],[4]"]) == {"a": ["1", "2"], "b.c": ["2,8", "4"]}
    assert grid.points({"a": ["1", "2"], "b": ["x"]}) == [{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]
    assert grid.points({}) == [{}]
    for bad, says in [(["a="], "empty value"), (["a=1,,2"], "empty value"), (["=1"], "not of the form"),
                      (["a=1,1"], "repeats a value"), (["a=1", "a=2"], "names a twice"), (["a=[1,2"], "unbalanced")]:
        with pytest.raises(ComplabError, match=says):
            grid.parse(bad)


def test_the_local_pool_retries_a_crashed_worker_and_not_a_failed_trial(tmp_path):
    flaky = tmp_path / "crashed-once"
    script = {  # crashes on its first try only; fails for good (code 3: stored, not retried); always crashes
        "flaky": f"import os,pathlib,sys; p=pathlib.Path({str(flaky)!r}); "
                 "(p.touch(), os._exit(9)) if not p.exists() else sys.exit(0)",
        "failed": "import sys; sys.exit(3)",
        "dead": "import os; os._exit(9)",
    }
    jobs = [local.Job(k, [sys.executable, "-c", s], tmp_path / f"{k}.log") for k, s in script.items()]
    events = []
    codes = local.run(jobs, workers=2, retries=2, final=(0, 3, 130),
                      on_event=lambda kind, job, code: events.append((kind, job.key, code)))
    assert codes == {"flaky": 0, "failed": 3, "dead": 9}
    tries = {j.key: j.tries for j in jobs}
    assert tries == {"flaky": 2, "failed": 1, "dead": 3}
    assert sum(e[0] == "retry" for e in events) == 3 and sum(e[0] == "end" for e in events) == 3


def _rows(root, point):
    store = Store(root)
    exp = experiments.load(EXP)
    runs, missing = runner.stored_runs(exp, runner.resolve_config(exp, "smoke", point), SEEDS, store)
    assert not missing
    return sorted(store.rows(runs), key=lambda r: (r["seed"], str(r)))


def test_a_sweep_runs_every_point_and_seed_judges_each_reuses_on_relaunch_and_ray_agrees(tmp_path_factory):
    """One test, so that its sweep is made once (a fixture shared by several tests is made again on each xdist
    worker that runs one of them)."""
    root = tmp_path_factory.mktemp("sweep")
    outs = driver.sweep(EXP, tier="smoke", seeds=SEEDS, grid=GRID, results=root, workers=2, console=QUIET)
    # every point and seed, one verdict per point
    assert [o.point for o in outs] == [{"wrong": "10"}, {"wrong": "5"}]
    cells = len(experiments.load(EXP).cell_list(runner.resolve_config(
        experiments.load(EXP), "smoke", {})))
    for o in outs:
        assert not o.outcome.failures and len(o.outcome.runs) == cells * len(SEEDS)
        assert sorted({r.seed for r in o.outcome.runs}) == SEEDS
    db = sqlite3.connect(root / "complab.db")
    verdicts = db.execute("SELECT overrides, seeds FROM verdicts WHERE experiment=?", (EXP,)).fetchall()
    assert sorted(verdicts) == sorted([('{"wrong": "10"}', "[0, 1]"), ('{"wrong": "5"}', "[0, 1]")])
    # the same config and seed run directly give bit-identical rows
    direct = runner.run(EXP, tier="smoke", seeds=[1], overrides={"wrong": "5"},
                        results=tmp_path_factory.mktemp("direct"), console=QUIET)
    assert sorted(direct.rows, key=str) == sorted([r for r in _rows(root, {"wrong": "5"}) if r["seed"] == 1],
                                                  key=str)
    # a relaunched sweep reuses every finished trial and judges alike
    ended = {r.id: r.ended for r in Store(root).runs(EXP)}
    again = driver.sweep(EXP, tier="smoke", seeds=SEEDS, grid=GRID, results=root, console=QUIET)
    assert {r.id: r.ended for r in Store(root).runs(EXP)} == ended
    assert [[c.passed for c in o.outcome.checks] for o in again] == [[c.passed for c in o.outcome.checks]
                                                                     for o in outs]
    # the Ray backend gives the local sweep's rows (Ray comes with the test extra; without it this part is left out)
    if importlib.util.find_spec("ray") is None:
        return
    elsewhere = tmp_path_factory.mktemp("ray")
    outs = driver.sweep(EXP, tier="smoke", seeds=SEEDS, grid=GRID, results=elsewhere, backend="ray", workers=2,
                        console=QUIET)
    assert all(not o.outcome.failures for o in outs)
    for point in grid.points(GRID):
        assert _rows(elsewhere, point) == _rows(root, point)


@pytest.mark.parametrize("argv,fragment", [
    (["--grid", "wron=1,2"], "unknown config key 'wron' (did you mean 'wrong'?)"),
    (["--grid", "wrong="], "--grid wrong has an empty value"),
    (["--grid", "wrong=x,1"], "config key 'wrong' takes a float, not 'x'"),
    (["--backend", "ray", "--address", "127.0.0.1:9"], "cannot reach the Ray cluster at '127.0.0.1:9'"),
    (["--address", "127.0.0.1:9"], "--address names a Ray cluster; use it with --backend ray"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--set", "wrong=2", "--grid", "wrong=3,4"], "wrong is both set (--set) and swept (--grid)"),
    (["--grid", "wrong=5,5.0"], "grid points wrong=5 and wrong=5.0 share runs"),
    (["--seeds", "0", "--num-seeds", "2"], "not allowed with argument --seeds"),
])
def test_bad_sweep_input_is_one_sentence_and_loses_nothing(capsys, smoke_results, argv, fragment):
    root, _ = smoke_results  # a results folder with runs in it (the session's own; a sweep's would be built again
    # on each worker that runs one of these)
    if "ray" in argv:
        pytest.importorskip("ray")
    dump = "\n".join(sqlite3.connect(root / "complab.db").iterdump())
    try:
        code = main(["sweep", EXP, "--tier", "smoke", *argv, "--results", str(root)])
        usage = False
    except SystemExit as e:  # argparse's own refusal: its usage line, then the sentence
        code, usage = e.code, True
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in err and fragment in last, err
    assert usage or err.count("\n") == 1, err
    assert "\n".join(sqlite3.connect(root / "complab.db").iterdump()) == dump


def test_the_python_api_writes_grid_values_as_the_command_line_does():
    from complab import api

    assert [api._grid_value(v) for v in [(2, 8), [0.1, 1.0], 0.5, "x"]] == ["2,8", "0.1,1.0", "0.5", "x"]
    assert grid.parse([f"lrs=[{api._grid_value((0.1, 1.0))}]"]) == {"lrs": ["0.1,1.0"]}


def test_an_interrupted_point_gets_no_verdict_and_a_claim_that_raises_stops_no_other_point(tmp_path, monkeypatch):
    from complab.sweeps import trial as trials

    def fake_pool(jobs, workers, retries, final, on_event, env=None):  # no worker runs anything
        for job in jobs:
            on_event("start", job, None)
            interrupted = trials.Trial.from_json(job.argv[-1]).overrides == {"wrong": "5"}
            on_event("end", job, trials.INTERRUPTED if interrupted else trials.DONE)
        return {}

    def raising(*args, **kwargs):
        raise ValueError("a bug in expect")

    monkeypatch.setattr(local, "run", fake_pool)
    monkeypatch.setattr(runner, "conclude", raising)
    outs = driver.sweep(EXP, tier="smoke", seeds=[0], grid=GRID, results=tmp_path, console=QUIET)
    by_point = {o.point["wrong"]: o for o in outs}
    assert by_point["5"].outcome.checks == [] and not by_point["5"].passed
    assert any("interrupted" in c for c in by_point["5"].crashed)
    # the other point's claim raised: it says so, and the sweep still answered for every point
    (check,) = by_point["10"].outcome.checks
    assert not check.passed and "a bug in expect" in check.measured and not by_point["10"].passed
    assert sqlite3.connect(tmp_path / "complab.db").execute("SELECT count(*) FROM verdicts").fetchone()[0] == 0
