"""Few-shot sinusoid regression (Finn et al. 2017), the meta-learning papers' first task.

A task is y = A sin(x + phase) with A ~ U[amplitude] and phase ~ U[phase]; inputs
x ~ U[x_range]. Defaults are those of the contrastive-rule paper's code
(smonsays/contrastive-meta-learning: A in [0.1, 0.5], phase in [0, pi], x in [-5, 5],
10 support and 10 query points); MAML's own setting is A in [0.1, 5], phase in [0, pi].
Tasks are drawn fresh, so "train" and "test" differ in their streams only (meta-test
tasks are new tasks of the same family).

Formats: few-shot episodes (`episodes`: support and query sets per task, "task" holding
[A, phase]) and in-context sequences (`sample`: `context` pairs then the query with y
zeroed; tokens concat(x, y); the loss is the squared error at the query).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean


@dataclass(frozen=True)
class Config:
    amplitude: tuple[float, float] = (0.1, 0.5)
    phase: tuple[float, float] = (0.0, float(np.pi))
    x_range: tuple[float, float] = (-5.0, 5.0)
    context: int = 10  # in-context format only

    def __post_init__(self):
        require(all(len(r) == 2 and r[0] <= r[1] for r in (self.amplitude, self.phase, self.x_range))
                and self.amplitude[0] >= 0 and self.x_range[0] < self.x_range[1] and self.context >= 1,
                f"amplitude, phase and x_range are (low, high) with low <= high (amplitude >= 0, x_range not empty) "
                f"and context >= 1; got {self}")


class Sinusoid(AbstractTask):
    cfg: Config
    splits: tuple[str, ...] = ("train", "test")

    def __init__(self, cfg: Config):
        self.cfg = cfg

    @property
    def dims(self) -> tuple[int, int]:
        return 2, 1

    def _draw(self, key: jax.Array, tasks: int, points: int) -> tuple[Array, Array, Array]:
        c = self.cfg
        u = jax.random.uniform(key, (tasks, points + 2))  # one draw: amplitude, phase, the inputs
        amp = c.amplitude[0] + (c.amplitude[1] - c.amplitude[0]) * u[:, 0]
        phase = c.phase[0] + (c.phase[1] - c.phase[0]) * u[:, 1]
        x = c.x_range[0] + (c.x_range[1] - c.x_range[0]) * u[:, 2:, None]
        y = amp[:, None, None] * jnp.sin(x + phase[:, None, None])
        return x, y, jnp.stack([amp, phase], -1)

    def episodes(self, key: jax.Array, split: str, tasks: int, shots: int, queries: int) -> dict[str, Array]:
        x, y, latent = self._draw(self.stream(key, split), tasks, shots + queries)
        return {"support_x": x[:, :shots], "support_y": y[:, :shots], "query_x": x[:, shots:],
                "query_y": y[:, shots:], "task": latent}

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        n = self.cfg.context + 1
        x, y, latent = self._draw(key, batch_size, n)
        mask = jnp.zeros((batch_size, n)).at[:, -1].set(1.0)
        return Batch(x=jnp.concatenate([x, y.at[:, -1].set(0.0)], -1), y=y, mask=mask, info={"task": latent})

    def loss(self, pred: Array, batch: Batch) -> Array:
        return masked_mean(((pred - batch.y) ** 2).mean(-1), batch.mask)
