"""The training loop behind `ctx.fit`: chunks of steps inside one jit, evaluation
curves, checkpoints with Equinox leaf serialisation, resume, progress and metrics.

Data for a fit (`as_data`): a task split (`TaskData`), a function `(key, step) ->
batch`, or None when the learner makes its own evaluations (ES on a function).

Keys: the fit's key is derived from the caller's key and the fit's *name*; the
batch and step keys of step t are `fold_in(key_data, t)` and `fold_in(key_step, t)`,
so two fits of a run never see the same batches and a resumed fit sees exactly the
batches an uninterrupted one would. A chunk is a `lax.while_loop` over a *traced*
number of steps, so one fit compiles its step once, whatever the chunk lengths
(log points, evaluation points, the last short chunk), and every chunk runs the
same compiled program: a fit resumed from any checkpoint ends in the same state,
bit for bit. Checkpoints are taken at chunk boundaries, when due by wall time,
after the chunk's metrics are written. Each carries the step, the run and fit it
belongs to and a SHA-256 of its leaves; a checkpoint that fails any of these is never
trained on: it is moved aside (`<name>.eqx.refused`) with a warning and the fit
starts from step 0.

Evaluations: `evaluate(key, state) -> {name: scalar or small array}` is jitted and
runs at the steps in `eval_at` (`linear_steps` / `log_steps` make them) with the key
`fold_in(key_eval, t)`; the points are written before the checkpoint that follows
them, so a resumed fit never loses one.
"""

import hashlib
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import interrupts, rng
from complab.errors import CheckpointError, ComplabError, NaNLossError
from complab.learners.base import AbstractLearner
from complab.tasks.base import AbstractTask


class TaskData(eqx.Module):
    """Batches of a task's split."""

    task: AbstractTask
    split: str = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)

    def __call__(self, key: jax.Array, t: jax.Array) -> Any:
        return self.task.sample(key, self.split, self.batch_size)


class FnData(eqx.Module):
    """Batches from a function `(key, step) -> batch` (a stream of teacher samples)."""

    fn: Callable

    def __call__(self, key: jax.Array, t: jax.Array) -> Any:
        return self.fn(key, t)


class NoData(eqx.Module):
    """For learners that make their own evaluations: every batch is None."""

    def __call__(self, key: jax.Array, t: jax.Array) -> None:
        return None


def as_data(data: Any, batch_size: int | None = None, split: str = "train") -> eqx.Module:
    """A fit's data source from a task (needs `batch_size`), a function or None."""
    if data is None:
        return NoData()
    if isinstance(data, AbstractTask):
        if batch_size is None or batch_size < 1:
            raise ComplabError(f"training on {type(data).__name__} needs a batch_size >= 1, got {batch_size}")
        if split not in data.splits:
            raise ComplabError(f"{type(data).__name__} has no split {split!r}; its splits are: "
                               f"{', '.join(data.splits)}")
        return TaskData(data, split, batch_size)
    if isinstance(data, (TaskData, FnData, NoData)):
        return data
    if callable(data):
        return FnData(data)
    raise ComplabError(f"a fit trains from a task, a function (key, step) -> batch, or None; got {type(data).__name__}")


def linear_steps(steps: int, points: int, start: int = 0) -> tuple[int, ...]:
    """`points` evenly spaced evaluation steps from `start` to `steps` (both included)."""
    return tuple(sorted({int(round(v)) for v in np.linspace(start, steps, max(points, 2))}))


def log_steps(steps: int, points: int, first: int = 1) -> tuple[int, ...]:
    """About `points` log-spaced evaluation steps from `first` to `steps`, plus step 0."""
    return (0,) + tuple(sorted({int(round(v)) for v in np.geomspace(first, steps, max(points, 2))}))


