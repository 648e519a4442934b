"""`sweep`: an experiment's cells x grid points x seeds, each (point, seed) a trial.

Before anything runs, every grid point's config is resolved and validated (an
unknown key or a bad value is one sentence, nothing stored). Trials whose runs are
all finished are reused, so a re-launched sweep continues where it stopped. Each
grid point's claim is judged, and its verdict stored (marked with the point's
overrides), as soon as all its trials are in.
"""

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from complab import config as cfgs
from complab import experiments, runner
from complab.errors import ComplabError
from complab.experiments.base import Check, Results
from complab.store import Store, cell_key, default_results_dir
from complab.sweeps import grid as grids
from complab.sweeps import local, ray_backend
from complab.sweeps.trial import DONE, FAILED, INTERRUPTED, WORKER_ENV, Trial

BACKENDS = ("local", "ray")


@dataclass
class PointOutcome:
    point: dict[str, str]
    outcome: runner.Outcome
    crashed: list[str]

    @property
    def passed(self) -> bool:
        return self.outcome.passed and not self.crashed


def sweep(experiment_id: str, tier: str = "cpu", seeds=(0,), grid: dict[str, list[str]] | None = None,
          overrides: dict | None = None, results: str | Path | None = None, backend: str = "local",
          address: str | None = None, workers: int | None = None, retries: int = 2, checkpoint_s: float = 30.0,
          trackers: tuple[str, ...] = (), console: Console | None = None) -> list[PointOutcome]:
    console = console or Console()
    if backend not in BACKENDS:
        raise ComplabError(f"unknown backend {backend!r}; backends are: {', '.join(BACKENDS)}")
    if address and backend != "ray":
        raise ComplabError("--address names a Ray cluster; use it with --backend ray")
    if workers is not None and workers < 1:
        raise ComplabError(f"--workers must be >= 1, got {workers}")
    if retries < 0:
        raise ComplabError(f"--retries must be >= 0, got {retries}")
    runner.check_seeds(list(seeds))
    if backend == "ray":
        ray_backend.check(address)
    exp = experiments.load(experiment_id)
    base = dict(overrides or {})
    clash = sorted(set(base) & set(grid or {}))
    if clash:
        raise ComplabError(f"{', '.join(clash)} is both set (--set) and swept (--grid); give it in one place")
    points = grids.points(grid or {})
    configs = [runner.resolve_config(exp, tier, {**base, **p}) for p in points]  # every point, before anything
    _refuse_shared_runs(exp, points, configs)
    results = str(Path(results if results is not None else default_results_dir()).resolve())
    store = Store(results)
    try:
        trials, reused = {}, 0  # {index: (trial, its point's index)}
        for i, cfg in enumerate(configs):
            for seed in seeds:
                if runner.stored_runs(exp, cfg, [seed], store)[1]:  # some cell not finished
                    trial = Trial(exp.id, tier, seed, {**base, **points[i]}, results, checkpoint_s, trackers)
                    trials[len(trials)] = (trial, i)
                else:
                    reused += 1
        if reused:
            console.print(f"reusing {reused} finished trial{'s' * (reused > 1)} of {len(points) * len(seeds)}")
        outcomes = _dispatch(exp, tier, list(seeds), points, configs, base, trials, store, backend, address,
                             workers or min(len(trials), os.cpu_count() or 1) or 1, retries, console)
    finally:
        store.close()
    return outcomes


