"""A linear-attention memory of key width M whose keys and queries are MLP features of
(the token's key part, a random seed): the recall model of von Oswald, Kobayashi, Akram,
Steger 2024 reduced to the part their argument rests on.

Tokens are [key part (d_key) | value part (d_value) | seed (d_seed)], the seed the same
in every token of a sequence (models read it as an extra input, A(x, r)). With
z_t = [key_t, seed]:

    phi_k(z) = W2 gelu(W1 z + b1),  phi_q likewise with its own weights   (R^M)
    S_t = sum_{s <= t} phi_k(z_s) value_s^T                               (M x d_value)
    out_t = W_o^T S_t^T phi_q(z_t)

S has rank at most M, so at most M of N > M independent values can be read back
exactly; which M may depend on the seed. Causal: out_t reads tokens up to t.

Weights start LeCun-normal (variance 1 / fan-in, truncated at 2 std, as JAX's
`lecun_normal`, Flax's and Haiku's default) and biases at zero. The init matters here:
with Equinox's default (uniform, std 0.58 / sqrt(fan-in)) gradient descent on the
worst-case objective stayed at the deterministic solution in every try
(experiments/randomized_recall.py).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from complab.config import require
from complab.models.base import AbstractModel


@dataclass(frozen=True)
class Config:
    key_width: int = 4  # M
    hidden: int = 64

    def __post_init__(self):
        require(self.key_width >= 1 and self.hidden >= 1, f"key_width and hidden must be >= 1, got {self}")


def _linear(d_in: int, d_out: int, bias: bool, key: jax.Array) -> eqx.nn.Linear:
    layer = eqx.nn.Linear(d_in, d_out, use_bias=bias, key=key)
    layer = eqx.tree_at(lambda m: m.weight, layer, jax.nn.initializers.lecun_normal()(key, (d_out, d_in)))
    return eqx.tree_at(lambda m: m.bias, layer, jnp.zeros(d_out)) if bias else layer


class _Features(eqx.Module):
    inner: eqx.nn.Linear
    outer: eqx.nn.Linear

    def __call__(self, z: Array) -> Array:
        return self.outer(jax.nn.gelu(self.inner(z)))


class SeededMemory(AbstractModel):
    keys: _Features
    queries: _Features
    readout: eqx.nn.Linear
    d_key: int = eqx.field(static=True)
    d_value: int = eqx.field(static=True)

    def __init__(self, cfg: Config, d_key: int, d_value: int, d_seed: int, *, key: jax.Array):
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        self.keys = _Features(_linear(d_key + d_seed, cfg.hidden, True, k1), _linear(cfg.hidden, cfg.key_width,
                                                                                      False, k2))
        self.queries = _Features(_linear(d_key + d_seed, cfg.hidden, True, k3), _linear(cfg.hidden, cfg.key_width,
                                                                                         False, k4))
        self.readout = _linear(d_value, d_value, False, k5)
        self.d_key, self.d_value = d_key, d_value

    def _parts(self, x: Float[Array, "time d_in"]) -> tuple[Array, Array]:
        z = jnp.concatenate([x[:, :self.d_key], x[:, self.d_key + self.d_value:]], -1)
        return z, x[:, self.d_key:self.d_key + self.d_value]

    def trace(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
              valid: Bool[Array, " time"] | None = None, train: bool = False) -> dict[str, Array]:
        z, values = self._parts(x)
        phi_k, phi_q = jax.vmap(self.keys)(z), jax.vmap(self.queries)(z)
        memory = jnp.cumsum(phi_k[:, :, None] * values[:, None, :], 0)  # [time, M, d_value]
        read = jnp.einsum("tm,tmv->tv", phi_q, memory)
        return {"keys": phi_k, "queries": phi_q, "memory": memory[-1], "out": jax.vmap(self.readout)(read)}

    def __call__(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
                 valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, "time d_out"]:
        return self.trace(x)["out"]

    def last(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
             valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, " d_out"]:
        """The output at the last position alone (the memory of every token, the query of the last)."""
        z, values = self._parts(x)
        memory = jax.vmap(self.keys)(z).T @ values
        return self.readout(self.queries(z[-1]) @ memory)
