"""Online RTRL on the copy stream: each new sequence starts from a fresh state and a fresh
sensitivity (the sensitivity to the recurrent rows of W is zero on a sequence's first
step and not after), and with exact RTRL the weights move down the loss."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.learners import online_rtrl, optim, rtrl
from complab.models.gated_cell import GatedCell
from complab.tasks import copy_stream as cs

N = 6
EXACT = rtrl.Estimator("exact")


def _run(steps, est=EXACT, lr=1e-3):
    cell = jax.tree.map(lambda a: 30.0 * a, GatedCell(N, cs.VOCAB, cs.VOCAB, key=jax.random.key(0)))
    learner = online_rtrl.OnlineRTRL(optim.Config(lr=lr), est, cs.Config(max_length=4), batch=1)
    state = learner.init(jax.random.key(0), cell)
    step = jax.jit(learner.step)
    out = []
    for t in range(steps):
        state, metrics = step(jax.random.key(t), state, None)
        out.append((int(state.streams.pos[0]), rtrl.dense(est, jax.tree.map(lambda a: a[0], state.g)), metrics))
    return state, out


def test_a_new_sequence_starts_from_a_fresh_sensitivity():
    _, out = _run(9)  # T_cur = 1: sequences of 4 steps; steps 0 and 4 and 8 begin one
    recurrent_rows = slice(cs.VOCAB, cs.VOCAB + N)
    for t, (_, g, _) in enumerate(out):
        size = float(jnp.abs(g[:, recurrent_rows]).max())
        assert (size == 0.0) == (t % 4 == 0), (t, size)


def test_exact_rtrl_lowers_the_loss_online():
    _, out = _run(600, lr=1e-2)
    bits = np.array([float(m["loss"]) for _, _, m in out])
    assert bits[-100:].mean() < 0.7 * bits[:100].mean()
