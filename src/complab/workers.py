"""`complab run --jobs N`: one command's runs trained by N worker processes on this machine.

Each worker is a process of its own (`python -m complab.workers '<json>'`) held to its share
of the CPU cores (the cores split evenly; with more workers than cores, one core each, in
turn). It goes through the command's runs in order and trains each one that no other live
process holds (the store's leases give every run one claimant across processes) and that
no peer has failed on during this command, so the workers share the runs as a queue; the
command shows their progress from the store and judges the claim once every worker has
ended. A worker that dies is started again (it resumes its run from the checkpoints), at
most twice; a worker interrupted by a signal of its own interrupts the command (no
verdict; the same command resumes).

Why: on a CPU, the small models of most cpu tiers use a second core poorly (XLA splits
their small operations across threads for little gain), so two one-core workers train
more runs per second than one process on both cores. Measured on 2 cores (Intel Xeon at
2.5 GHz, warm compilation cache), the flagship's cpu tier over 3 seeds: 244 s in one
process, 155 s with `--jobs 2` (1.58x; 81 and 52 s a seed). One seed alone took 94 s in
one process on both cores and 133 s held to one core.

What it changes: XLA's multithreaded matrix products may sum in another order on another
number of cores, so a worker's rows can differ from a one-process run's in the last bits
(that run: 142 of 144 rows identical, two imitation errors of seed 0 at 1e-7 relative).
`--jobs 1`, the default, trains in the command's own process as before.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

from complab.errors import ComplabError

DONE, FAILED, INTERRUPTED = 0, 3, 130  # a worker's exit codes; any other is a crash, tried again
CORES_ENV, PARENT_ENV = "COMPLAB_CORES", "COMPLAB_PARENT"


def check(jobs: int, force: bool) -> None:
    if not isinstance(jobs, int) or jobs < 1:
        raise ComplabError(f"--jobs must be an integer >= 1 (worker processes), got {jobs!r}")
    if force and jobs > 1:
        raise ComplabError("--force reruns finished runs in the command's own process; drop --jobs (or --force)")


def core_shares(jobs: int, cores: list[int]) -> list[list[int]]:
    """Each worker's cores: `jobs` disjoint, near-equal, contiguous shares of `cores`; with more
    workers than cores, one core each, in turn."""
    if jobs > len(cores):
        return [[cores[i % len(cores)]] for i in range(jobs)]
    bounds = [round(i * len(cores) / jobs) for i in range(jobs + 1)]
    return [cores[a:b] for a, b in zip(bounds, bounds[1:])]


def train(exp, cfg, tier: str, seeds: list[int], overrides: dict | None, store, checkpoint_s: float,
          trackers: tuple[str, ...], jobs: int, console) -> list[str]:
    """Train the command's runs in `jobs` worker processes (no more than there are runs to train);
    returns a sentence for each worker that crashed on every try (the runs' own failures are in
    the store)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from complab import config as cfgs
    from complab.sweeps import local

    chash, values = cfgs.config_hash(cfg, exclude=exp.grid), cfgs.leaves(cfg)
    plan = [(s, c) for s in seeds for c in exp.cell_list(cfg)]
    todo = [(s, c) for s, c in plan if getattr(store.find(exp.id, chash, s, c), "status", None) != "done"]
    jobs = min(jobs, len(todo))
    if not todo:  # every run is finished: nothing to start
        return []
    total = sum(exp.steps(cfg, c) for _, c in plan) if exp.steps is not None else len(plan)
    logdir = Path(store.root) / "workers" / exp.id / time.strftime("%Y%m%d-%H%M%S")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    shares = core_shares(jobs, cores)
    work = {"experiment": exp.id, "tier": tier, "seeds": seeds, "config_hash": chash, "since": time.time(),
            "overrides": {k: values.get(k, v) for k, v in (overrides or {}).items()},  # as the config holds them
            "results": str(store.root), "checkpoint_s": checkpoint_s, "trackers": list(trackers)}
    argv = [sys.executable, "-m", "complab.workers", json.dumps(work)]
    pool = [local.Job(i, argv, logdir / f"worker-{i}.log", env={CORES_ENV: ",".join(map(str, share)),
                                                                PARENT_ENV: str(os.getpid())})
            for i, share in enumerate(shares)]
    console.print(f"{exp.id}: {len(todo)} of {len(plan)} runs to train, {jobs} worker processes on cores "
                  f"{' | '.join(','.join(map(str, s)) for s in shares)}; their logs are in {logdir}")
    crashed: list[str] = []
    interrupted: list[int] = []

    def on_event(kind: str, job, code) -> None:
        if kind == "retry":
            console.print(f"worker {job.key} ended with exit code {code}; starting it again")
        elif kind == "end" and code == INTERRUPTED:
            interrupted.append(job.key)
        elif kind == "end" and code not in (DONE, FAILED):
            crashed.append(f"worker {job.key} crashed (exit code {code}) on every try; its log is {job.log}")

    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[state]}"), TextColumn("ETA"),
               TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        done, steps = _progress(exp, cfg, store, chash, plan)  # the finished runs are not this command's speed
        bar = progress.add_task(f"[bold]{exp.id} ({tier}, {len(todo)} runs, {jobs} workers)", total=total,
                                completed=steps, state=f"{done}/{len(plan)} runs done")
        last = [0.0]

        def on_poll() -> None:
            if time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                done, steps = _progress(exp, cfg, store, chash, plan)
                progress.update(bar, completed=steps, state=f"{done}/{len(plan)} runs done")

        local.run(pool, jobs, 2, (DONE, FAILED, INTERRUPTED), on_event, env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
                  on_poll=on_poll)
    if interrupted:  # a worker stopped by a signal of its own: no verdict, as for an interrupted command
        console.print(f"worker {', '.join(map(str, interrupted))} was interrupted; the same command resumes")
        raise KeyboardInterrupt
    return crashed


