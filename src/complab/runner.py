"""Runs one experiment for one tier over its cells x seeds: keys, the store, reuse,
resume, progress, the claim checks.

For each seed and each cell the runner opens (or reuses) the run in the store and
calls the experiment's `run(cfg, cell, key, ctx)` with the seed's root key. `ctx` is
a `Context`: its `fit` trains through `training.fit` with a checkpoint file per fit
in the run's directory, logs metrics and evaluation curves into the store and
drives a progress bar per fit, so an experiment writes none of that itself. A
finished run is reused unless `force`; an interrupted one resumes from its
checkpoints; a failed one is recorded and the other runs go on. The claim is
evaluated once, over every finished run. SIGTERM is handled like Ctrl-C (a
preempted job keeps its last chunk). Compiled programs go to JAX's persistent
cache (see `programs`), so a second process compiles nothing it has compiled before.
"""

import platform
import subprocess
import time
import traceback
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

import complab
from complab import config as cfgs
from complab import experiments, interrupts, programs, rng
from complab.errors import ComplabError, NaNLossError
from complab.experiments.base import TIERS, Check, Results
from complab.context import Context, Heartbeat
from complab.store import Run, Store, cell_key
from complab.trackers import Trackers
from complab.trackers import check as check_trackers



@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the complab checkout (with "-dirty"), else the package version."""
    here = Path(complab.__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"v{complab.__version__}"


def run_meta() -> dict:
    versions = {"python": platform.python_version(), "complab": complab.__version__}
    for pkg in ("jax", "jaxlib", "equinox", "optax", "diffrax"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    dev = jax.devices()[0]
    return {"code_version": code_version(), "versions": versions, "device": f"{dev.platform}:{dev.device_kind}"}


@dataclass
class Outcome:
    """What `run` returns: the experiment, its config, the runs, the results and the claim checks."""

    experiment: Any
    tier: str
    config: Any
    runs: list[Run]
    checks: list[Check]
    results: Results

    @property
    def rows(self) -> list[dict]:
        return self.results.rows

    @property
    def failures(self) -> list[str]:
        return self.results.failures

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and not self.failures


def resolve_config(exp, tier: str, overrides: dict[str, Any] | None):
    """The tier's config with overrides, checked by the experiment before anything runs."""
    if tier not in exp.tiers:
        allowed = ", ".join(t for t in TIERS if t in exp.tiers)
        raise ComplabError(f"unknown tier {tier!r} for {exp.id}; tiers are: {allowed}")
    cfg = cfgs.override(exp.tiers[tier], overrides or {})
    if exp.validate is not None:
        exp.validate(cfg)
    cells = exp.cell_list(cfg)
    keys = [tuple(sorted(c.items())) for c in cells]
    if not cells or len(set(keys)) != len(keys):
        raise ComplabError(f"{exp.id}'s config gives {'no' if not cells else 'repeated'} cells ({cells}); "
                           "check the values that enumerate them")
    return cfg


def check_seeds(seeds) -> None:
    if not seeds:
        raise ComplabError("no seeds given; pass at least one (e.g. --seeds 0,1,2 or --num-seeds 3)")
    if len(set(seeds)) != len(seeds):
        raise ComplabError(f"seeds must be distinct, got {list(seeds)}")
    bad = [s for s in seeds if not 0 <= s < 2**32]
    if bad:
        raise ComplabError(f"seeds must be integers in [0, 2^32), got {bad}")


def evaluate_claim(exp, results: Results, cfg) -> list[Check]:
    """The experiment's checks; when failed runs leave them without numbers, one failing
    check that says so, and so when no run finished at all (a check over no seeds would
    pass vacuously). Checks judged over the runs that finished while others failed get a
    failing check naming the failures: the claim is not shown by part of its runs."""
    if not results.rows:
        return [Check("the claim could not be evaluated: no run finished", False,
                      "; ".join(results.failures) or "no rows were stored")]
    try:
        checks = list(exp.expect(results, cfg))
    except Exception as e:  # noqa: BLE001 - rows missing because runs failed; without failures it is a bug
        if not results.failures:
            raise
        return [Check("the claim could not be evaluated: runs failed", False,
                      f"{'; '.join(results.failures)} ({type(e).__name__}: {e})")]
    if results.failures:
        checks.append(Check("every run of the claim finished", False, "; ".join(results.failures)))
    return checks


def _prepare(experiment_id: str, tier: str, seeds, overrides: dict[str, Any] | None, trackers: tuple[str, ...]):
    """(experiment, config, trackers), every input checked before anything is stored."""
    check_seeds(seeds)
    trackers = check_trackers(trackers)
    exp = experiments.load(experiment_id)
    cfg = resolve_config(exp, tier, overrides)
    programs.enable_compilation_cache()
    return exp, cfg, trackers


