"""The gated readout's noisy proximal descent: without noise or penalty it is gradient
descent to the least-squares readout; the proximal L1 step holds an undriven gate at
exactly zero; noise is what moves it; and the no-gate variant penalises the weights."""

import numpy as np

from complab.learners import gated_readout
from complab.tasks import insight

TASK = insight.Config(trials=3000, onset=1000)


def test_without_noise_or_penalty_it_reaches_the_least_squares_readout_of_each_phase():
    pre = insight.Config(trials=999, onset=998)  # the motion phase only, nearly
    ws, gs = gated_readout.simulate(pre, lam=0.0, sigma=0.0, lr=0.05, nets=3, rng=np.random.default_rng(0))
    second, first = insight.moments(pre, False)
    beta = ws[-1] * gs[-1]
    assert np.allclose(beta[0], np.linalg.solve(second, first)[0], atol=1e-3)
    ws, gs = gated_readout.simulate(TASK, lam=0.0, sigma=0.0, lr=0.05, nets=2, rng=np.random.default_rng(0))
    second, first = insight.moments(TASK, True)
    assert np.allclose(ws[-1] * gs[-1], np.linalg.solve(second, first)[:, None], atol=1e-3)  # colour alone: (0, 1)


def test_a_gate_driven_below_the_penalty_sits_at_exactly_zero_and_its_weight_stays_put():
    ws, gs = gated_readout.simulate(TASK, lam=0.2, sigma=0.0, lr=0.05, nets=4, rng=np.random.default_rng(0))
    assert (gs[TASK.onset - 1:, 1] == 0.0).all() and gs[-1, 0].min() > 0.1  # colour shut, motion open
    assert np.allclose(ws[TASK.onset - 1:, 1], ws[TASK.onset - 1, 1])


def test_networks_start_apart_and_one_generator_gives_one_trajectory():
    ws, gs = gated_readout.simulate(TASK, lam=0.0, sigma=0.0, lr=0.05, nets=5, rng=np.random.default_rng(0))
    assert np.std(ws[0, 1]) > 0 and np.std(gs[0, 1]) > 0
    again = gated_readout.simulate(TASK, lam=0.0, sigma=0.0, lr=0.05, nets=5, rng=np.random.default_rng(0))
    assert np.array_equal(again[0], ws) and np.array_equal(again[1], gs)


def test_noise_moves_a_shut_gate_and_differs_between_networks():
    ws, gs = gated_readout.simulate(TASK, lam=0.2, sigma=0.1, lr=0.05, nets=50, rng=np.random.default_rng(0))
    assert (gs[TASK.onset:, 1] != 0).any() and np.std(ws[-1, 1]) > 0
    again = gated_readout.simulate(TASK, lam=0.2, sigma=0.1, lr=0.05, nets=50, rng=np.random.default_rng(0))
    assert np.array_equal(again[0], ws)  # one generator, one trajectory


def test_without_gates_the_penalty_falls_on_the_weights():
    ws, gs = gated_readout.simulate(TASK, lam=0.2, sigma=0.0, lr=0.05, nets=2, rng=np.random.default_rng(0),
                                    gated=False)
    assert (gs == 1.0).all()
    second, first = insight.moments(TASK, True)  # the lasso solution of 1/2 b'Cb - f'b + lam |b|_1, colour alone
    assert np.allclose(ws[-1, :, 0], [0.0, first[1] - 0.2], atol=1e-3)
