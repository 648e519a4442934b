"""Meta-learning students (Schug et al. ICLR 2024, "Discovering modular solutions that
generalize compositionally"): each maps a set of inputs [n, d_in] to outputs [n, d_out].

- `MLP`: hidden layers (ReLU, or a smooth `activation`) and a linear `readout`; with all parameters adapted it is
  MAML's learned initialisation, with the readout only ANIL's student.
- `LinearHypernetwork`: hidden layers ReLU(h W_l(e_l)) whose weights are
  linear in a task `embedding` e [layers, modules]: W_l(e_l) = sum_m e_lm Theta_l^m, the
  module templates Theta (no bias); a linear `readout`. The inner loop adapts the
  embedding, the outer loop learns the templates, the readout and (unless the learner
  fixes it, `learn_init=False`) the embedding's starting value (a student of the
  teacher's own form, tasks/hyperteacher.py).
- `MLPHypernetwork`: the same base network whose weights an MLP (`generator`, ReLU,
  `generator_hidden` wide) makes from the embedding: a nonlinear weight generator.

Every student has a linear `readout` with a bias `readout_bias` (starting at zero): the
teacher standardises each task's outputs, a per-task shift that the paper's
hypernetwork students adapt as a "fast bias" beside the embedding.

Initialisation: templates and matrices N(0, 1 / fan_in) (the generator's last layer
scaled so the generated weights start near that variance); the embedding starts at
1 / sqrt(modules) in every entry (every module on equally).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from complab.config import require


@dataclass(frozen=True)
class Config:
    kind: Literal["mlp", "linear_hnet", "mlp_hnet"] = "linear_hnet"
    hidden: int = 32
    layers: int = 1  # hidden (generated) layers
    modules: int = 12  # the embedding's size per layer (hypernetworks)
    generator_hidden: int = 64  # mlp_hnet only
    activation: Literal["relu", "tanh", "gelu"] = "relu"  # mlp only

    def __post_init__(self):
        require(self.kind in ("mlp", "linear_hnet", "mlp_hnet"),
                f"a student is mlp, linear_hnet or mlp_hnet, got {self.kind!r}")
        require(self.activation in ACTIVATIONS, f"a student's activation is one of {', '.join(ACTIVATIONS)}, got "
                f"{self.activation!r}")
        require(min(self.hidden, self.layers, self.modules, self.generator_hidden) >= 1,
                f"a student needs hidden, layers, modules and generator_hidden >= 1, got {self}")

    def build(self, d_in: int, d_out: int, *, key: jax.Array) -> eqx.Module:
        cls = {"mlp": MLP, "linear_hnet": LinearHypernetwork, "mlp_hnet": MLPHypernetwork}[self.kind]
        return cls(self, d_in, d_out, key=key)


ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu}


def _normal(key, shape, fan_in):
    return jax.random.normal(key, shape) / np.sqrt(fan_in)


def _dims(cfg: Config, d_in: int) -> list[tuple[int, int]]:
    sizes = [d_in] + [cfg.hidden] * cfg.layers
    return list(zip(sizes, sizes[1:]))


class MLP(eqx.Module):
    weights: list[Float[Array, "i o"]]
    biases: list[Float[Array, " o"]]
    readout: Float[Array, "h out"]
    readout_bias: Float[Array, " out"]
    activation: str = eqx.field(static=True)

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        keys = jax.random.split(key, cfg.layers + 1)
        self.activation = cfg.activation
        self.weights = [_normal(k, (i, o), i) for k, (i, o) in zip(keys, _dims(cfg, d_in))]
        self.biases = [jnp.zeros(o) for _, o in _dims(cfg, d_in)]
        self.readout = _normal(keys[-1], (cfg.hidden, d_out), cfg.hidden)
        self.readout_bias = jnp.zeros(d_out)

    def __call__(self, x: Float[Array, "n d"]) -> Float[Array, "n out"]:
        for w, b in zip(self.weights, self.biases):
            x = ACTIVATIONS[self.activation](x @ w + b[None])
        return x @ self.readout + self.readout_bias[None]


class LinearHypernetwork(eqx.Module):
    templates: list[Float[Array, "modules i o"]]
    embedding: Float[Array, "layers modules"]
    readout: Float[Array, "h out"]
    readout_bias: Float[Array, " out"]

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        keys = jax.random.split(key, cfg.layers + 1)
        self.templates = [_normal(k, (cfg.modules, i, o), i) for k, (i, o) in zip(keys, _dims(cfg, d_in))]
        self.embedding = jnp.full((cfg.layers, cfg.modules), 1 / np.sqrt(cfg.modules))
        self.readout = _normal(keys[-1], (cfg.hidden, d_out), cfg.hidden)
        self.readout_bias = jnp.zeros(d_out)

    def weights(self) -> list[Array]:
        return [jnp.einsum("m,mio->io", e, t) for e, t in zip(self.embedding, self.templates)]

    def __call__(self, x: Float[Array, "n d"]) -> Float[Array, "n out"]:
        for w in self.weights():
            x = jax.nn.relu(x @ w)
        return x @ self.readout + self.readout_bias[None]


class MLPHypernetwork(eqx.Module):
    generator: list[tuple[eqx.nn.Linear, eqx.nn.Linear]]  # one per generated layer: embedding -> ReLU -> weights
    embedding: Float[Array, "layers modules"]
    readout: Float[Array, "h out"]
    readout_bias: Float[Array, " out"]
    shapes: tuple[tuple[int, int], ...] = eqx.field(static=True)

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        self.shapes = tuple(_dims(cfg, d_in))
        keys = jax.random.split(key, cfg.layers + 1)
        self.generator = []
        for k, (i, o) in zip(keys, self.shapes):
            k1, k2 = jax.random.split(k)
            first = eqx.nn.Linear(cfg.modules, cfg.generator_hidden, key=k1)
            last = eqx.nn.Linear(cfg.generator_hidden, i * o, key=k2)
            # the generated weights start with variance ~ 1 / fan_in, as the other students' matrices
            last = eqx.tree_at(lambda m: m.weight, last, last.weight * np.sqrt(3.0 / i))
            self.generator.append((first, last))
        self.embedding = jnp.full((cfg.layers, cfg.modules), 1 / np.sqrt(cfg.modules))
        self.readout = _normal(keys[-1], (cfg.hidden, d_out), cfg.hidden)
        self.readout_bias = jnp.zeros(d_out)

    def weights(self) -> list[Array]:
        return [last(jax.nn.relu(first(e))).reshape(s) for (first, last), e, s in zip(self.generator, self.embedding,
                                                                                     self.shapes)]

    def __call__(self, x: Float[Array, "n d"]) -> Float[Array, "n out"]:
        for w in self.weights():
            x = jax.nn.relu(x @ w)
        return x @ self.readout + self.readout_bias[None]
