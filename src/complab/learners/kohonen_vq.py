"""Vector quantisation with an EMA codebook and its Kohonen (self-organising map) form
(Irie, Csordás, Schmidhuber 2023, "Topological neural discrete representation
learning à la Kohonen", arXiv 2302.07950; code IDSIA/kohonen-vae,
layers/som_vector_quantizer.py, read for this module).

Codes w_1..w_K sit on a grid (`grid`, K = its product; coordinates with the first axis
fastest, as the authors'). Each latent vector z is written to its nearest code
i*(z) = argmin_i |z - w_i|^2 (one-hot e). The EMA codebook (van den Oord et al. 2017)
keeps a count n and a sum m per code, with decay λ:

    ẽ = e P(t),   n <- λ n + (1 - λ) Σ_batch ẽ,   m <- λ m + (1 - λ) ẽᵀ Z,   w = m / n,

n Laplace-smoothed after each update, n <- (n + ε) / (Σn + K ε) Σn. P(t) spreads each
write to the winner's grid neighbours, P_ii = 1 and off the diagonal:

    "ema":      0 (plain EMA-VQ)
    "hard":     [|c_i - c_j| < 1.5] / (1 + τ t)     (the 3 x 3 neighbourhood of a 2-D grid)
    "gaussian": exp(-|c_i - c_j| (1 + τ t) / b)

with t the update count and τ `shrink` (the authors' count_unit). The codes start as
N(0, 1) draws with m = w and n = N (`counter_init`, 0 or 1 in the paper). With N = 0 a
code that wins nothing in the first updates is its first draw divided by a count near
ε: far from the data, until λ^t has shrunk that draw (hundreds of updates at λ = 0.99);
a Kohonen write reaches it through its neighbours.

The autoencoder learns by gradient on the reconstruction error plus the commitment
term β mean |sg(q) - z|^2 (β = 0.25), with the straight-through estimator
z + sg(q - z) into the decoder; the codebook learns only by the updates above.
"""

from dataclasses import dataclass
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.learners import optim
from complab.learners.base import AbstractLearner

KINDS = ("ema", "hard", "gaussian")


@dataclass(frozen=True)
class Config:
    kind: Literal["ema", "hard", "gaussian"] = "ema"
    grid: tuple[int, ...] = (8, 8)
    decay: float = 0.99
    epsilon: float = 1e-5
    shrink: float = 0.1  # τ
    base: float = 10.0  # b, the Gaussian's width (the authors' training script, tasks/simple/vq_vae.py)
    commitment: float = 0.25

    def __post_init__(self):
        require(self.kind in KINDS, f"a codebook update is one of {', '.join(KINDS)}, got {self.kind!r}")
        require(len(self.grid) >= 1 and min(self.grid) >= 1 and 0 < self.decay < 1,
                f"need a grid of positive sides and 0 < decay < 1; got {self}")

    @property
    def codes(self) -> int:
        return int(np.prod(self.grid))


def grid_coordinates(grid: tuple[int, ...]) -> np.ndarray:
    """[K, len(grid)] coordinates of each code, the first axis fastest."""
    return np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid[::-1]), -1)[:, ::-1].astype(np.float32)


def grid_distances(grid: tuple[int, ...]) -> np.ndarray:
    c = grid_coordinates(grid)
    return np.linalg.norm(c[:, None] - c[None], axis=-1)


def neighbourhood(cfg: Config, t: Array) -> Float[Array, "codes codes"]:
    """P(t): how much of a write to code i (row) reaches code j (column)."""
    d = jnp.asarray(grid_distances(cfg.grid))
    if cfg.kind == "ema":
        return jnp.eye(cfg.codes)
    if cfg.kind == "hard":
        p = (d < 1.5) / (1.0 + t * cfg.shrink)
    else:
        p = jnp.exp(-d * (1.0 + t * cfg.shrink) / cfg.base)
    return jnp.where(jnp.eye(cfg.codes, dtype=bool), 1.0, p)


class Codebook(eqx.Module):
    w: Float[Array, "codes dim"]
    sums: Float[Array, "codes dim"]
    counts: Float[Array, " codes"]
    t: Array


