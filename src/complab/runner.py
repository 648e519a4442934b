"""Runs one experiment for one tier over seeds: keys, the store, reuse, resume,
progress, claim checks.

For each seed the runner derives the root key, opens (or reuses) the run in the
store and calls the experiment's `run(cfg, key, ctx)`. `ctx` is a `Context`: its
`fit` trains through `training.fit` with a checkpoint file per fit in the run's
directory, logs metrics into the store and drives one progress bar per fit, so an
experiment writes none of that itself. A finished run (same experiment, config hash
and seed) is reused unless `force`; an interrupted one resumes from its checkpoints.
"""

import platform
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

import complab
from complab import config as cfgs
from complab import experiments, rng
from complab.errors import ComplabError, NaNLossError
from complab.experiments.base import TIERS, Check
from complab.learners.base import AbstractLearner, State
from complab.store import Run, Store
from complab.tasks.base import AbstractTask
from complab.training import fit


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
    for pkg in ("jax", "jaxlib", "equinox", "optax"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    dev = jax.devices()[0]
    return {"code_version": code_version(), "versions": versions, "device": f"{dev.platform}:{dev.device_kind}"}


class Context:
    """What an experiment's `run` uses to train: `ctx.fit(...)`."""

    def __init__(self, store: Store, run: Run, progress: Progress, console: Console, checkpoint_s: float,
                 overall: TaskID | None = None):
        self.store, self.run, self.progress, self.console = store, run, progress, console
        self.overall = overall
        self.fits: set[str] = set()
        self.dir = store.run_dir(run)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_s = checkpoint_s

    def fit(self, name: str, learner: AbstractLearner, state: State, task: AbstractTask, *, key: jax.Array,
            steps: int, batch_size: int, split: str = "train") -> State:
        """Train `state` for `steps` steps on batches of `task`'s `split`, resumably.

        `name` must be unique within the run: it names the checkpoint and the metrics.
        """
        if name in self.fits:
            raise ComplabError(f"two trainings in one run of {self.run.experiment} are both named {name!r}; "
                               "each needs its own name (check the config for repeated values)")
        self.fits.add(name)
        label = f"seed {self.run.seed} · {name}"
        bar = self.progress.add_task(label, total=steps, loss="", rate="")
        t_start, last = time.monotonic(), {}

        def on_chunk(step: int, metrics: dict[str, float], seconds: float) -> None:
            self.store.log_metrics(self.run, name, step, metrics)
            last.update(metrics, step=step)
            new = step - self.progress.tasks[bar].completed
            self.progress.update(bar, completed=step, loss=f"loss {metrics['loss']:.4g}",
                                 rate=f"{new / max(seconds, 1e-9):.0f} steps/s")
            self._advance_overall(new)

        state = fit(learner, state, task, key=key, steps=steps, batch_size=batch_size, split=split,
                    checkpoint=self.dir / f"{name}.eqx", checkpoint_s=self.checkpoint_s, on_chunk=on_chunk,
                    name=name)
        self._advance_overall(steps - self.progress.tasks[bar].completed)  # steps resumed from a checkpoint
        self.progress.update(bar, completed=steps)
        if last and not self.progress.live.is_started:
            secs = time.monotonic() - t_start
            self.console.print(f"  {label}: {steps} steps in {secs:.1f} s, final loss {last['loss']:.4g}")
        return state

    def _advance_overall(self, n: int) -> None:
        if self.overall is not None:
            self.progress.advance(self.overall, n)


@dataclass
class Outcome:
    """What `run` returns: the experiment, its config, the runs and the claim checks."""

    experiment: Any
    tier: str
    config: Any
    runs: list[Run]
    checks: list[Check]
    rows: list[dict]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def resolve_config(exp, tier: str, overrides: dict[str, Any] | None):
    """The tier's config with overrides, checked by the experiment before anything runs."""
    if tier not in exp.tiers:
        allowed = ", ".join(t for t in TIERS if t in exp.tiers)
        raise ComplabError(f"unknown tier {tier!r} for {exp.id}; tiers are: {allowed}")
    cfg = cfgs.override(exp.tiers[tier], overrides or {})
    if exp.validate is not None:
        exp.validate(cfg)
    return cfg


def check_seeds(seeds) -> None:
    if not seeds:
        raise ComplabError("no seeds given; pass at least one (e.g. --seeds 0,1,2 or --num-seeds 3)")
    if len(set(seeds)) != len(seeds):
        raise ComplabError(f"seeds must be distinct, got {list(seeds)}")
    bad = [s for s in seeds if not 0 <= s < 2**32]
    if bad:
        raise ComplabError(f"seeds must be integers in [0, 2^32), got {bad}")


def run(experiment_id: str, tier: str = "cpu", seeds: list[int] | tuple[int, ...] = (0,),
        overrides: dict[str, Any] | None = None, results: str | Path | None = None, force: bool = False,
        checkpoint_s: float = 30.0, console: Console | None = None) -> Outcome:
    """Run (or reuse) an experiment for each seed, then evaluate its claim checks."""
    console = console or Console()
    check_seeds(seeds)
    exp = experiments.load(experiment_id)
    cfg = resolve_config(exp, tier, overrides)
    store = Store(results)
    try:
        runs = _run_seeds(exp, cfg, tier, list(seeds), store, force, checkpoint_s, console)
        rows = store.rows(runs)
        checks = list(exp.expect(rows, cfg))
        store.save_verdict(exp.id, tier, runs[0].config_hash, list(seeds), [c.to_dict() for c in checks])
    finally:
        store.close()
    return Outcome(exp, tier, cfg, runs, checks, rows)


def _run_seeds(exp, cfg, tier: str, seeds: list[int], store: Store, force: bool, checkpoint_s: float,
               console: Console) -> list[Run]:
    chash, cdict, meta = cfgs.config_hash(cfg), cfgs.to_dict(cfg), run_meta()
    runs = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TextColumn("{task.fields[loss]}"), TextColumn("ETA"), TimeRemainingColumn()]
    found = {seed: store.find(exp.id, chash, seed) for seed in seeds}
    todo = [s for s in seeds if force or getattr(found[s], "status", None) != "done"]
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        overall = None
        if exp.steps is not None and todo:
            overall = progress.add_task(f"[bold]{exp.id} ({tier}, {len(todo)} seeds)",
                                        total=exp.steps(cfg) * len(todo), loss="", rate="")
        for seed in seeds:
            existing = found[seed]
            if existing and seed not in todo:
                same = existing.code_version == meta["code_version"]
                other = "" if same else f", made by code {existing.code_version}"
                console.print(f"seed {seed}: reusing the finished run ({existing.wall_s:.1f} s{other}; "
                              "--force recomputes)")
                runs.append(existing)
                continue
            if existing and force:
                store.clear_checkpoints(existing)  # its stored rows stay until the new ones replace them
            elif existing:
                console.print(f"seed {seed}: resuming the {existing.status} run from its checkpoints")
            run_ = store.begin(exp.id, tier, cdict, chash, seed, meta, fresh=force)
            runs.append(_run_seed(exp, cfg, seed, store, run_, Context(store, run_, progress, console,
                                                                     checkpoint_s, overall)))
    return runs


def _run_seed(exp, cfg, seed: int, store: Store, run_: Run, ctx: "Context") -> Run:
    t0 = time.monotonic()
    try:
        rows = exp.run(cfg, rng.root_key(seed), ctx)
    except NaNLossError as e:
        store.fail(run_, "failed", str(e), e.step, time.monotonic() - t0)
        rates = [k for k in cfgs.leaves(cfg) if k.split(".")[-1] == "lr"]
        hint = f"; a lower learning rate ({', '.join(rates)}) may help" if rates else ""
        raise ComplabError(
            f"{exp.id} seed {seed}: {e}; the run is stored as failed with its metrics so far{hint}"
        ) from None
    except ComplabError as e:
        store.fail(run_, "failed", str(e), None, time.monotonic() - t0)
        raise
    except KeyboardInterrupt:
        store.fail(run_, "interrupted", "interrupted by the user", None, time.monotonic() - t0)
        raise
    except Exception as e:
        store.fail(run_, "failed", f"{type(e).__name__}: {e}", None, time.monotonic() - t0)
        raise
    store.finish(run_, [{k: _plain(v) for k, v in r.items()} for r in rows], time.monotonic() - t0)
    return store.find(run_.experiment, run_.config_hash, seed)


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        return v.item()
    return v
