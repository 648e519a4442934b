"""The sequence-mixer interface.

A mixer maps one causal sequence [time, dim] -> [time, dim]. `__call__` is the
parallel (training) form; `init_state` and `step` give the step-by-step recurrent
form, and `recurrent(x)` runs it with `lax.scan`. Tests check the two forms agree
for every mixer. `trace(x)` returns named intermediates for probes. A mixer that uses token positions
(attention's relative encodings) sets `takes_positions`; the sequence model then calls
it with `positions=` and `valid=` (the real tokens of a padded sequence).
"""

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def normal_init(key: jax.Array, shape: tuple[int, ...], fan_in: int, scale: float = 1.0) -> jax.Array:
    """Weights ~ N(0, scale^2 / fan_in), the mixers' initialisation."""
    return scale * jax.random.normal(key, shape) / jnp.sqrt(fan_in)


class AbstractMixer(eqx.Module):
    takes_positions: ClassVar[bool] = False

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        """Parallel form over a whole sequence."""

    @abc.abstractmethod
    def init_state(self) -> Any:
        """The recurrent state before the first token."""

    @abc.abstractmethod
    def step(self, state: Any, x_t: Float[Array, " dim"]) -> tuple[Any, Float[Array, " dim"]]:
        """One token of the recurrent form: (new state, output)."""

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        """Named intermediates for probes; "out" is the output. Mixers add their own."""
        return {"out": self(x)}

    def last(self, x: Float[Array, "time dim"]) -> Float[Array, " dim"]:
        """The output at the last position only (a loss that reads only the query needs no
        more); mixers that can skip the other positions' work override it."""
        return self(x)[-1]

    def recurrent(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        """Step form over a whole sequence (the reference the parallel form must match)."""
        _, y = jax.lax.scan(lambda s, x_t: self.step(s, x_t), self.init_state(), x)
        return y


def head_projections(key: jax.Array, heads: int, key_size: int, value_size: int, dim: int,
                     scale: float = 1.0) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Per-head query, key and value maps [heads, size, dim] and the output map
    [dim, heads * value_size], each ~ N(0, scale^2 / fan_in): the attention-like mixers' weights."""
    kq, kk, kv, ko = jax.random.split(key, 4)
    return (normal_init(kq, (heads, key_size, dim), dim, scale), normal_init(kk, (heads, key_size, dim), dim, scale),
            normal_init(kv, (heads, value_size, dim), dim, scale),
            normal_init(ko, (dim, heads * value_size), heads * value_size, scale))


def per_head(w: Float[Array, "heads size dim"], x: Float[Array, "time dim"]) -> Float[Array, "heads time size"]:
    return jnp.einsum("hkd,td->htk", w, x)


class AbstractRecurrentMixer(AbstractMixer):
    """A mixer with no parallel form (its state feeds back nonlinearly): `__call__`
    runs the step form. Tests check its causality, not parallel == recurrent."""

    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        return self.recurrent(x)

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        """The state after every step (`state0`, `state1`, ... for its leaves) and the output."""

        def body(state, x_t):
            state, y = self.step(state, x_t)
            return state, (state, y)

        _, (states, y) = jax.lax.scan(body, self.init_state(), x)
        return {**{f"state{i}": s for i, s in enumerate(jax.tree.leaves(states))}, "out": y}


def diagonal_scan(lam: Array, u: Array) -> Array:
    """All states h_t = lam * h_{t-1} + u_t (h_0 = 0) of a diagonal linear recurrence, by a
    parallel (associative) scan over time (axis 0); `lam` is one decay per unit."""

    def combine(left, right):
        (a1, b1), (a2, b2) = left, right
        return a1 * a2, a2 * b1 + b2

    return jax.lax.associative_scan(combine, (jnp.broadcast_to(lam, u.shape), u))[1]
