"""A one-dimensional loss landscape built from data, with a deep narrow and a wide shallow
minimum (the energy-entropy picture of Zhang, Saxe, Advani, Lee 2018).

Sample i contributes

    l_i(theta) = -a_wide exp(-(theta - e_i)^2 / (2 s_wide^2))
                 - a_narrow exp(-(theta - centre - d_i)^2 / (2 s_narrow^2)),

with offsets e_i, d_i ~ N(0, tau^2): each sample places both wells slightly differently,
as data points do, so a minibatch's gradient scatters around the full one, and the scatter
at a minimum grows with its curvature (about curvature^2 tau^2 / batch). The training
loss is the mean over the `samples` samples. The defaults put the narrow minimum about
0.2 deeper than the wide one and 37 times more curved.
"""

from dataclasses import dataclass
from functools import cached_property

import jax.numpy as jnp
import numpy as np

from complab.config import require


@dataclass(frozen=True)
class Config:
    a_wide: float = 1.0
    s_wide: float = 1.0
    a_narrow: float = 1.0
    s_narrow: float = 0.1
    centre: float = 1.2
    tau: float = 0.1
    samples: int = 64

    def __post_init__(self):
        require(min(self.a_wide, self.s_wide, self.a_narrow, self.s_narrow) > 0 and self.tau >= 0,
                f"well depths and widths must be > 0 and tau >= 0; got {self}")
        require(self.s_narrow < self.s_wide and self.samples >= 2,
                f"the narrow well must be narrower than the wide one, and samples >= 2; got {self}")


class DoubleWell:
    """The landscape of one draw of sample offsets. `sample_grads` is for JAX (the descent);
    `loss` and `landmarks` work in float64 NumPy whatever JAX's precision."""

    def __init__(self, cfg: Config, seed: int):
        rng = np.random.default_rng([seed, 7])
        self.cfg = cfg
        self.wide_offsets = rng.normal(0.0, cfg.tau, cfg.samples)
        self.narrow_offsets = rng.normal(0.0, cfg.tau, cfg.samples)

    def sample_grads(self, theta, idx, xp=jnp):
        """d l_i / d theta at theta (shape s) for the samples idx (shape s + (b,))."""
        c = self.cfg
        t = theta[..., None]
        a, b = t - xp.asarray(self.wide_offsets)[idx], t - c.centre - xp.asarray(self.narrow_offsets)[idx]
        return (c.a_wide * a / c.s_wide**2 * xp.exp(-a**2 / (2 * c.s_wide**2))
                + c.a_narrow * b / c.s_narrow**2 * xp.exp(-b**2 / (2 * c.s_narrow**2)))

    def loss(self, theta) -> np.ndarray:
        c = self.cfg
        t = np.asarray(theta, np.float64)[..., None]
        return np.mean(-c.a_wide * np.exp(-(t - self.wide_offsets)**2 / (2 * c.s_wide**2))
                       - c.a_narrow * np.exp(-(t - c.centre - self.narrow_offsets)**2 / (2 * c.s_narrow**2)), -1)

    @cached_property
    def landmarks(self) -> dict:
        """The two minima (wide first), the barrier between them, their losses, curvatures
        and per-sample gradient variances, found on a fine grid."""
        grid = np.linspace(-3 * self.cfg.s_wide, self.cfg.centre + 1.0, 20001)
        loss = self.loss(grid)
        inner = np.flatnonzero((loss[1:-1] < loss[:-2]) & (loss[1:-1] < loss[2:])) + 1
        require(len(inner) == 2, f"this landscape has {len(inner)} minima, not a wide and a narrow one; widen the "
                "wells apart (centre) or narrow the narrow one")
        wide, narrow = inner
        top = wide + int(np.argmax(loss[wide:narrow]))
        step = grid[1] - grid[0]
        curv = [(loss[i + 1] - 2 * loss[i] + loss[i - 1]) / step**2 for i in (wide, narrow)]
        var = np.var(self.sample_grads(grid[[wide, narrow]], np.arange(self.cfg.samples)[None], xp=np), axis=1)
        return {"wide": grid[wide], "narrow": grid[narrow], "barrier": grid[top],
                "loss": (loss[wide], loss[narrow], loss[top]), "curvature": tuple(curv), "noise": tuple(var.tolist())}
