"""An RNN with adaptive activation functions (Geadah, Kerg, Horoi, Wolf, Lajoie 2020, arXiv
2006.12253; the authors' NonlinMod code).

gamma(x; n, s) = (1 - s) softplus(n x) / n + s sigmoid(n x): gain n > 0 and saturation s in
[0, 1] move it between a softplus (s = 0, a ReLU as n grows) and a sigmoid (s = 1). Its
derivatives with respect to x, n and s are the analytic ones of the authors' custom
backward (`gamma` is a custom_jvp; the tests hold it to autodiff of the plain formula):

    d/dx = (1 - s) sig(nx) + s n sig(nx)(1 - sig(nx))
    d/ds = sig(nx) - softplus(nx) / n
    d/dn = (1 - s)/n (x sig(nx) - softplus(nx)/n) + s x sig(nx)(1 - sig(nx))

The network: h_t = gamma(W h_{t-1} + U x_t + b; n, s), read out at the last step.
`activation`: "fixed" (n, s held at `n0`, `s0`), "homogeneous" (one learned n, s for the
network) or "heterogeneous" (one per neuron, drawn n ~ U(1, 5), s ~ U(0, 1) as the spec
proposes). Learned values are clipped to n >= 0.1 and s in [0, 1] in the forward pass
(this lab's choice; the clip stops their gradient at the bounds). W starts as Henaff et
al.'s block rotations (angles ~ U(-pi, pi)), U Kaiming-normal, b zero, as the authors'
code initialises its RNN.
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
from complab.models.nnrnn import block_rotations

ACTIVATIONS = ("fixed", "homogeneous", "heterogeneous")
N_MIN = 0.1


def gamma_reference(x: Array, n: Array, s: Array) -> Array:
    """The plain formula (differentiated by autodiff)."""
    return (1 - s) * jax.nn.softplus(n * x) / n + s * jax.nn.sigmoid(n * x)


@jax.custom_jvp
def gamma(x: Array, n: Array, s: Array) -> Array:
    return gamma_reference(x, n, s)


@gamma.defjvp
def _gamma_jvp(primals, tangents):
    x, n, s = primals
    dx, dn, ds = tangents
    sig, soft = jax.nn.sigmoid(n * x), jax.nn.softplus(n * x) / n
    bump = sig * (1 - sig)
    d_x = (1 - s) * sig + s * n * bump
    d_s = sig - soft
    d_n = (1 - s) / n * (x * sig - soft) + s * x * bump
    return (1 - s) * soft + s * sig, d_x * dx + d_n * dn + d_s * ds


@dataclass(frozen=True)
class Config:
    hidden: int = 64
    activation: Literal["fixed", "homogeneous", "heterogeneous"] = "heterogeneous"
    n0: float = 1.0  # the fixed or homogeneous start: gain
    s0: float = 0.0  # and saturation

    def __post_init__(self):
        require(self.activation in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}, got "
                f"{self.activation!r}")
        require(self.hidden >= 2 and self.hidden % 2 == 0, f"hidden must be even and >= 2, got {self.hidden}")
        require(self.n0 >= N_MIN and 0 <= self.s0 <= 1, f"need n0 >= {N_MIN} and s0 in [0, 1]; got {self}")


class GammaRNN(AbstractModel):
    learned: bool = eqx.field(static=True)
    w: Array
    u: Array
    b: Array
    n: Array  # [1] or [hidden]
    s: Array
    out: eqx.nn.Linear

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        kw, ku, ko, kn, ks = jax.random.split(key, 5)
        half = cfg.hidden // 2
        self.w = block_rotations(jnp.ones(half), jax.random.uniform(kw, (half,), minval=-jnp.pi, maxval=jnp.pi))
        self.u = initial_weight("kaiming_normal", cfg.hidden, d_in, ku)
        self.b = jnp.zeros(cfg.hidden)
        self.out = eqx.nn.Linear(cfg.hidden, d_out, key=ko)
        self.learned = cfg.activation != "fixed"
        if cfg.activation == "heterogeneous":
            self.n = jax.random.uniform(kn, (cfg.hidden,), minval=1.0, maxval=5.0)
            self.s = jax.random.uniform(ks, (cfg.hidden,))
        else:
            self.n, self.s = jnp.full(1, cfg.n0), jnp.full(1, cfg.s0)

    def shape(self) -> tuple[Array, Array]:
        """(n, s) as the forward pass uses them."""
        n, s = jnp.maximum(self.n, N_MIN), jnp.clip(self.s, 0.0, 1.0)
        if not self.learned:
            n, s = jax.lax.stop_gradient(n), jax.lax.stop_gradient(s)
        return n, s

    def states(self, x: Float[Array, "time d_in"]) -> Array:
        n, s = self.shape()
        drive = x @ self.u.T + self.b[None]

        def step(h, z):
            h = gamma(z + self.w @ h, n, s)
            return h, h

        return jax.lax.scan(step, jnp.zeros(self.w.shape[0]), drive)[1]

    def __call__(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> Array:
        del key, valid, train
        return jax.vmap(self.out)(self.states(x))

    def last(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> Array:
        """The output at the last position only."""
        return self.out(self.states(x)[-1])

    def trace(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> dict[str, Array]:
        h = self.states(x)
        return {"hidden": h, "out": jax.vmap(self.out)(h)}
