"""`complab bench seeds`: N seeds of one training (the first fit of an experiment's
first cell at a tier), three ways, in seeds per second over `steps` steps each:

- `loop`: one seed after another through the same compiled chunk (the runner's way:
  bit-identical to a run of that seed alone);
- `vmap`: all seeds in one program, `vmap` over their states and keys (results differ
  from the per-seed path at float rounding, so it is measured, not used by `run`);
- `processes`: one process per core, each a loop over its share of the seeds, wall
  time including start-up and compilation (a load from the persistent cache when
  `complab run` compiled the same program before).

Seeds here share the initial state and differ in their keys (data and step noise):
the cost is the same as with their own initial states.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from complab import experiments, programs, rng, runner, training
from complab.bench.experiments import _Measured


@dataclass(frozen=True)
class SeedsFigure:
    experiment: str
    fit: str
    way: str
    seeds: int
    steps: int
    seeds_per_s: float
    compile_s: float

    def to_row(self) -> dict:
        return dict(self.__dict__)


class _Capture:
    def __init__(self):
        self.captured = None

    def fit(self, name, learner, state, data=None, *, key, steps, batch_size=None, split="train", **_):
        self.captured = (name, learner, state, training.as_data(data, batch_size, split), key)
        raise _Measured


def first_fit(experiment_id: str, tier: str):
    exp = experiments.load(experiment_id)
    cfg = runner.resolve_config(exp, tier, {})
    capture = _Capture()
    try:
        with jax.enable_x64(exp.x64):
            exp.run(cfg, exp.cell_list(cfg)[0], rng.root_key(0), capture)
    except _Measured:
        return exp, capture.captured
    raise ValueError(f"{experiment_id} trains nothing through ctx.fit at the {tier} tier")


def _keys(n: int):
    return [rng.streams(rng.root_key(s), "data", "step") for s in range(n)]


def loop_seconds(learner, state, source, n: int, steps: int) -> tuple[float, float]:
    """(compile s, run s) of n seeds one after another."""
    keys = _keys(n)
    start, count = jnp.asarray(0), jnp.asarray(steps)
    t0 = time.perf_counter()
    jax.block_until_ready(training.train_chunk(learner, source, state, *keys[0], start, count))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for kd, ks in keys:
        jax.block_until_ready(training.train_chunk(learner, source, state, kd, ks, start, count))
    run_s = time.perf_counter() - t0
    return max(first - run_s / n, 0.0), run_s


def vmap_seconds(learner, state, source, n: int, steps: int) -> tuple[float, float]:
    keys = _keys(n)
    kd, ks = jnp.stack([k[0] for k in keys]), jnp.stack([k[1] for k in keys])
    states = jax.tree.map(lambda a: jnp.broadcast_to(a, (n, *a.shape)) if eqx.is_array(a) else a, state)
    start, count = jnp.asarray(0), jnp.asarray(steps)

    @eqx.filter_jit
    def all_seeds(states, kd, ks):
        return eqx.filter_vmap(lambda s, a, b: training.train_chunk(learner, source, s, a, b, start, count))(
            states, kd, ks)

    t0 = time.perf_counter()
    jax.block_until_ready(all_seeds(states, kd, ks))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(all_seeds(states, kd, ks))
    run_s = time.perf_counter() - t0
    return max(first - run_s, 0.0), run_s


def processes_seconds(experiment_id: str, tier: str, n: int, steps: int) -> float:
    """Wall seconds of n seeds split over one process per core (start-up included)."""
    procs = max(1, min(n, os.cpu_count() or 1))
    shares = [len(range(i, n, procs)) for i in range(procs)]
    t0 = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "-m", "complab.bench.seeds", experiment_id, tier, str(k), str(steps)],
                                stdout=subprocess.PIPE, text=True) for k in shares]
    for w in workers:
        w.communicate()
    if any(w.returncode for w in workers):
        raise RuntimeError(f"a seeds worker failed (exit codes {[w.returncode for w in workers]})")
    return time.perf_counter() - t0


def seeds(experiment_id: str = "gated_rnn_discovers_attention", tier: str = "cpu", n: int = 4, steps: int = 200,
          on_figure=None) -> list["SeedsFigure"]:
    exp, (name, learner, state, source, _) = first_fit(experiment_id, tier)
    out = []
    for way in ("loop", "vmap", "processes"):
        if way == "processes":
            compile_s, run_s = float("nan"), processes_seconds(experiment_id, tier, n, steps)
        else:
            compile_s, run_s = (loop_seconds if way == "loop" else vmap_seconds)(learner, state, source, n, steps)
        fig = SeedsFigure(exp.id, name, way, n, steps, n / run_s, compile_s)
        out.append(fig)
        if on_figure is not None:
            on_figure(fig)
    return out


if __name__ == "__main__":  # a processes worker: experiment, tier, seeds, steps
    programs.enable_compilation_cache()
    _, (_, learner_, state_, source_, _) = first_fit(sys.argv[1], sys.argv[2])
    print(json.dumps(loop_seconds(learner_, state_, source_, int(sys.argv[3]), int(sys.argv[4]))))
