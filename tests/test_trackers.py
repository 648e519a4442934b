"""Trackers: what each sink wrote, read back with the sink's own reader, equals the
store's metrics and scalar evaluations; a failing sink is dropped, the run goes on."""

import struct

import pytest
from rich.console import Console

from complab import experiments, runner, trackers
from complab.errors import ComplabError
from complab.store import Store

EXP = "kohonen_vq"  # four cells whose smoke-tier fits compile in seconds


def _stored(root) -> dict:
    """{(run name, key): {step: value}} of the store: metrics as `fit/name`, curves as `fit/eval/name`."""
    store = Store(root)
    out: dict = {}
    for run in store.runs(EXP):
        name = trackers.run_name(run)
        for m in store.metrics(run):
            out.setdefault((name, f"{m['fit']}/{m['name']}"), {})[m["step"]] = m["value"]
        for c in store.curves([run]):
            out.setdefault((name, f"{c['fit']}/eval/{c['name']}"), {})[c["step"]] = c["value"]
    return out


def _run(tmp_path, name):
    pytest.importorskip(trackers.EXTRA[name])
    runner.run(EXP, tier="smoke", seeds=[0], results=tmp_path, trackers=(name,), console=Console(quiet=True))
    expected = _stored(tmp_path)
    exp = experiments.load(EXP)
    assert expected and len({k[0] for k in expected}) == len(exp.cell_list(runner.resolve_config(exp, "smoke", {})))
    return expected


def test_tensorboard_event_files_hold_the_stored_metrics(tmp_path):
    expected = _run(tmp_path, "tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = {}
    for run_name in {k[0] for k in expected}:
        acc = EventAccumulator(str(tmp_path / "trackers" / "tensorboard" / run_name))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            found[run_name, tag] = {e.step: e.value for e in acc.Scalars(tag)}
    assert found.keys() == expected.keys()
    for k, points in expected.items():
        assert found[k] == pytest.approx(points, rel=1e-6), k  # event files hold float32


def _wandb_records(path):
    """The records of a W&B offline run file (a LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B" and struct.unpack("<H", data[4:6])[0] == 0xBEE1
    pos, buf, out = 7, b"", []
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):  # a block's padding
            pos += left
            continue
        buf, pos = buf + data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a whole record, or its last piece
            record = pb.Record()
            record.ParseFromString(buf)
            out.append(record)
            buf = b""
    return out


def test_wandb_offline_runs_hold_the_stored_metrics(tmp_path):
    import json

    expected = _run(tmp_path, "wandb")
    found = {}
    for path in (tmp_path / "trackers" / "wandb").glob("wandb/offline-run-*/run-*.wandb"):
        records = _wandb_records(path)
        (name,) = [r.run.display_name for r in records if r.WhichOneof("record_type") == "run"]
        for r in records:
            if r.WhichOneof("record_type") != "history":
                continue
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            (step_key,) = [k for k in items if k.endswith("/step")]
            fit = step_key.removesuffix("/step")
            for k, v in items.items():
                if k.startswith(fit + "/") and k != step_key:
                    found.setdefault((name, k), {})[items[step_key]] = v
    assert found == expected


def test_mlflow_runs_hold_the_stored_metrics(tmp_path):
    expected = _run(tmp_path, "mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'trackers' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = {}
    for run in client.search_runs([client.get_experiment_by_name(EXP).experiment_id]):
        for key in run.data.metrics:
            found[run.info.run_name, key] = {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}
    assert found == expected


def test_a_failing_tracker_is_dropped_and_the_run_goes_on(tmp_path, monkeypatch):
    class Broken:
        def __init__(self, root, run):
            pass

        def log(self, fit, step, values):
            raise OSError("disk full")

    monkeypatch.setitem(trackers.SINKS, "tensorboard", Broken)
    with pytest.warns(UserWarning, match="the tensorboard tracker failed .*disk full.* is dropped"):
        out = runner.run(EXP, tier="smoke", seeds=[0], results=tmp_path, trackers=("tensorboard",),
                         console=Console(quiet=True))
    assert not out.failures and _stored(tmp_path)


def test_unknown_or_missing_trackers_are_one_sentence():
    with pytest.raises(ComplabError, match="unknown tracker 'neptune'; trackers are: tensorboard, wandb, mlflow"):
        trackers.check(["neptune"])
