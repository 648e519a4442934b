"""A residual stack of sequence mixers with a linear readout.

    h_0 = E x            (E = identity when d_model is 0, i.e. the token width)
    h_l = h_{l-1} + mixer_l(LN(h_{l-1}))     (LN only when `norm` is on)
    out = R h_L

The mixer is chosen by the type of `cfg.mixer` (each mixer's Config has `build`),
so variants are separate config classes, not flags. With one layer, no norm and no
embedding this is the single-layer model of the in-context regression literature:
the readout sees the token plus the mixer's output at that position.
"""

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
from jaxtyping import Array, Float

from complab.models.base import AbstractModel


@dataclass(frozen=True)
class Config:
    mixer: Any  # a mixer Config (models/mixers/*.py)
    layers: int = 1
    d_model: int = 0  # 0: the token width, no embedding
    norm: bool = False


class SequenceModel(AbstractModel):
    embed: eqx.nn.Linear | None
    mixers: list
    norms: list
    readout: eqx.nn.Linear

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        width = cfg.d_model or d_in
        k_embed, k_out, *k_mix = jax.random.split(key, 2 + cfg.layers)
        self.embed = eqx.nn.Linear(d_in, width, use_bias=False, key=k_embed) if cfg.d_model else None
        self.mixers = [cfg.mixer.build(width, key=k) for k in k_mix]
        self.norms = [eqx.nn.LayerNorm(width) if cfg.norm else eqx.nn.Identity() for _ in k_mix]
        self.readout = eqx.nn.Linear(width, d_out, use_bias=False, key=k_out)

    def trace(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None) -> dict[str, Array]:
        out = {}
        h = x if self.embed is None else jax.vmap(self.embed)(x)
        for i, (norm, mixer) in enumerate(zip(self.norms, self.mixers)):
            inner = mixer.trace(jax.vmap(norm)(h))
            out.update({f"block{i}.mixer.{k}": v for k, v in inner.items()})
            h = h + inner["out"]
        out["out"] = jax.vmap(self.readout)(h)
        return out

    def __call__(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None) -> Float[Array, "time d_out"]:
        return self.trace(x, key=key)["out"]
