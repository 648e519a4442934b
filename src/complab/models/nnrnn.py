"""The non-normal RNN (Kerg, Goyette, Puelma Touzel, Gidel, Vorontsov, Bengio, Lajoie,
NeurIPS 2019) and its two baselines, one recurrence apart.

h_t = modReLU(U x_t + V h_{t-1}), modReLU(z) = sign(z) relu(|z| + b), output W h_t + c.

- "nnrnn": V = P (Theta + T) P^T, the real Schur form: P = expm(S - S^T) orthogonal (S the
  strictly upper part of a free matrix), Theta block-diagonal with 2 x 2 blocks
  alpha_i R(theta_i) (the eigenvalues' moduli alpha_i and phases theta_i), T strictly
  upper triangular: the non-normal part, the transient dynamics a normal matrix lacks.
- "orthogonal": the same with alpha fixed at 1 and T at 0 (V orthogonal, expRNN-like).
- "rnn": a free V (Glorot-normal), the plain RNN.

Initialisation as the authors' code: theta_i ~ U(0, 2 pi), alpha_i = 1, T = 0, S from
Henaff et al.'s initialiser (2 x 2 skew blocks with angles ~ U(-pi, pi)), b ~ U(-0.01,
0.01), U Glorot-normal with no bias. The authors update S by a separate optimizer
through the matrix exponential's derivative (expRNN's trick); here autodiff through
`jax.scipy.linalg.expm` gives that derivative and a learning-rate group gives S its own
rate (see experiments/nnrnn.py).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.base import AbstractModel
from complab.models.mlp import initial_weight

KINDS = ("nnrnn", "orthogonal", "rnn")


@dataclass(frozen=True)
class Config:
    kind: Literal["nnrnn", "orthogonal", "rnn"] = "nnrnn"
    hidden: int = 64

    def __post_init__(self):
        require(self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        require(self.hidden >= 2 and self.hidden % 2 == 0,
                f"hidden must be even and >= 2 (2 x 2 rotation blocks), got {self.hidden}")


def modrelu(z: Array, b: Array) -> Array:
    return jnp.sign(z) * jax.nn.relu(jnp.abs(z) + b)


def block_rotations(alpha: Array, theta: Array) -> Array:
    """The block-diagonal matrix of 2 x 2 blocks alpha_i [[cos, -sin], [sin, cos]](theta_i)."""
    n = 2 * theta.shape[0]
    i = 2 * jnp.arange(theta.shape[0])
    c, s = alpha * jnp.cos(theta), alpha * jnp.sin(theta)
    return (jnp.zeros((n, n)).at[i, i].set(c).at[i, i + 1].set(-s).at[i + 1, i].set(s).at[i + 1, i + 1].set(c))


class NonNormalRNN(AbstractModel):
    kind: str = eqx.field(static=True)
    u: Array
    b: Array
    out: eqx.nn.Linear
    v: Array | None  # "rnn"
    s: Array | None  # P's generator (its strictly upper part)
    theta: Array | None
    alpha: Array | None  # "nnrnn"
    t: Array | None  # "nnrnn": the strictly upper triangular part

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        ku, kb, ko, kv, ks, kt = jax.random.split(key, 6)
        n, half = cfg.hidden, cfg.hidden // 2
        self.kind = cfg.kind
        self.u = initial_weight("xavier_normal", n, d_in, ku)
        self.b = jax.random.uniform(kb, (n,), minval=-0.01, maxval=0.01)
        self.out = eqx.nn.Linear(n, d_out, key=ko)
        self.v = initial_weight("xavier_normal", n, n, kv) if cfg.kind == "rnn" else None
        if cfg.kind == "rnn":
            self.s = self.theta = self.alpha = self.t = None
            return
        i = 2 * jnp.arange(half)
        self.s = jnp.zeros((n, n)).at[i, i + 1].set(jax.random.uniform(ks, (half,), minval=-jnp.pi, maxval=jnp.pi))
        self.theta = jax.random.uniform(kt, (half,), minval=0.0, maxval=2 * jnp.pi)
        self.alpha = jnp.ones(half) if cfg.kind == "nnrnn" else None
        self.t = jnp.zeros((n, n)) if cfg.kind == "nnrnn" else None

    def non_normal(self) -> Array:
        """T's strictly upper triangular part (zero for the other kinds)."""
        n = self.u.shape[0]
        return jnp.triu(self.t, 1) if self.t is not None else jnp.zeros((n, n))

    def recurrent(self) -> Array:
        """V."""
        if self.kind == "rnn":
            return self.v
        upper = jnp.triu(self.s, 1)
        p = jax.scipy.linalg.expm(upper - upper.T)
        alpha = self.alpha if self.alpha is not None else jnp.ones_like(self.theta)
        core = block_rotations(alpha, self.theta)
        if self.t is not None:
            core = core + jnp.triu(self.t, 1)
        return p @ core @ p.T

    def states(self, x: Float[Array, "time d_in"]) -> Array:
        v = self.recurrent()
        drive = x @ self.u.T

        def step(h, z):
            h = modrelu(z + v @ h, self.b)
            return h, h

        return jax.lax.scan(step, jnp.zeros(v.shape[0]), drive)[1]

    def __call__(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> Array:
        del key, valid, train
        return jax.vmap(self.out)(self.states(x))

    def trace(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> dict[str, Array]:
        h = self.states(x)
        return {"hidden": h, "out": jax.vmap(self.out)(h)}
