"""The block-local gradient of a hierarchical RNN whose upward gradient paths are cut
(models/hrnn.py with `cut`; Mujika, Weissenberger, Steger 2019): the implementation the
cut makes possible, whose memory does not hold the whole sequence.

With the cut, block b's part of the loss reaches the lower level's parameters (cell1,
readout, decoder) only through that block's k steps: its state enters fixed, its
top-down input enters fixed, and its summary leaves without gradient. So a forward scan
over the T / k blocks differentiates each block where it stands, holding k steps'
states at a time:

    L_b = sum_{t in b} w_t loss(R [h1_t, h2_b], y_t) + local_weight * (block b's share of
          the local reconstruction loss)

giving dL_b / d(lower parameters), summed in the carry, and dL_b / dh2_b (the readout
sees the upper state), emitted per block. The upper level h2_{b+1} = GRU_2(s_b, h2_b)
(s_b, the summary, without gradient) is then differentiated by a reverse scan over the
stored h2_b and s_b, injecting each block's dL_b / dh2_b: cell2's gradient. Stored
across the sequence: three vectors per block, O(T / k); in a block's backward pass,
O(k) states. The result equals autodiff of the cut loss over the whole sequence.

A per-sequence loss is `sum_t w_t loss(out_t, y_t)` with weights w (the task's mask over
its count in the batch, as in learners/online.py) plus `local_weight` times the
sequence's local loss (the batch's mean of it: local_weight / batch per sequence).
"""

from functools import partial
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from complab.models.hrnn import HRNN


def _lower_of(model: HRNN) -> tuple:
    """The lower level's parameters: what a block's loss reaches."""
    return (model.cell1, model.readout, model.decoder)


def _with_lower(model: HRNN, lower: tuple) -> HRNN:
    return eqx.tree_at(_lower_of, model, lower)


def _block_loss(model: HRNN, position_loss: Callable, local_weight, blocks: int, diff, h1, xb, yb, wb):
    """Block b's loss from (lower parameters, h2_b) = diff, with the block's start state
    h1 and top-down input held fixed (the cut); aux: the summary it passes up."""
    lower, h2 = diff
    m = _with_lower(model, lower)
    states, logits = m.lower_block(h1, jax.lax.stop_gradient(h2), h2, xb)
    loss = (wb * position_loss(logits, yb)).sum()
    loss = loss + local_weight * m.local_loss(xb, states[-1:]) / blocks  # local_loss: mean over the blocks
    return loss, states[-1]


def _upper_grad(cell2, h2s: Array, summaries: Array, dh2s: Array):
    """cell2's gradient: the reverse scan over h2_{b+1} = cell2(s_b, h2_b) at the stored
    upper states and summaries, adding each block's dL_b / dh2_b to the adjoint."""
    params, static = eqx.partition(cell2, eqx.is_inexact_array)

    def back(carry, inp):
        adjoint, acc = carry  # adjoint: dL / dh2_{b+1}, every later block's part
        h2, s, dh2 = inp
        _, pull = jax.vjp(lambda p, h: eqx.combine(p, static)(s, h), params, h2)
        g_cell, g_h2 = pull(adjoint)
        return (g_h2 + dh2, jax.tree.map(jnp.add, acc, g_cell)), None

    zero = jax.tree.map(jnp.zeros_like, params)
    (_, grad), _ = jax.lax.scan(back, (jnp.zeros_like(h2s[0]), zero), (h2s, summaries, dh2s), reverse=True)
    return grad


def block_local(model: HRNN, x, y, w, position_loss: Callable, local_weight=0.0) -> tuple[Array, Any]:
    """(loss, gradient) of one sequence under the cut, block by block: the gradient
    `eqx.filter_grad` gives for the cut loss (with local_weight times the local loss), in
    memory O(k + T / k) states."""
    k = model.cfg.k
    blocks = x.shape[0] // k
    params = eqx.filter(model, eqx.is_inexact_array)
    lower = eqx.filter(_lower_of(model), eqx.is_inexact_array)
    grad_block = eqx.filter_value_and_grad(partial(_block_loss, model, position_loss, local_weight, blocks),
                                           has_aux=True)

    def forward(carry, inp):
        h1, h2, acc, total = carry
        (loss, s), (g_lower, dh2) = grad_block((lower, h2), h1, *inp)
        acc = jax.tree.map(jnp.add, acc, g_lower)
        return (s, model.cell2(s, h2), acc, total + loss), (h2, s, dh2)

    split = lambda a: a.reshape(blocks, k, *a.shape[1:])  # noqa: E731
    init = (jnp.zeros(model.cfg.lower, x.dtype), jnp.zeros(model.cfg.upper, x.dtype),
            jax.tree.map(jnp.zeros_like, lower), jnp.zeros((), x.dtype))
    (_, _, g_lower, loss), (h2s, summaries, dh2s) = jax.lax.scan(forward, init, (split(x), split(y), split(w)))
    g_cell2 = _upper_grad(model.cell2, h2s, summaries, dh2s)
    return loss, eqx.tree_at(lambda p: (*_lower_of(p), p.cell2), params, (*g_lower, g_cell2))


def gradient(model: HRNN, batch, position_loss: Callable, local_weight=0.0) -> tuple[Array, Any]:
    """(loss, gradient) of a batch: the task's masked mean plus local_weight times the
    batch's mean local loss, summed over its sequences' block-local gradients."""
    w = batch.mask / batch.mask.sum()
    per = local_weight / batch.x.shape[0]
    losses, grads = jax.vmap(lambda x, y, w: block_local(model, x, y, w, position_loss, per))(batch.x, batch.y, w)
    return losses.sum(), jax.tree.map(lambda g: g.sum(0), grads)
