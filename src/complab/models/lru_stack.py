"""The deep LRU network of Zucchet, Meier, Schug, Mujika, Sacramento 2023 ("Online
learning of long-range dependencies"; their `seq_model.py` and `layers.py`), with
every time step's hidden states exposed so online learners can run it one step at a
time.

    x_0 = E x                                   (encoder, d_in -> width)
    per layer l:  u = LN(x_l)
                  h_t = lambda * h_{t-1} + gamma * (B u_t)      (models/mixers/lru.py)
                  z = GELU(Re(C h_t) + D * u_t)
                  x_{l+1} = x_l + (W_1 z) * sigmoid(W_2 z)       (GLU, then the skip)
    out = R x_L                                 (decoder)

Every map but the recurrence acts on one time step, so the only temporal paths are
through the h_t: what online learners track (learners/online.py). The authors' dropout
(0.1 at paper scale) is left out: the data here are fresh every batch.
"""

from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.mixers import lru
from complab.models.mixers.base import diagonal_scan


@dataclass(frozen=True)
class Config:
    layers: int = 2
    width: int = 32  # H
    cell: lru.Config = field(default_factory=lambda: lru.Config(state=32))

    def __post_init__(self):
        require(self.layers >= 1 and self.width >= 1, f"an LRU stack needs layers >= 1 and width >= 1; got {self}")


class LRUStack(eqx.Module):
    encoder: eqx.nn.Linear
    norms: list[eqx.nn.LayerNorm]
    cells: list[lru.LRU]
    glu_value: list[eqx.nn.Linear]
    glu_gate: list[eqx.nn.Linear]
    decoder: eqx.nn.Linear

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        k_enc, k_dec, *ks = jax.random.split(key, 2 + 3 * cfg.layers)
        h = cfg.width
        self.encoder = eqx.nn.Linear(d_in, h, key=k_enc)
        self.decoder = eqx.nn.Linear(h, d_out, key=k_dec)
        self.norms = [eqx.nn.LayerNorm(h) for _ in range(cfg.layers)]
        self.cells = [lru.LRU(cfg.cell, h, key=ks[3 * i]) for i in range(cfg.layers)]
        self.glu_value = [eqx.nn.Linear(h, h, key=ks[3 * i + 1]) for i in range(cfg.layers)]
        self.glu_gate = [eqx.nn.Linear(h, h, key=ks[3 * i + 2]) for i in range(cfg.layers)]

    def _after(self, i: int, x_t, u_t, h_t):
        """Layer i's output at one step from its input, normed input and new hidden state."""
        z = jax.nn.gelu(self.cells[i].readout(h_t, u_t))
        return x_t + self.glu_value[i](z) * jax.nn.sigmoid(self.glu_gate[i](z))

    def trace(self, x: Float[Array, "time d_in"]) -> dict[str, Array]:
        """All steps at once (the recurrences as associative scans): each block's hidden
        states (`block{i}.hidden`, complex) and output (`block{i}.out`), and `out`."""
        a, named = jax.vmap(self.encoder)(x), {}
        for i, cell in enumerate(self.cells):
            u = jax.vmap(self.norms[i])(a)
            h = diagonal_scan(cell.lam, cell.drive(u))
            a = jax.vmap(lambda x_t, u_t, h_t, i=i: self._after(i, x_t, u_t, h_t))(a, u, h)
            named.update({f"block{i}.hidden": h, f"block{i}.out": a})
        return {**named, "out": jax.vmap(self.decoder)(a)}

    def __call__(self, x: Float[Array, "time d_in"]) -> Float[Array, "time d_out"]:
        return self.trace(x)["out"]

    def init_state(self) -> tuple[Array, ...]:
        return tuple(jnp.zeros(c.nu_log.shape, jnp.result_type(c.nu_log.dtype, jnp.complex64)) for c in self.cells)

    def step(self, hs: tuple[Array, ...], x_t: Float[Array, " d_in"],
             eps: tuple[tuple[Array, Array], ...] | None = None):
        """One time step: (new hidden states, output, each layer's normed input u_t). `eps`
        (real and imaginary parts per layer) is added to each new hidden state, so the
        derivative of a loss with respect to it is the loss's derivative with respect to
        h_t along this step's paths alone."""
        a, new, us = self.encoder(x_t), [], []
        for i, cell in enumerate(self.cells):
            u = self.norms[i](a)
            h = cell.lam * hs[i] + cell.drive(u)
            if eps is not None:
                h = h + eps[i][0] + 1j * eps[i][1]
            a = self._after(i, a, u, h)
            new.append(h)
            us.append(u)
        return tuple(new), self.decoder(a), tuple(us)