def start(cfg: Config, dim: int, key: jax.Array, counter_init: float | Array = 1.0) -> Codebook:
    w = jax.random.normal(key, (cfg.codes, dim))
    return Codebook(w=w, sums=w, counts=jnp.full(cfg.codes, counter_init), t=jnp.zeros(()))


def nearest(w: Float[Array, "codes dim"], z: Float[Array, "n dim"]) -> Int[Array, " n"]:
    d = (z**2).sum(-1, keepdims=True) + (w**2).sum(-1)[None] - 2 * z @ w.T
    return d.argmin(-1)


def update(cfg: Config, cb: Codebook, index: Int[Array, " n"], z: Float[Array, "n dim"]) -> Codebook:
    writes = jax.nn.one_hot(index, cfg.codes) @ neighbourhood(cfg, cb.t)
    lam = cfg.decay
    counts = lam * cb.counts + (1 - lam) * writes.sum(0)
    total = counts.sum()
    counts = (counts + cfg.epsilon) / (total + cfg.codes * cfg.epsilon) * total
    sums = lam * cb.sums + (1 - lam) * writes.T @ z
    return Codebook(w=sums / counts[:, None], sums=sums, counts=counts, t=cb.t + 1)


def usage_perplexity(index: Int[Array, " n"], codes: int) -> Array:
    """exp of the entropy of the codes' frequencies (1: one code used; K: all equally)."""
    p = jax.nn.one_hot(index, codes).mean(0)
    return jnp.exp(-(p * jnp.log(p + 1e-10)).sum())


def forward(model: Any, w: Array, x: Float[Array, "batch d_in"]) -> dict[str, Array]:
    """Reconstruction through the codebook `w` (straight through), the losses, and the codes."""
    z = jax.vmap(model.encode)(x)  # [batch, latents, dim]
    flat = z.reshape(-1, z.shape[-1])
    index = nearest(jax.lax.stop_gradient(w), jax.lax.stop_gradient(flat))
    q = jax.lax.stop_gradient(w)[index].reshape(z.shape)
    recon = jax.vmap(model.decode)(z + jax.lax.stop_gradient(q - z))
    return {"recon": ((recon - x) ** 2).mean(), "commit": ((q - z) ** 2).mean(), "index": index,
            "z": jax.lax.stop_gradient(flat)}


class State(eqx.Module):
    model: Any
    codebook: Codebook
    opt_state: Any
    step: Array


class VQLearner(AbstractLearner):
    """`counter_init` (N) is an array, not part of the static config, so that runs differing in N alone share
    their compiled steps."""

    cfg: optim.Config = eqx.field(static=True)
    vq: Config = eqx.field(static=True)
    counter_init: Array = eqx.field(default_factory=lambda: jnp.asarray(1.0), converter=jnp.asarray)

    def init(self, key: jax.Array, model: Any) -> State:
        params = eqx.filter(model, eqx.is_inexact_array)
        return State(model=model, codebook=start(self.vq, model.latent_dim, key, self.counter_init),
                     opt_state=optim.start(self.cfg, params), step=jnp.zeros((), jnp.int32))

    def params(self, state: State) -> Any:
        return eqx.filter(state.model, eqx.is_inexact_array)

    def step(self, key: jax.Array, state: State, batch: Any) -> tuple[State, dict]:
        del key
        x = batch.x.reshape(batch.x.shape[0], -1)

        def loss(model):
            out = forward(model, state.codebook.w, x)
            return out["recon"] + self.vq.commitment * out["commit"], out

        (value, out), grads = eqx.filter_value_and_grad(loss, has_aux=True)(state.model)
        model, opt_state = optim.descend(self.cfg, grads, state.opt_state, self.params(state), state.model)
        codebook = update(self.vq, state.codebook, out["index"], out["z"])
        return State(model=model, codebook=codebook, opt_state=opt_state, step=state.step + 1), {
            "loss": value, "recon": out["recon"], "perplexity": usage_perplexity(out["index"], self.vq.codes)}
