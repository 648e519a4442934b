"""The linear recurrent unit (Orvieto et al. 2023, "Resurrecting recurrent neural
networks for long sequences"; as in Zucchet et al. 2023's online-learning code).

A complex diagonal recurrence with an exponential parametrisation:

    lambda = exp(-exp(nu) + i exp(theta)),   gamma = exp(gamma_log)
    h_t = lambda * h_{t-1} + gamma * (B x_t)          (B complex, [state, dim])
    y_t = Re(C h_t) + D * x_t                         (C complex, [dim, state]; D real)

Initialisation: |lambda| uniform on the ring [r_min, r_max] (by its squared modulus),
phase uniform in [0, max_phase]; gamma = sqrt(1 - |lambda|^2); Re B, Im B ~ N(0,
1/(2 dim)); Re C, Im C ~ N(0, 1/state); D ~ N(0, 1). The parallel form is an
associative scan of the linear recurrence.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float

from complab.config import require
from complab.models.mixers.base import AbstractMixer, diagonal_scan


@dataclass(frozen=True)
class Config:
    state: int = 64  # N complex state dimensions
    r_min: float = 0.0
    r_max: float = 1.0
    max_phase: float = 6.28

    def __post_init__(self):
        require(self.state >= 1 and 0 <= self.r_min < self.r_max <= 1 and self.max_phase >= 0,
                f"LRU needs state >= 1, 0 <= r_min < r_max <= 1 and max_phase >= 0, got {self}")

    def build(self, dim: int, *, key: jax.Array) -> "LRU":
        return LRU(self, dim, key=key)


class LRU(AbstractMixer):
    nu_log: Float[Array, " state"]
    theta_log: Float[Array, " state"]
    gamma_log: Float[Array, " state"]
    b_re: Float[Array, "state dim"]
    b_im: Float[Array, "state dim"]
    c_re: Float[Array, "dim state"]
    c_im: Float[Array, "dim state"]
    d: Float[Array, " dim"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        n = cfg.state
        k = jax.random.split(key, 7)
        u1, u2 = jax.random.uniform(k[0], (n,)), jax.random.uniform(k[1], (n,))
        self.nu_log = jnp.log(-0.5 * jnp.log(u1 * (cfg.r_max**2 - cfg.r_min**2) + cfg.r_min**2))
        self.theta_log = jnp.log(jnp.maximum(cfg.max_phase * u2, 1e-8))
        modulus = jnp.exp(-jnp.exp(self.nu_log))
        self.gamma_log = jnp.log(jnp.sqrt(1 - modulus**2))
        self.b_re = jax.random.normal(k[2], (n, dim)) / jnp.sqrt(2 * dim)
        self.b_im = jax.random.normal(k[3], (n, dim)) / jnp.sqrt(2 * dim)
        self.c_re = jax.random.normal(k[4], (dim, n)) / jnp.sqrt(n)
        self.c_im = jax.random.normal(k[5], (dim, n)) / jnp.sqrt(n)
        self.d = jax.random.normal(k[6], (dim,))

    @property
    def lam(self) -> Complex[Array, " state"]:
        return jnp.exp(-jnp.exp(self.nu_log) + 1j * jnp.exp(self.theta_log))

    def drive(self, x: Float[Array, "... dim"]) -> Complex[Array, "... state"]:
        return x @ (jnp.exp(self.gamma_log)[:, None] * (self.b_re + 1j * self.b_im)).T

    def readout(self, h: Complex[Array, "... state"], x: Float[Array, "... dim"]) -> Float[Array, "... dim"]:
        return (h @ (self.c_re + 1j * self.c_im).T).real + x @ jnp.diag(self.d)

    def hidden(self, x: Float[Array, "time dim"]) -> Complex[Array, "time state"]:
        return diagonal_scan(self.lam, self.drive(x))

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        h = self.hidden(x)
        return {"hidden": h, "out": self.readout(h, x)}

    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        return self.trace(x)["out"]

    def init_state(self) -> Complex[Array, " state"]:
        return jnp.zeros(self.nu_log.shape, jnp.complex64)

    def step(self, h, x_t):
        h = self.lam * h + self.drive(x_t)
        return h, self.readout(h, x_t)
