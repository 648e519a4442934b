"""A small VQ-VAE's encoder and decoder (the cpu stand-in of Irie et al. 2023's
convolutional VQ-VAE): an MLP maps an input to `latents` vectors of `latent_dim`
(each quantised by learners/kohonen_vq.py), another MLP maps the (quantised) vectors
back to the input."""

from dataclasses import dataclass

import equinox as eqx
import jax
from jaxtyping import Array, Float

from complab.config import require


@dataclass(frozen=True)
class Config:
    hidden: int = 128
    depth: int = 2  # hidden layers of each MLP
    latents: int = 4
    latent_dim: int = 16

    def __post_init__(self):
        require(min(self.hidden, self.depth, self.latents, self.latent_dim) >= 1,
                f"hidden, depth, latents and latent_dim must be >= 1, got {self}")


class VQAutoencoder(eqx.Module):
    encoder: eqx.nn.MLP
    decoder: eqx.nn.MLP
    latents: int = eqx.field(static=True)
    latent_dim: int = eqx.field(static=True)

    def __init__(self, cfg: Config, d_in: int, *, key: jax.Array):
        k_e, k_d = jax.random.split(key)
        code = cfg.latents * cfg.latent_dim
        self.encoder = eqx.nn.MLP(d_in, code, cfg.hidden, cfg.depth, activation=jax.nn.relu, key=k_e)
        self.decoder = eqx.nn.MLP(code, d_in, cfg.hidden, cfg.depth, activation=jax.nn.relu, key=k_d)
        self.latents, self.latent_dim = cfg.latents, cfg.latent_dim

    def encode(self, x: Float[Array, " d_in"]) -> Float[Array, "latents latent_dim"]:
        return self.encoder(x).reshape(self.latents, self.latent_dim)

    def decode(self, q: Float[Array, "latents latent_dim"]) -> Float[Array, " d_in"]:
        return self.decoder(q.reshape(-1))
