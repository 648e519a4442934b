"""Position-wise feedforward blocks of a transformer (one config class per kind).

- `MLP`: W_2 act(W_1 x + b_1) + b_2, act GELU or ReLU, hidden = `factor` x width
  (Vaswani et al. 2017);
- `SwiGLU`: W_2 (SiLU(W_1 x) * (W_3 x)), no biases (Shazeer 2020);
- mixtures of experts: models/moe.py.

A block maps one token (`__call__`); `trace(x, key)` maps a sequence and names its
intermediates ("out" the output); `key` is given in training only (expert dropout).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
from jaxtyping import Array, Float

from complab.config import require

ACTIVATIONS = {"gelu": jax.nn.gelu, "relu": jax.nn.relu}


@dataclass(frozen=True)
class MLPConfig:
    factor: float = 4.0
    activation: Literal["gelu", "relu"] = "gelu"

    def __post_init__(self):
        require(self.factor > 0, f"the MLP's hidden factor must be > 0, got {self.factor}")

    def build(self, dim: int, *, key: jax.Array) -> "MLP":
        return MLP(self, dim, key=key)


class AbstractFeedforward(eqx.Module):
    def trace(self, x: Float[Array, "time dim"], key: jax.Array | None = None) -> dict[str, Array]:
        return {"out": jax.vmap(self)(x)}


class MLP(AbstractFeedforward):
    up: eqx.nn.Linear
    down: eqx.nn.Linear
    activation: str = eqx.field(static=True)

    def __init__(self, cfg: MLPConfig, dim: int, *, key: jax.Array):
        k1, k2 = jax.random.split(key)
        hidden = max(1, round(cfg.factor * dim))
        self.up, self.down = eqx.nn.Linear(dim, hidden, key=k1), eqx.nn.Linear(hidden, dim, key=k2)
        self.activation = cfg.activation

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return self.down(ACTIVATIONS[self.activation](self.up(x)))


@dataclass(frozen=True)
class SwiGLUConfig:
    factor: float = 8 / 3

    def __post_init__(self):
        require(self.factor > 0, f"the SwiGLU's hidden factor must be > 0, got {self.factor}")

    def build(self, dim: int, *, key: jax.Array) -> "SwiGLU":
        return SwiGLU(self, dim, key=key)


class SwiGLU(AbstractFeedforward):
    gate: eqx.nn.Linear
    up: eqx.nn.Linear
    down: eqx.nn.Linear

    def __init__(self, cfg: SwiGLUConfig, dim: int, *, key: jax.Array):
        k1, k2, k3 = jax.random.split(key, 3)
        hidden = max(1, round(cfg.factor * dim))
        self.gate = eqx.nn.Linear(dim, hidden, use_bias=False, key=k1)
        self.up = eqx.nn.Linear(dim, hidden, use_bias=False, key=k2)
        self.down = eqx.nn.Linear(hidden, dim, use_bias=False, key=k3)

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return self.down(jax.nn.silu(self.gate(x)) * self.up(x))
