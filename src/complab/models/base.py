"""The model interface (DESIGN: Model).

A model is an Equinox module built as `Model(cfg, *, key)` that maps one example
(a sequence of tokens, shape [time, d_in]) to outputs [time, d_out]; batching is
`jax.vmap` in the learner. `key` feeds whatever is random in a forward pass
(dropout, randomized positions, sampling); None means deterministic (evaluation).
`train` switches on what acts only in training (dropout).
`trace(x)` returns named intermediates ("block0.mixer.out", ...) for probes.

Padded batches: a batch carries a `mask` of the positions the loss counts
(tasks/base.py). Causal models need nothing more (padding after a sequence cannot
change its outputs); a task whose model may be non-causal also gives `info["valid"]`,
the real tokens, which `learners.supervised.predict` passes as `valid`.
"""

import abc

import equinox as eqx
import jax
from jaxtyping import Array, Bool, Float


class AbstractModel(eqx.Module):
    @abc.abstractmethod
    def __call__(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
                 valid: Bool[Array, " time"] | None = None, train: bool = False) -> Float[Array, "time d_out"]:
        """Outputs for every position of one sequence."""

    @abc.abstractmethod
    def trace(self, x: Float[Array, "time d_in"], *, key: jax.Array | None = None,
              valid: Bool[Array, " time"] | None = None, train: bool = False) -> dict[str, Array]:
        """Named intermediates of the forward pass, the output included as "out"."""