def run(experiment_id: str, tier: str = "cpu", seeds: list[int] | tuple[int, ...] = (0,),
        overrides: dict[str, Any] | None = None, results: str | Path | None = None, force: bool = False,
        checkpoint_s: float = 30.0, console: Console | None = None, trackers: tuple[str, ...] = (),
        jobs: int = 1) -> Outcome:
    """Run (or reuse) every cell of an experiment for each seed, then evaluate its claim checks.
    `jobs` > 1 trains the runs in that many worker processes (complab.workers)."""
    console = console or Console()
    exp, cfg, trackers = _prepare(experiment_id, tier, seeds, overrides, trackers)
    if jobs != 1:
        from complab import workers

        workers.check(jobs, force)
    store = Store(results)
    try:
        with interrupts.handled():
            if jobs == 1:
                runs, failures = _run_all(exp, cfg, tier, list(seeds), store, force, checkpoint_s, console, trackers)
            else:
                crashed = workers.train(exp, cfg, tier, list(seeds), overrides, store, checkpoint_s, trackers, jobs,
                                        console)
                runs, failures = stored_runs(exp, cfg, list(seeds), store)
                if failures:  # a crashed worker matters where it left a run undone
                    failures += crashed
        return conclude(exp, tier, cfg, list(seeds), overrides, store, runs, failures)
    finally:
        store.close()


def execute(experiment_id: str, tier: str, seeds: list[int], overrides: dict[str, Any] | None = None,
            results: str | Path | None = None, checkpoint_s: float = 30.0, console: Console | None = None,
            trackers: tuple[str, ...] = (), shared_since: float | None = None) -> list[str]:
    """Train (or reuse) every cell of an experiment for these seeds without judging the
    claim (a sweep's trial: the driver judges each grid point once all its seeds are
    in); returns the failures, as sentences. `shared_since`: this process is a worker of
    a `run --jobs` command started at that time (time.time()), sharing the runs with its
    peers: a run another live process holds, or one that failed or was interrupted since
    then (a peer's outcome), is passed over without a word."""
    console = console or Console(quiet=True)
    exp, cfg, trackers = _prepare(experiment_id, tier, seeds, overrides, trackers)
    store = Store(results)
    try:
        with interrupts.handled():
            return _run_all(exp, cfg, tier, list(seeds), store, False, checkpoint_s, console, trackers,
                            shared_since)[1]
    finally:
        store.close()


def stored_runs(exp, cfg, seeds: list[int], store: Store) -> tuple[list[Run], list[str]]:
    """The stored runs of a config's cells x seeds, and a sentence for each one not done."""
    chash, runs, failures = cfgs.config_hash(cfg, exclude=exp.grid), [], []
    for seed in seeds:
        for cell in exp.cell_list(cfg):
            run_ = store.find(exp.id, chash, seed, cell)
            what = f"seed {seed}" + "".join(f", {k}={v}" for k, v in cell.items())
            if run_ is None:
                failures.append(f"{what}: never ran")
                continue
            runs.append(run_)
            if run_.status != "done":
                failures.append(f"{what}: {run_.status}" + (f": {run_.error.splitlines()[0]}" if run_.error else ""))
    return runs, failures


def conclude(exp, tier: str, cfg, seeds: list[int], overrides: dict[str, Any] | None, store: Store,
             runs: list[Run], failures: list[str]) -> Outcome:
    """Evaluate the claim over the finished runs and store the verdict."""
    done = [r for r in runs if r.status == "done"]
    res = Results(store.rows(done), store.curves(done), failures)
    checks = evaluate_claim(exp, res, cfg)
    store.save_verdict(exp.id, tier, cfgs.config_hash(cfg, exclude=exp.grid), seeds, [c.to_dict() for c in checks],
                       {k: str(v) for k, v in (overrides or {}).items()})
    return Outcome(exp, tier, cfg, runs, checks, res)