@eqx.filter_jit
def train_chunk(learner, data, state, k_data, k_step, start, n):
    """Up to `n` (traced) learner steps from step `start` in one compiled call: the new
    state, the summed metrics, the first step with a non-finite loss (0: none) and
    whether the trainable parameters are finite. Only the state's arrays are carried
    through the loop; the rest (an `eqx.nn.MLP`'s activation function) stays fixed."""
    _, shapes = eqx.filter_eval_shape(learner.step, k_step, state, data(k_data, start))
    sums0 = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    arrays, fixed = eqx.partition(state, eqx.is_array)

    def cond(carry):
        i, _, _, bad = carry
        return (i < n) & (bad == 0)

    def body(carry):
        i, arrays, sums, bad = carry
        t = start + i
        new, metrics = learner.step(jax.random.fold_in(k_step, t), eqx.combine(arrays, fixed),
                                    data(jax.random.fold_in(k_data, t), t))
        ok = jnp.isfinite(metrics["loss"])
        return i + 1, eqx.filter(new, eqx.is_array), jax.tree.map(jnp.add, sums, metrics), jnp.where(ok, 0, t + 1)

    i, arrays, sums, bad = jax.lax.while_loop(cond, body, (jnp.zeros((), start.dtype), arrays, sums0,
                                                           jnp.zeros((), start.dtype)))
    state = eqx.combine(arrays, fixed)
    leaves = jax.tree.leaves(eqx.filter(learner.params(state), eqx.is_inexact_array))
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.array(True)
    return state, jax.tree.map(lambda s: s / jnp.maximum(i, 1), sums), bad, finite


@eqx.filter_jit
def evaluation(evaluate, key, state):
    """`evaluate(key, state)` jitted, as `fit` runs it: a run that evaluates its final state with the same
    `evaluate` after `fit` reuses the compiled program."""
    return evaluate(key, state)


CHECKPOINT_MAGIC = b"complab-checkpoint 1\n"
LOG = logging.getLogger("complab")


def save_checkpoint(path: Path, state: Any, step: int, identity: str = "") -> None:
    """Atomically write (state, step): a reader sees the old file or the new, never half.
    A header holds the step, what the checkpoint belongs to (`identity`: the run and the
    fit) and the SHA-256 of the serialised leaves, all verified on load."""
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, (state, jnp.asarray(step, jnp.int32)))
    payload = buffer.getvalue()
    header = json.dumps({"step": int(step), "identity": identity, "sha256": hashlib.sha256(payload).hexdigest()})
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(CHECKPOINT_MAGIC + header.encode() + b"\n" + payload)
    os.replace(tmp, path)


def load_checkpoint(path: Path, like: Any, identity: str = "") -> tuple[Any, int]:
    """(state, step) from a checkpoint written by `save_checkpoint` for the same `identity`;
    a damaged, foreign or inconsistent file raises CheckpointError saying which (its
    leaves are only read as arrays after the checksum holds; nothing is unpickled)."""
    data = path.read_bytes()
    if not data.startswith(CHECKPOINT_MAGIC) or b"\n" not in data[len(CHECKPOINT_MAGIC):]:
        raise CheckpointError(f"checkpoint {path} is not a complab checkpoint (or is truncated)")
    line, payload = data[len(CHECKPOINT_MAGIC):].split(b"\n", 1)
    try:
        header = json.loads(line)
        expected, saved_for, saved_step = header["sha256"], header["identity"], int(header["step"])
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"checkpoint {path} has a damaged header") from None
    if hashlib.sha256(payload).hexdigest() != expected:
        raise CheckpointError(f"checkpoint {path} fails its checksum (the file is damaged)")
    if saved_for != identity:
        raise CheckpointError(f"checkpoint {path} belongs to {saved_for or 'another run'!r}, not {identity!r}")
    try:
        state, step = eqx.tree_deserialise_leaves(io.BytesIO(payload), (like, jnp.asarray(0, jnp.int32)))
    except Exception as e:  # noqa: BLE001 - any failure to read means the file is unusable
        raise CheckpointError(f"checkpoint {path} belongs to a different model ({type(e).__name__})") from None
    if int(step) != saved_step or saved_step < 0:
        raise CheckpointError(f"checkpoint {path} holds an impossible step counter ({int(step)}, header "
                              f"{saved_step})")
    return state, int(step)


def strong_types(state: Any) -> Any:
    """`state` with no weakly typed arrays (those made from Python scalars, e.g. a bias of
    `jnp.full(shape, -3.0)`). One update makes them strong; a state that starts weak
    would compile every program it enters twice, before and after the first chunk."""
    return jax.tree.map(lambda a: jnp.asarray(a, a.dtype) if getattr(a, "weak_type", False) else a, state)


