"""A transformer with a hypernetwork bottleneck (Kobayashi, Schug, Akram et al. 2024, "When
can transformers compositionally generalize in-context?").

Task inference and task execution are separated. The encoder (a sequence model) reads
the context tokens (x_i, y_i), not the query; the mean over positions of its outputs
is a small latent code z (`latent` numbers). A linear hypernetwork maps z to the
weights of a task network, an MLP over the token's input part x:

    W_l(z) = Theta_l^0 + sum_j z_j Theta_l^j,   h_l = ReLU(h_{l-1} W_l(z)),   out = h_L W_out + b,

applied to every position's x (the query's output is the prediction; the context's show
how well the inferred network fits its own examples). Only z carries the task from
the context to the query: a model that has to pass the task through a code of a
few numbers that *generates* a network, rather than attend from the query into the
context, is what the paper finds generalises to unseen combinations of modules.
Theta^j ~ N(0, 1 / (fan_in * latent)), Theta^0 ~ N(0, 1 / fan_in).
"""

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from complab.config import require
from complab.models.base import AbstractModel
from complab.models.sequence import SequenceModel


@dataclass(frozen=True)
class Config:
    encoder: Any  # a sequence.Config: reads the context tokens
    x_dim: int  # the input part of a token (its first x_dim numbers); the rest are the label
    latent: int = 8
    hidden: int = 32  # the task network's width
    layers: int = 1  # the task network's generated hidden layers

    def __post_init__(self):
        require(min(self.x_dim, self.latent, self.hidden, self.layers) >= 1,
                f"the hypernetwork head needs x_dim, latent, hidden and layers >= 1, got x_dim={self.x_dim}, "
                f"latent={self.latent}, hidden={self.hidden}, layers={self.layers}")


class Bottleneck(AbstractModel):
    encoder: SequenceModel
    templates: list[Float[Array, "latent_plus_one fan_in fan_out"]]
    readout: eqx.nn.Linear
    cfg: Config = eqx.field(static=True)

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        require(d_in > cfg.x_dim, f"tokens of width {d_in} have no label part after x_dim={cfg.x_dim} inputs")
        k_enc, k_out, *k_layers = jax.random.split(key, 2 + cfg.layers)
        self.encoder = SequenceModel(cfg.encoder, d_in, cfg.latent, key=k_enc)
        dims = [cfg.x_dim] + [cfg.hidden] * cfg.layers
        scale = np.array([1.0] + [1.0 / np.sqrt(cfg.latent)] * cfg.latent)[:, None, None]
        self.templates = [jax.random.normal(k, (cfg.latent + 1, i, o)) * scale / np.sqrt(i)
                          for k, i, o in zip(k_layers, dims, dims[1:])]
        self.readout = eqx.nn.Linear(cfg.hidden, d_out, key=k_out)
        self.cfg = cfg

    def code(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
             train: bool = False) -> Float[Array, " latent"]:
        """z: the mean encoder output over the context (every token but the last, the query)."""
        return self.encoder(x[:-1], key=key, train=train).mean(0)

    def task_network(self, z: Float[Array, " latent"], x: Float[Array, "n x_dim"]) -> Float[Array, "n d_out"]:
        z1 = jnp.concatenate([jnp.ones((1,), z.dtype), z])
        h = x
        for theta in self.templates:
            h = jax.nn.relu(h @ jnp.einsum("j,jio->io", z1, theta))
        return jax.vmap(self.readout)(h)

    def trace(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
              valid: Bool[Array, " time"] | None = None, train: bool = False) -> dict[str, Array]:
        z = self.code(x, key=key, train=train)
        return {"code": z, "out": self.task_network(z, x[:, :self.cfg.x_dim])}

    def __call__(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
                 valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, "time d_out"]:
        return self.trace(x, key=key, train=train)["out"]

    def last(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
             valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, " d_out"]:
        """The query's prediction alone (the same as `self(x)[-1]`)."""
        return self.task_network(self.code(x, key=key, train=train), x[-1:, :self.cfg.x_dim])[0]