def _run_all(exp, cfg, tier: str, seeds: list[int], store: Store, force: bool, checkpoint_s: float,
             console: Console, trackers: tuple[str, ...] = (),
             shared_since: float | None = None) -> tuple[list[Run], list[str]]:
    chash, cdict, meta = cfgs.config_hash(cfg, exclude=exp.grid), cfgs.to_dict(cfg), run_meta()
    cells = exp.cell_list(cfg)
    plan = [(seed, cell) for seed in seeds for cell in cells]
    found = {(s, cell_key(c)): store.find(exp.id, chash, s, c) for s, c in plan}
    todo = [(s, c) for s, c in plan if force or getattr(found[s, cell_key(c)], "status", None) != "done"]
    runs, failures = [], []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TextColumn("{task.fields[loss]}"), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        overall = None
        if exp.steps is not None and todo:
            overall = progress.add_task(f"[bold]{exp.id} ({tier}, {len(todo)} runs)",
                                        total=sum(exp.steps(cfg, c) for _, c in todo), loss="", rate="")
        for seed, cell in plan:
            interrupts.check()
            existing = found[seed, cell_key(cell)]
            what = f"seed {seed}" + "".join(f", {k}={v}" for k, v in cell.items())
            if existing and (seed, cell) not in todo:
                other = "" if existing.code_version == meta["code_version"] else \
                    f", made by code {existing.code_version}"
                console.print(f"{what}: reusing the finished run ({existing.wall_s:.1f} s{other}; --force recomputes)")
                runs.append(existing)
                continue
            if shared_since is not None and _ended_since(store.find(exp.id, chash, seed, cell), shared_since):
                continue
            try:
                run_ = store.begin(exp.id, tier, cdict, chash, seed, meta, fresh=force, cell=cell)
            except ComplabError as e:  # held by a live process elsewhere: the other cells go on
                if shared_since is not None:
                    continue
                failures.append(f"{what}: {e}")
                console.print(f"[red]{what} skipped[/red]: {e}")
                continue
            if run_.status == "done":  # another process finished it meanwhile
                runs.append(run_)
                continue
            # a rerun from scratch (--force, or a forced rerun stopped before it trained) starts without the
            # finished run's checkpoints; cleared inside _run_one, so that a failure there gives the finished run back
            fresh = bool(existing) and (force or (run_.previous is not None and not store.metrics(run_)))
            if existing and not fresh:
                console.print(f"{what}: resuming the {existing.status} run from its checkpoints")
            run_, error = _run_one(exp, cfg, cell, seed, store, run_, progress, console, checkpoint_s, overall,
                                   trackers, fresh)
            runs.append(run_)
            if error:
                failures.append(f"{what}: {error}")
                console.print(f"[red]{what} failed[/red]: {error}")
    return runs, failures


def _run_one(exp, cfg, cell: dict, seed: int, store: Store, run_: Run, progress: Progress, console: Console,
             checkpoint_s: float, overall: TaskID | None, trackers: tuple[str, ...],
             fresh: bool = False) -> tuple[Run, str | None]:
    """One (cell, seed) run: (its stored record, None) or (record, the sentence saying why it failed)."""
    t0, beat, error = time.monotonic(), Heartbeat(store, run_), None
    sinks = Trackers(trackers, store.root, run_)
    try:
        if fresh:
            store.clear_checkpoints(run_)
        ctx = Context(store, run_, progress, console, checkpoint_s, overall, sinks)
        with jax.enable_x64(exp.x64):
            rows = exp.run(cfg, cell, rng.root_key(seed), ctx)
            rows = [{k: _plain(v) for k, v in r.items()} for r in rows]
        store.finish(run_, rows, time.monotonic() - t0)
    except NaNLossError as e:
        rates = [k for k in cfgs.leaves(cfg) if k.split(".")[-1] == "lr"]
        hint = f"; a lower learning rate ({', '.join(rates)}) may help" if rates else ""
        kept = store.fail(run_, "failed", str(e), e.step, time.monotonic() - t0)
        error = _kept(kept, str(e)) if kept else f"{e}; the run is stored as failed with its metrics so far{hint}"
    except ComplabError as e:
        error = _kept(store.fail(run_, "failed", str(e), None, time.monotonic() - t0), str(e))
    except KeyboardInterrupt:
        store.fail(run_, "interrupted", "interrupted by the user", None, time.monotonic() - t0)
        raise
    except Exception as e:  # a bug: recorded with its traceback, and the other runs go on
        error = f"{type(e).__name__}: {e}"
        error = _kept(store.fail(run_, "failed", error + "\n" + traceback.format_exc(), None,
                                 time.monotonic() - t0), error)
        console.print_exception()
    finally:
        beat.close()
        sinks.close()
        programs.release_near_map_limit()
    return store.find(run_.experiment, run_.config_hash, seed, cell), error


def _ended_since(run: Run | None, since: float) -> bool:
    """Whether the run failed or was interrupted at or after `since`."""
    return run is not None and run.status in ("failed", "interrupted") and (run.ended or 0) >= since


def _kept(restored: bool, error: str) -> str:
    """The failure's sentence; a forced rerun that failed says that the finished run it was to replace is kept."""
    if not restored:
        return error
    return error + "; the forced rerun did not finish, so the finished run it was to replace is kept as it was"


def _plain(v: Any) -> Any:
    """A row value as JSON: Python scalars as they are, arrays and NumPy scalars as lists and numbers."""
    if isinstance(v, (jax.Array, np.ndarray, np.generic)):
        return np.asarray(v).tolist()
    return v