def _dispatch(exp, tier, seeds, points, configs, base, trials, store, backend, address, workers, retries,
              console) -> list[PointOutcome]:
    pending = {i: sum(1 for _, j in trials.values() if j == i) for i in range(len(points))}
    crashed: dict[int, list[str]] = {i: [] for i in range(len(points))}
    said: dict[int, list[str]] = {i: [] for i in range(len(points))}  # failures the trials returned
    interrupted = {i: False for i in range(len(points))}
    outcomes: dict[int, PointOutcome] = {}
    counts = {"done": len(points) * len(seeds) - len(trials), "running": 0, "failed": 0}
    logdir = Path(store.root) / "sweeps" / exp.id / time.strftime("%Y%m%d-%H%M%S")

    def conclude(i: int) -> None:
        cfg, point = configs[i], points[i]
        runs, failures = runner.stored_runs(exp, cfg, seeds, store)
        if any("never ran" in f for f in failures):
            failures += said[i]  # what the trials said (a worker that wrote its runs elsewhere, say)
        if interrupted[i]:  # no verdict: the same sweep resumes these runs
            out = runner.Outcome(exp, tier, cfg, runs, [], Results([], [], failures + crashed[i]))
        else:
            try:
                out = runner.conclude(exp, tier, cfg, seeds, {**base, **point}, store, runs, failures + crashed[i])
            except Exception as e:  # noqa: BLE001 - one point's claim must not stop the other points
                out = runner.Outcome(exp, tier, cfg, runs, [Check(
                    "the claim could not be evaluated", False, f"{type(e).__name__}: {e}")],
                    Results([], [], failures + crashed[i]))
        outcomes[i] = PointOutcome(point, out, crashed[i])
        mark = "[green]holds[/green]" if outcomes[i].passed else "[red]does not hold[/red]"
        console.print(f"{grids.label(point)}: the claim {mark} ({sum(c.passed for c in out.checks)}/"
                      f"{len(out.checks)} checks)")

    for i in range(len(points)):
        if pending[i] == 0:
            conclude(i)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[state]}"),
               TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        bar = progress.add_task(f"[bold]sweep {exp.id} ({tier}, {backend})", total=len(points) * len(seeds),
                                completed=counts["done"], state="")

        def show():
            progress.update(bar, completed=counts["done"] + counts["failed"],
                            state=f"done {counts['done']} · running {counts['running']} · failed {counts['failed']}")

        def on_event(kind: str, key: int, info) -> None:
            trial, i = trials[key]
            if kind == "start":
                counts["running"] += 1
            elif kind == "retry":  # it starts again ("start" counts it once more)
                counts["running"] -= 1
                console.print(f"{_what(trial)}: its worker ended with exit code {info}; trying again")
            elif kind == "crash":
                crashed[i].append(f"seed {trial.seed}: the worker died ({info})")
            elif kind == "said":
                said[i] += [f"seed {trial.seed}: the trial said: {f}" for f in info]
            elif kind == "end":
                counts["running"] -= 1
                counts["done" if info == DONE else "failed"] += 1
                if info == INTERRUPTED:
                    interrupted[i] = True
                    crashed[i].append(f"seed {trial.seed}: the trial was interrupted (no verdict for this point); "
                                      "the same sweep resumes it")
                elif info not in (DONE, FAILED, ray_backend.CRASHED):
                    crashed[i].append(f"seed {trial.seed}: the trial crashed (exit code {info}) on every try; "
                                      f"its log is in {logdir}")
                pending[i] -= 1
                if pending[i] == 0:
                    conclude(i)
            show()

        show()
        if trials and backend == "local":
            jobs = [local.Job(k, [sys.executable, "-m", "complab.sweeps.trial", t.to_json()],
                              logdir / f"{_slug(t)}.log") for k, (t, _) in trials.items()]
            local.run(jobs, workers, retries, (DONE, FAILED, INTERRUPTED),
                      lambda kind, job, code: on_event(kind, job.key, code), env=WORKER_ENV)
        elif trials:
            ray_backend.run({k: t for k, (t, _) in trials.items()}, address, workers, retries, on_event)
    return [outcomes[i] for i in range(len(points))]


def _refuse_shared_runs(exp, points, configs) -> None:
    """Two grid points whose runs coincide (equal values written differently, or cell lists
    that overlap) would train the same run twice at once and judge one point early."""
    owner: dict[tuple, int] = {}
    for i, cfg in enumerate(configs):
        chash = cfgs.config_hash(cfg, exclude=exp.grid)
        for cell in exp.cell_list(cfg):
            j = owner.setdefault((chash, cell_key(cell)), i)
            if j != i:
                raise ComplabError(f"grid points {grids.label(points[j])} and {grids.label(points[i])} share runs "
                                   f"(config {chash}{', cell ' + cell_key(cell) if cell else ''}); sweep values "
                                   "whose runs differ")


def _what(trial: Trial) -> str:
    return f"seed {trial.seed}" + "".join(f", {k}={v}" for k, v in trial.overrides.items())


def _slug(trial: Trial) -> str:
    text = "_".join(f"{k}={v}" for k, v in trial.overrides.items()) + f"_seed{trial.seed}"
    return "".join(c if c.isalnum() or c in "=._-" else "-" for c in text).strip("_")[:150]
