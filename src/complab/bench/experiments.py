"""`complab bench experiments`: every training of an experiment's tier, measured.

The experiment's own `run` is called for each cell with a context whose `fit`
measures instead of training, so the figures are those of the real models, data and
learners at the tier's config, whatever the experiment: for each fit,

- `step`: one bare jitted step (data sampling, forward, backward, update): compile
  seconds, steady milliseconds, steps/s, XLA's FLOP count of the step, achieved
  GFLOP/s and its fraction of the float32 matrix-multiply peak measured in the same
  run, planned temporary memory;
- `loop`: the training loop's chunk (`training.train_chunk`, many steps in one
  `lax.while_loop`) compiled and timed per step, and its overhead over the bare step.

The fit returns the state untrained, so what the experiment does after training runs
on an untrained model (its figures are not looked at). Compile times are cold: the
persistent compilation cache is not used here.
"""

import time
from dataclasses import dataclass
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from complab import experiments, rng, runner, training
from complab.bench.measure import compiled, repeat

LOOP_STEPS = 32  # steps per timed chunk


@dataclass(frozen=True)
class FitFigure:
    experiment: str
    tier: str
    cell: str
    fit: str
    compile_s: float  # the bare step's
    step_ms: float
    flops: float  # per step
    temp_mib: float
    loop_compile_s: float
    loop_step_ms: float
    peak_gflops: float  # the matmul peak measured in this run

    @property
    def gflops(self) -> float:
        return self.flops / self.step_ms / 1e6

    @property
    def loop_overhead(self) -> float:
        return self.loop_step_ms / self.step_ms - 1

    def to_row(self) -> dict:
        return {**self.__dict__, "steps_per_s": 1000 / self.step_ms, "gflops": self.gflops,
                "peak_fraction": self.gflops / self.peak_gflops, "loop_overhead": self.loop_overhead}


class _Measured(Exception):
    """Raised by `fit` when only the first fit of a cell is wanted."""


class BenchContext:
    """Stands in for the runner's Context: `fit` measures the fit and returns its state untrained."""

    def __init__(self, exp, tier: str, cell: dict, peak: float, on_figure: Callable[[FitFigure], None],
                 first_fit_only: bool):
        self.exp, self.tier, self.cell, self.peak = exp, tier, cell, peak
        self.on_figure, self.first_fit_only = on_figure, first_fit_only
        self.fits: set[str] = set()

    def fit(self, name: str, learner, state: Any, data: Any = None, *, key: jax.Array, steps: int,
            batch_size: int | None = None, split: str = "train", evaluate=None, eval_at=()) -> Any:
        self.fits.add(name)
        figure = measure_fit(learner, state, training.as_data(data, batch_size, split), key, min(steps, LOOP_STEPS))
        self.on_figure(FitFigure(self.exp.id, self.tier, " ".join(f"{k}={v}" for k, v in self.cell.items()),
                                 name, *figure, self.peak))
        if self.first_fit_only:
            raise _Measured
        return state


def measure_fit(learner, state, source, key: jax.Array, loop_steps: int) -> tuple:
    """(compile s, step ms, flops, temp MiB, loop compile s, loop step ms) of one fit."""
    k_data, k_step = rng.streams(key, "data", "step")
    arrays, static = eqx.partition((learner, source, state), eqx.is_array)

    def bare(arrays, k_data, k_step, t):
        learner, source, state = eqx.combine(arrays, static)
        new, metrics = learner.step(k_step, state, source(k_data, t))
        return eqx.filter(new, eqx.is_array), metrics

    step = compiled(bare, (arrays, k_data, k_step, jnp.asarray(0)))
    start, n = jnp.asarray(0), jnp.asarray(max(loop_steps, 1))
    t0 = time.perf_counter()
    jax.block_until_ready(training.train_chunk(learner, source, state, k_data, k_step, start, n))
    first = time.perf_counter() - t0
    seconds = repeat(lambda: jax.block_until_ready(training.train_chunk(learner, source, state, k_data, k_step,
                                                                        start, n)), min_s=0.5, min_calls=3)
    loop_ms = 1000 * seconds / int(n)
    return step.compile_s, step.ms, step.flops, step.temp_mib, max(first - seconds, 0.0), loop_ms


def bench(experiment_id: str, tier: str = "cpu", peak: float = float("nan"),
          on_figure: Callable[[FitFigure], None] | None = None, first_fit_only: bool = False) -> list[FitFigure]:
    """Figures of every fit of every cell of the experiment's tier (seed 0)."""
    exp = experiments.load(experiment_id)
    cfg = runner.resolve_config(exp, tier, {})
    out: list[FitFigure] = []

    def record(fig: FitFigure) -> None:
        out.append(fig)
        if on_figure is not None:
            on_figure(fig)

    for cell in exp.cell_list(cfg):
        ctx = BenchContext(exp, tier, cell, peak, record, first_fit_only)
        try:
            with jax.enable_x64(exp.x64):
                exp.run(cfg, cell, rng.root_key(0), ctx)
        except _Measured:
            pass
    return out
