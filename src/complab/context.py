"""What an experiment's `run` trains through: `Context.fit` (checkpoints, resume,
metrics and curves into the store, copies to trackers, a progress bar per fit), and
the `Heartbeat` that keeps a run's lease and its session's seconds while it runs.
Anything with the same `fit` can drive an experiment (the bench does)."""

import sqlite3
import threading
import time
from typing import Any, Callable

import jax
from rich.console import Console
from rich.progress import Progress, TaskID

from complab.errors import ComplabError
from complab.learners.base import AbstractLearner
from complab.store import Run, Store, cell_key
from complab.trackers import Trackers
from complab.training import fit

HEARTBEAT_S = 15.0


class Heartbeat:
    """Renews a run's lease from a thread of its own (and its own connection) while it runs,
    and keeps its session's seconds, so that a killed session's time still counts."""

    def __init__(self, store: Store, run: Run):
        self.path, self.run_id, self.owner = store.root / "complab.db", run.id, store.owner
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            while not self.stop.wait(HEARTBEAT_S):
                try:
                    db.execute("UPDATE runs SET heartbeat=?, session_s=? WHERE id=? AND owner=?",
                               (time.time(), time.monotonic() - self.t0, self.run_id, self.owner))
                except sqlite3.Error:
                    pass  # a busy database: the next beat renews the lease (LEASE_S spans several beats)
        finally:
            db.close()

    def close(self) -> None:
        self.stop.set()


class Context:
    """What an experiment's `run` uses to train: `ctx.fit(...)`."""

    def __init__(self, store: Store, run: Run, progress: Progress, console: Console, checkpoint_s: float,
                 overall: TaskID | None = None, trackers: Trackers | None = None):
        self.store, self.run, self.progress, self.console = store, run, progress, console
        self.trackers = trackers
        self.t0 = time.monotonic()  # the session's start, for its running wall time
        self.overall = overall
        self.fits: set[str] = set()
        self.dir = store.run_dir(run)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_s = checkpoint_s

    def fit(self, name: str, learner: AbstractLearner, state: Any, data: Any = None, *, key: jax.Array, steps: int,
            batch_size: int | None = None, split: str = "train",
            evaluate: Callable[[jax.Array, Any], dict] | None = None, eval_at: tuple[int, ...] = (),
            checkpoint: bool = True) -> Any:
        """Train `state` for `steps` steps, resumably, and return it.

        `data` is a task (batches of `batch_size` from its `split`), a function
        `(key, step) -> batch`, or None (the learner makes its own evaluations).
        `evaluate(key, state) -> {name: value}` runs (jitted) at the steps `eval_at`;
        its values are stored as curves. `name` must be unique within the run: it
        names the checkpoint, the metrics and the curves, and seeds the fit's keys.
        `checkpoint=False` writes none, for a fit of seconds whose state is large (an
        interruption then retrains it from step 0).
        """
        if name in self.fits:
            raise ComplabError(f"two trainings in one run of {self.run.experiment} are both named {name!r}; "
                               "each needs its own name (check the config for repeated values)")
        self.fits.add(name)
        cell = " ".join(f"{k}={v}" for k, v in self.run.cell.items())
        label = f"seed {self.run.seed} · {cell + ' · ' if cell else ''}{name}"
        bar = self.progress.add_task(label, total=steps, loss="", rate="")
        t_start, last = time.monotonic(), {}

        def on_chunk(step: int, metrics: dict[str, float], seconds: float) -> None:
            self.store.log_metrics(self.run, name, step, metrics, session_s=time.monotonic() - self.t0)
            if self.trackers:
                self.trackers.log(name, step, metrics)
            last.update(metrics, step=step)
            new = step - self.progress.tasks[bar].completed
            self.progress.update(bar, completed=step, loss=f"loss {metrics['loss']:.4g}",
                                 rate=f"{new / max(seconds, 1e-9):.0f} steps/s")
            self._advance_overall(new)

        def on_eval(step: int, values: dict) -> None:
            self.store.log_curve(self.run, name, step, values)
            if self.trackers:
                self.trackers.log(f"{name}/eval", step, values)

        state = fit(learner, state, data, key=key, steps=steps, batch_size=batch_size, split=split,
                    evaluate=evaluate, eval_at=eval_at, checkpoint=self.dir / f"{name}.eqx" if checkpoint else None,
                    checkpoint_s=self.checkpoint_s, on_chunk=on_chunk, on_eval=on_eval, name=name,
                    identity=f"{self.run.experiment}/{self.run.config_hash}/{cell_key(self.run.cell)}/"
                             f"seed {self.run.seed}/{name}")
        self._advance_overall(steps - self.progress.tasks[bar].completed)  # steps resumed from a checkpoint
        self.progress.update(bar, completed=steps, visible=False)
        if last and not self.progress.live.is_started:
            secs = time.monotonic() - t_start
            self.console.print(f"  {label}: {steps} steps in {secs:.1f} s, final loss {last['loss']:.4g}")
        return state

    def _advance_overall(self, n: int) -> None:
        if self.overall is not None:
            self.progress.advance(self.overall, n)
