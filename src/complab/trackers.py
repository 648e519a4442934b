"""Optional sinks for the metrics the store keeps: TensorBoard event files, Weights &
Biases (offline: no network needed, `wandb sync` uploads later) and MLflow (a local
SQLite file, `<results>/trackers/mlflow.db`: MLflow has retired its directory store).
`complab run --tracker tensorboard` (repeatable; `sweep` takes it too).

The store stays the record; a tracker gets a copy of each training chunk's metrics
(`<fit>/<name>` at the fit's step) and of each scalar evaluation (`<fit>/eval/<name>`),
one tracker run per (experiment, config, cell, seed), written under
`<results>/trackers/<name>/`. A tracker that fails to write warns once and is dropped:
it never stops a run.
"""

import time
import warnings
from pathlib import Path

from complab.errors import ComplabError

NAMES = ("tensorboard", "wandb", "mlflow")
EXTRA = {"tensorboard": "tensorboardX", "wandb": "wandb", "mlflow": "mlflow"}


def check(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The tracker names, each known and importable, else one sentence saying what to install."""
    import importlib.util

    for name in names:
        if name not in NAMES:
            raise ComplabError(f"unknown tracker {name!r}; trackers are: {', '.join(NAMES)}")
        if importlib.util.find_spec(EXTRA[name]) is None:
            raise ComplabError(f"the {name} tracker needs the package {EXTRA[name]}: "
                               "pip install 'complab[trackers]'")
    return tuple(dict.fromkeys(names))


def run_name(run) -> str:
    cell = ",".join(f"{k}={v}" for k, v in sorted(run.cell.items())) or "all"
    return f"{run.experiment}/{run.config_hash}/{cell}/seed{run.seed}"


class TensorBoard:
    def __init__(self, root: Path, run):
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(logdir=str(root / "tensorboard" / run_name(run)), flush_secs=5)

    def log(self, fit: str, step: int, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.writer.add_scalar(f"{fit}/{k}", v, step)

    def close(self) -> None:
        self.writer.close()


class WandB:
    def __init__(self, root: Path, run):
        import wandb

        path = root / "wandb"
        path.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(mode="offline", dir=str(path), project="complab", group=run.experiment,
                              name=run_name(run), config={"cell": run.cell, "seed": run.seed, **run.config},
                              reinit="create_new", settings=wandb.Settings(silent=True, console="off"))

    def log(self, fit: str, step: int, values: dict[str, float]) -> None:
        # each fit counts its own steps (W&B's own step must only grow): the fit's step is a value beside them
        self.run.log({f"{fit}/step": step, **{f"{fit}/{k}": v for k, v in values.items()}})

    def close(self) -> None:
        self.run.finish()


class MLflow:
    def __init__(self, root: Path, run):
        from mlflow.tracking import MlflowClient

        import fcntl

        root.mkdir(parents=True, exist_ok=True)  # MLflow's database backend: its file store is retired
        uri = f"sqlite:///{(root / 'mlflow.db').resolve()}"
        with open(root / "mlflow.lock", "w") as lock:  # sweep workers: one creates the tables and the experiment
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            exp = self.client.get_experiment_by_name(run.experiment)
            exp_id = exp.experiment_id if exp else self.client.create_experiment(run.experiment)
        self.run_id = self.client.create_run(exp_id, run_name=run_name(run),
                                             tags={"seed": str(run.seed), "config_hash": run.config_hash}).info.run_id

    def log(self, fit: str, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(f"{fit}/{k}", v, now, step) for k, v in values.items()])

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


SINKS = {"tensorboard": TensorBoard, "wandb": WandB, "mlflow": MLflow}


class Trackers:
    """The open trackers of one run; `log` copies metrics to each, dropping one that fails."""

    def __init__(self, names: tuple[str, ...], results: Path, run):
        self.sinks = {}
        for name in names:
            try:
                self.sinks[name] = SINKS[name](Path(results) / "trackers", run)
            except Exception as e:  # noqa: BLE001 - a tracker never stops a run
                warnings.warn(f"the {name} tracker could not start ({type(e).__name__}: {e}); the run goes on "
                              "without it", stacklevel=2)

    def log(self, fit: str, step: int, values: dict) -> None:
        scalars = {k: float(v) for k, v in values.items() if _scalar(v)}
        for name, sink in list(self.sinks.items()):
            try:
                sink.log(fit, step, scalars)
            except Exception as e:  # noqa: BLE001
                warnings.warn(f"the {name} tracker failed ({type(e).__name__}: {e}) and is dropped; the store "
                              "keeps every metric", stacklevel=2)
                del self.sinks[name]

    def close(self) -> None:
        for sink in self.sinks.values():
            try:
                sink.close()
            except Exception:  # noqa: BLE001, S110 - closing a copy must not fail a finished run
                pass


def _scalar(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
