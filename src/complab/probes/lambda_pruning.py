"""Pruning a gated RNN's neurons by their recurrent decay lambda (Zucchet et al. 2023,
Sec. 4 and Fig. 2: in trained gated RNNs only perfect-memory neurons, lambda ~ 1, and
perfect-forget neurons, lambda ~ 0, influence the output, as in the construction).

`prune_by_lambda` silences every neuron whose lambda lies strictly between `low` and
`high` by zeroing its input gate, so its state stays 0 and it adds nothing to the
output gates. Comparing the loss before and after tests the paper's finding.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool

from complab.models.mixers.gated_rnn import GatedLinearRNN


def extreme_neurons(rnn: GatedLinearRNN, low: float = 0.05, high: float = 0.95) -> Bool[Array, " neurons"]:
    """Which neurons are near-perfect forget (lambda <= low) or memory (lambda >= high) neurons."""
    lam = rnn.lam
    return (lam <= low) | (lam >= high)


def prune_by_lambda(rnn: GatedLinearRNN, low: float = 0.05, high: float = 0.95) -> GatedLinearRNN:
    """The same RNN with every neuron of intermediate lambda silenced."""
    keep = extreme_neurons(rnn, low, high).astype(rnn.w_in_m.dtype)
    return eqx.tree_at(lambda r: r.w_in_m, rnn, rnn.w_in_m * keep[:, None])


def pruned_fraction(rnn: GatedLinearRNN, low: float = 0.05, high: float = 0.95) -> float:
    return float(1.0 - jnp.mean(extreme_neurons(rnn, low, high)))


def snap_lambdas(rnn: GatedLinearRNN, low: float = 0.05, high: float = 0.95) -> GatedLinearRNN:
    """The same RNN with lambda <= low set to exactly 0 and lambda >= high to exactly 1
    (the construction's perfect-forget and perfect-memory values); others unchanged."""
    lam = rnn.lam
    nu = jnp.where(lam >= high, -jnp.inf, jnp.where(lam <= low, jnp.inf, rnn.nu))
    return eqx.tree_at(lambda r: r.nu, rnn, nu)