def _check_eval_at(eval_at: tuple[int, ...], steps: int, name: str) -> tuple[int, ...]:
    points = tuple(sorted(set(int(t) for t in eval_at)))
    if points and (points[0] < 0 or points[-1] > steps):
        raise ComplabError(f"the evaluation steps of '{name}' must lie in [0, {steps}], got {points[0]}..{points[-1]}")
    return points


def fit(
    learner: AbstractLearner,
    state: Any,
    data: Any,
    *,
    key: jax.Array,
    steps: int,
    batch_size: int | None = None,
    split: str = "train",
    evaluate: Callable[[jax.Array, Any], dict] | None = None,
    eval_at: tuple[int, ...] = (),
    checkpoint: Path | None = None,
    checkpoint_s: float = 30.0,
    log_every: int = 0,
    on_chunk: Callable[[int, dict[str, float], float], None] | None = None,
    on_eval: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    name: str = "fit",
    identity: str = "",
) -> Any:
    """Train `steps` steps (resuming from `checkpoint` if it exists) and return the state.

    `on_chunk(step, mean_metrics, seconds)` is called after every chunk and
    `on_eval(step, values)` at every evaluation step. A non-finite loss raises
    NaNLossError naming the first bad step; the checkpoint is left as it was, so
    nothing already trained is lost. Ctrl-C (and SIGTERM, which the runner turns
    into it) checkpoints the last finished chunk before it propagates.
    """
    if steps < 0:
        raise ComplabError(f"'{name}' asks for {steps} steps; a fit needs steps >= 0")
    source = as_data(data, batch_size, split)
    state = strong_types(state)
    points = _check_eval_at(eval_at, steps, name) if evaluate is not None else ()
    log_every = log_every or max(1, steps // 50)
    k_data, k_step, k_eval = rng.streams(rng.named(key, name), "data", "step", "eval")
    done = 0
    if checkpoint is not None and checkpoint.exists():
        try:
            state, done = load_checkpoint(checkpoint, state, identity)
        except CheckpointError as e:  # never trained on: kept aside for inspection, and this fit starts over
            aside = checkpoint.with_name(checkpoint.name + ".refused")
            os.replace(checkpoint, aside)
            LOG.warning("%s; it is kept as %s and '%s' trains from step 0", e, aside.name, name)
        if done > steps:
            raise ComplabError(
                f"checkpoint {checkpoint} holds {done} steps but the fit asks for {steps}; rerun with --force"
            )

    def maybe_evaluate(t: int) -> None:
        if t in points and on_eval is not None:
            values = evaluation(evaluate, jax.random.fold_in(k_eval, t), state)
            on_eval(t, {k: np.asarray(v) for k, v in values.items()})

    if done == 0:
        maybe_evaluate(0)
    last_save = time.monotonic()
    try:
        while done < steps:
            later = [t for t in points if t > done]
            end = min(steps, (done // log_every + 1) * log_every, later[0] if later else steps)
            t0 = time.monotonic()
            new_state, metrics, bad, params_finite = train_chunk(learner, source, state, k_data, k_step,
                                                                 jnp.asarray(done), jnp.asarray(end - done))
            metrics = {k: float(v) for k, v in metrics.items()}
            if int(bad):
                raise NaNLossError(f"the loss of '{name}' became non-finite at step {int(bad)} and training stopped",
                                   step=int(bad))
            if not bool(params_finite):  # the last update of the chunk broke the parameters
                raise NaNLossError(f"the parameters of '{name}' became non-finite by step {end} and training stopped",
                                   step=end)
            state, done = new_state, end
            # the chunk's metrics and evaluation are written before the checkpoint that covers them,
            # so a kill between the two can repeat them on resume but never lose them
            if on_chunk is not None:
                on_chunk(done, metrics, time.monotonic() - t0)
            maybe_evaluate(done)
            if checkpoint is not None and (done == steps or time.monotonic() - last_save >= checkpoint_s):
                save_checkpoint(checkpoint, state, done, identity)
                last_save = time.monotonic()
            interrupts.check()  # one that Python swallowed on its way (in a finalizer, say)
    except KeyboardInterrupt:
        if checkpoint is not None and done > 0:
            save_checkpoint(checkpoint, state, done, identity)  # Ctrl-C loses no finished chunk
        raise
    return state