def _progress(exp, cfg, store, chash: str, plan) -> tuple[int, int]:
    """(runs done, steps trained) of the plan, read from the store: a done run counts its
    steps, a running one the last step of each fit it logged."""
    done = steps = 0
    for seed, cell in plan:
        run = store.find(exp.id, chash, seed, cell)
        if run is None:
            continue
        if run.status == "done":
            done += 1
            steps += exp.steps(cfg, cell) if exp.steps is not None else 1
        elif exp.steps is not None:
            steps += min(sum(store.last_steps(run).values()), exp.steps(cfg, cell))
    return done, steps


def _end_with_parent() -> None:
    """On Linux, ask for SIGTERM when the command's process dies (killed outright, it cannot stop its
    workers): the worker then stores its run as interrupted and ends, instead of training on unwatched."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):  # the parent was already gone before the request
        raise SystemExit(INTERRUPTED)


def main(argv: list[str]) -> int:
    """A worker: hold to the cores in $COMPLAB_CORES, then train every run no other process holds."""
    _end_with_parent()
    cores = os.environ.get(CORES_ENV)
    if cores and hasattr(os, "sched_setaffinity"):  # Linux; elsewhere the workers share every core
        os.sched_setaffinity(0, [int(c) for c in cores.split(",")])  # before XLA starts its threads
    work = json.loads(argv[0])
    from complab import config as cfgs
    from complab import experiments, runner

    print(f"worker on cores {cores or 'all'}: {work}", flush=True)
    try:
        exp = experiments.load(work["experiment"])
        chash = cfgs.config_hash(runner.resolve_config(exp, work["tier"], work["overrides"]), exclude=exp.grid)
        if chash != work["config_hash"]:  # it would train runs its command never reads
            raise ComplabError(f"the worker's config (hash {chash}) is not its command's ({work['config_hash']})")
        failures = runner.execute(work["experiment"], work["tier"], work["seeds"], work["overrides"],
                                  work["results"], work["checkpoint_s"], trackers=tuple(work["trackers"]),
                                  shared_since=work["since"])
    except KeyboardInterrupt:
        return INTERRUPTED
    except ComplabError as e:
        print(f"failed: {e}", flush=True)
        return FAILED
    for f in failures:
        print(f"failed: {f}", flush=True)
    return FAILED if failures else DONE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
