"""The training loop behind `ctx.fit`: chunks of steps inside one jit (`lax.scan`),
checkpoints with Equinox leaf serialisation, resume, progress and metric logging.

Determinism across interruptions: the batch and step keys of step t are
`fold_in(key_data, t)` and `fold_in(key_step, t)`, chunk boundaries are multiples of
`log_every`, and checkpoints are taken only at chunk boundaries, so a fit resumed
from any checkpoint runs exactly the same compiled chunks on exactly the same
inputs as an uninterrupted one and ends in the same state, bit for bit. When a
checkpoint is taken is then free to depend on wall time (`checkpoint_s`).
"""

import os
import time
from pathlib import Path
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.errors import ComplabError, NaNLossError
from complab.learners.base import AbstractLearner, State
from complab.tasks.base import AbstractTask


@eqx.filter_jit
def train_chunk(learner, task, state, k_data, k_step, start, n: int, split: str, batch_size: int):
    """`n` learner steps from step `start`, inside one compiled call."""

    def body(state, i):
        t = start + i
        batch = task.sample(jax.random.fold_in(k_data, t), split, batch_size)
        return learner.step(jax.random.fold_in(k_step, t), state, batch)

    state, metrics = jax.lax.scan(body, state, jnp.arange(n))
    leaves = jax.tree.leaves(eqx.filter(state, eqx.is_inexact_array))
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.array(True)
    return state, metrics, finite


def save_checkpoint(path: Path, state: State, step: int) -> None:
    """Atomically write (state, step): a reader sees the old file or the new, never half."""
    tmp = path.with_suffix(".tmp")
    eqx.tree_serialise_leaves(tmp, (state, jnp.asarray(step, jnp.int32)))
    os.replace(tmp, path)


def load_checkpoint(path: Path, like: State) -> tuple[State, int]:
    template = (like, jnp.asarray(0, jnp.int32))
    try:
        state, step = eqx.tree_deserialise_leaves(path, template)
    except Exception as e:  # noqa: BLE001 - any failure to read means the file is unusable
        raise ComplabError(
            f"checkpoint {path} is corrupt or belongs to a different model ({type(e).__name__}); "
            "delete it to retrain that part, or rerun with --force"
        ) from None
    return state, int(step)


def fit(
    learner: AbstractLearner,
    state: State,
    task: AbstractTask,
    *,
    key: jax.Array,
    steps: int,
    batch_size: int,
    split: str = "train",
    checkpoint: Path | None = None,
    checkpoint_s: float = 30.0,
    log_every: int = 0,
    on_chunk: Callable[[int, dict[str, float], float], None] | None = None,
    name: str = "fit",
) -> State:
    """Train `steps` steps (resuming from `checkpoint` if it exists) and return the state.

    `on_chunk(step, mean_metrics, seconds)` is called after every chunk. A non-finite
    loss raises NaNLossError naming the first bad step; the checkpoint is left as it
    was, so nothing already trained is lost. Ctrl-C checkpoints the last finished
    chunk before it propagates.
    """
    log_every = log_every or max(1, steps // 50)
    k_data, k_step = rng.streams(key, "data", "step")
    done = 0
    if checkpoint is not None and checkpoint.exists():
        state, done = load_checkpoint(checkpoint, state)
        if done > steps:
            raise ComplabError(
                f"checkpoint {checkpoint} holds {done} steps but the fit asks for {steps}; rerun with --force"
            )
    last_save = time.monotonic()
    try:
        while done < steps:
            n = min(log_every, steps - done)
            t0 = time.monotonic()
            new_state, metrics, params_finite = train_chunk(learner, task, state, k_data, k_step, jnp.asarray(done),
                                                            n, split, batch_size)
            metrics = {k: np.asarray(v) for k, v in metrics.items()}
            finite = np.isfinite(metrics["loss"])
            if not finite.all():
                bad = done + int(np.argmin(finite)) + 1
                raise NaNLossError(
                    f"the loss of '{name}' became {metrics['loss'][~finite][0]} at step {bad} and training stopped",
                    step=bad,
                )
            if not bool(params_finite):  # the last update of the chunk broke the parameters
                raise NaNLossError(
                    f"the parameters of '{name}' became non-finite by step {done + n} and training stopped",
                    step=done + n,
                )
            state, done = new_state, done + n
            if checkpoint is not None and (done == steps or time.monotonic() - last_save >= checkpoint_s):
                save_checkpoint(checkpoint, state, done)
                last_save = time.monotonic()
            if on_chunk is not None:
                on_chunk(done, {k: float(v.mean()) for k, v in metrics.items()}, time.monotonic() - t0)
    except KeyboardInterrupt:
        if checkpoint is not None and done > 0:
            save_checkpoint(checkpoint, state, done)  # Ctrl-C loses no finished chunk
        raise
    return state
