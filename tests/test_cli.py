"""The CLI: bad input ends in one sentence naming what was wrong and what is allowed."""

import dataclasses
import json

import pytest

from complab import api, experiments
from complab.cli import _marked, main
from complab.experiments.base import Check

from .conftest import FLAGSHIP


def _error(capsys, argv, results):
    code = main([*argv, "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["run", "nope"], f"unknown experiment 'nope'; known experiments are: {', '.join(experiments.ids())}"),
        (["show", "nope"], "unknown experiment 'nope'"),
        (["run", FLAGSHIP, "--tier", "huge"], f"unknown tier 'huge' for {FLAGSHIP}; tiers are: smoke, cpu, paper"),
        (["run", FLAGSHIP, "--set", "lsa.lrr=1"], "unknown config key 'lsa.lrr' (did you mean 'lsa.lr'?)"),
        (["run", FLAGSHIP, "--set", "lsa.steps=many"], "config key 'lsa.steps' takes a int"),
        (["run", FLAGSHIP, "--set", "lsa.steps"], "not of the form key.path=value"),
        (["run", FLAGSHIP, "--seeds", "0,a"], "--seeds takes comma-separated integers"),
        (["run", FLAGSHIP, "--seeds", ","], "no seeds given"),
        (["run", FLAGSHIP, "--seeds", "0,0"], "seeds must be distinct, got [0, 0]"),
        (["run", FLAGSHIP, "--seeds", "-1"], "seeds must be integers in [0, 2^32)"),
        (["run", FLAGSHIP, "--set", "neurons=4,4"], "neurons must list at least two distinct positive counts"),
        (["run", FLAGSHIP, "--set", "neurons=8"], "neurons must list at least two distinct positive counts"),
        (["run", FLAGSHIP, "--set", "batch_size=0"], "batch_size, construction_heads and construction_len must be "
         ">= 1, got 0"),
        (["run", FLAGSHIP, "--set", "eval_batch=3"], "eval_batch must be >= 4"),
        (["run", FLAGSHIP, "--set", "lsa.lr=-1"], "in 'lsa': lr must be > 0, got -1.0"),
        (["run", FLAGSHIP, "--set", "rnn.b1=2"], "in 'rnn': b1 and b2 must be in [0, 1), got 2.0"),
        (["run", FLAGSHIP, "--set", "lsa.lr=nan"], "config key 'lsa.lr' must be a finite number"),
        (["run", FLAGSHIP, "--tier", "smoke", "--set", "task.dim=0"], "linear regression needs dim >= 1"),
        (["run", FLAGSHIP, "--num-seeds", "10000000000"], "--num-seeds must be between 1 and 10000, got 10000000000"),
        (["run", FLAGSHIP, "--num-seeds", "-3"], "--num-seeds must be between 1 and 10000, got -3"),
        (["run", FLAGSHIP, "--checkpoint-s", "nan"], "--checkpoint-s must be a finite number of seconds >= 0"),
        (["bench", "mixers", "--lengths", "4,x"], "lengths and widths are comma-separated integers"),
    ],
)
def test_bad_input_is_one_sentence(capsys, tmp_path, argv, fragment):
    assert fragment in _error(capsys, argv, tmp_path)


def test_unwritable_results_dir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _error(capsys, ["run", FLAGSHIP, "--tier", "smoke"], blocker / "sub")
    assert "cannot write results to" in err


def test_bad_input_stores_nothing(capsys, tmp_path):
    _error(capsys, ["run", FLAGSHIP, "--set", "task.dim=0"], tmp_path)
    assert not (tmp_path / "complab.db").exists()  # refused before a run was opened


def test_reading_commands_create_nothing(capsys, tmp_path):
    for argv in (["list"], ["show", FLAGSHIP], ["results", FLAGSHIP]):
        assert main([*argv, "--results", str(tmp_path / "none")]) == 0
    assert not (tmp_path / "none").exists()


def test_list_show_results_report(capsys, smoke_results):
    root, _ = smoke_results
    assert main(["list", "--results", str(root)]) == 0
    assert FLAGSHIP in capsys.readouterr().out
    assert main(["show", FLAGSHIP, "--results", str(root)]) == 0
    out = capsys.readouterr().out
    assert "lsa.lr" in out and "Last verdict (smoke" in out
    assert main(["results", FLAGSHIP, "--format", "json", "--results", str(root)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["model"] == "lsa" and r["metric"] == "construction_error" for r in rows)
    assert main(["results", FLAGSHIP, "--format", "csv", "--results", str(root)]) == 0
    assert capsys.readouterr().out.startswith("tier,config_hash,seed,")
    assert main(["report", "--results", str(root)]) == 0
    report = (root / "report.md").read_text()
    assert "construction: gated RNN == LSA" in report and (root / "figures" / f"{FLAGSHIP}.png").stat().st_size > 0


@pytest.mark.parametrize("passed", [True, False])
def test_check_flag_sets_the_exit_code(smoke_results, capsys, monkeypatch, passed):
    _, out = smoke_results
    checks = [Check("a claim", passed, "measured 1.0")]
    monkeypatch.setattr(api, "run", lambda *a, **k: dataclasses.replace(out, checks=checks))
    assert main(["run", FLAGSHIP, "--check"]) == (0 if passed else 1)
    assert main(["run", FLAGSHIP]) == 0  # without --check a failed claim is not an error
    assert "measured: measured 1.0" in capsys.readouterr().out


def test_a_failed_cell_is_reported_and_the_others_go_on(capsys, tmp_path):
    code = main(["run", FLAGSHIP, "--tier", "smoke", "--set", "rnn.lr=1e30", "--results", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert "neurons=8: the loss of 'rnn' became non-finite at step" in captured.err
    assert "the claim could not be evaluated" in captured.out
    statuses = {(r.cell.get("model"), r.status) for r in api.Store(tmp_path).runs(FLAGSHIP)}
    assert ("lsa", "done") in statuses and ("imitation", "done") in statuses and ("rnn", "failed") in statuses


def test_a_verdict_made_with_overrides_is_marked(capsys, smoke_results, tmp_path):
    root, _ = smoke_results
    api.run("ea_mutation_schedules", tier="smoke", seeds=[0], overrides={"wrong": "5"}, results=tmp_path)  # no JAX
    verdict = api.last_verdicts(tmp_path)["ea_mutation_schedules"]
    assert _marked(verdict) == ", with overrides wrong=5"
    assert _marked(api.last_verdicts(root)[FLAGSHIP]) == ""  # the tier's own verdict


def test_results_as_json_write_non_finite_values_as_null(capsys, monkeypatch):
    rows = [{"seed": 0, "metric": "loss", "value": float("nan")}, {"seed": 0, "metric": "curve",
                                                                   "value": [1.0, float("inf")]}]
    monkeypatch.setattr(api, "results", lambda *a, **k: rows)
    assert main(["results", FLAGSHIP, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"seed": 0, "metric": "loss", "value": None},
                                                   {"seed": 0, "metric": "curve", "value": [1.0, None]}]
