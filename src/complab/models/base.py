"""The model interface (DESIGN: Model).

A model is an Equinox module built as `Model(cfg, *, key)` that maps one example
(a sequence of tokens, shape [time, d_in]) to outputs [time, d_out]; batching is
`jax.vmap` in the learner. `trace(x)` returns named intermediates
("block0.mixer.out", ...) for probes.
"""

import abc

import equinox as eqx
from jaxtyping import Array, Float


class AbstractModel(eqx.Module):
    @abc.abstractmethod
    def __call__(self, x: Float[Array, "time d_in"]) -> Float[Array, "time d_out"]:
        """Outputs for every position of one sequence."""

    @abc.abstractmethod
    def trace(self, x: Float[Array, "time d_in"]) -> dict[str, Array]:
        """Named intermediates of the forward pass, the output included as "out"."""
