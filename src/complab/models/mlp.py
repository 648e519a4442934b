"""A multilayer perceptron classifier with its layers in the open: the network of the
papers that study a feedforward net's weights one linear layer at a time (the dual
form of Irie et al. 2022, the permutations of Benzing et al. 2022, the Fisher of
Jastrzebski et al. 2021).

y = W_L act(... act(W_1 x + b_1) ...) + b_L, weights [out, in] (as torch stores them),
ReLU between layers. `inputs(x)` gives every linear layer's input (the keys of the
dual form, the activations that permutation matching compares); `logits(x, shifts)`
adds a perturbation to each layer's output, so a gradient with respect to the shifts is
the error signal dL/dy_l of each layer. Initialisation: Xavier-normal (std
sqrt(2 / (fan_in + fan_out))) or Kaiming-normal (std sqrt(2 / fan_in)) weights, biases
zero.

As a sequence model it maps every position on its own (a "flat" image task has one).
"""

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.base import AbstractModel


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (256, 256)
    bias: bool = True
    init: Literal["xavier_normal", "kaiming_normal"] = "xavier_normal"

    def __post_init__(self):
        require(len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden),
                f"hidden must list at least one layer width >= 1, got {self.hidden}")
        require(self.init in ("xavier_normal", "kaiming_normal"),
                f"init must be xavier_normal or kaiming_normal, got {self.init!r}")


def initial_weight(init: str, fan_out: int, fan_in: int, key: jax.Array) -> Array:
    std = (2.0 / (fan_in + fan_out)) ** 0.5 if init == "xavier_normal" else (2.0 / fan_in) ** 0.5
    return std * jax.random.normal(key, (fan_out, fan_in))


class MLP(AbstractModel):
    weights: tuple[Array, ...]
    biases: tuple[Array, ...] | None

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        widths = (d_in, *cfg.hidden, d_out)
        keys = jax.random.split(key, len(widths) - 1)
        self.weights = tuple(initial_weight(cfg.init, o, i, k) for i, o, k in zip(widths[:-1], widths[1:], keys))
        self.biases = tuple(jnp.zeros(o) for o in widths[1:]) if cfg.bias else None

    def _layer(self, i: int, h: Array) -> Array:
        y = self.weights[i] @ h
        return y if self.biases is None else y + self.biases[i]

    def inputs(self, x: Float[Array, " d_in"]) -> list[Array]:
        """The input of every linear layer (x, then each hidden layer's activations)."""
        hs = [x]
        for i in range(len(self.weights) - 1):
            hs.append(jax.nn.relu(self._layer(i, hs[-1])))
        return hs

    def logits(self, x: Float[Array, " d_in"], shifts: tuple[Array, ...] | None = None) -> Array:
        """The output, each layer's output shifted by `shifts[i]` when given."""
        h = x
        for i in range(len(self.weights)):
            y = self._layer(i, h)
            if shifts is not None:
                y = y + shifts[i]
            h = jax.nn.relu(y) if i < len(self.weights) - 1 else y
        return h

    def __call__(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> Array:
        del key, valid, train
        return jax.vmap(self.logits)(x)

    def trace(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> dict[str, Array]:
        hs = jax.vmap(self.inputs)(x)
        return {**{f"layer{i}.in": h for i, h in enumerate(hs)}, "out": self(x)}
