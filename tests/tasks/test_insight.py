"""The shortcut task's moments and accuracy against sampled trials."""

import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import insight

CFG = insight.Config()


def _trials(n, predictive, rng):
    r = rng.choice([-1.0, 1.0], n)
    c = rng.choice(CFG.coherences, n)
    x_m = r * CFG.gain * c + rng.normal(0, 1, n)
    x_c = r if predictive else rng.choice([-1.0, 1.0], n)
    return np.stack([x_m, x_c], 1), r, c


@pytest.mark.parametrize("predictive", [False, True])
def test_the_moments_are_those_of_sampled_trials(predictive):
    x, r, _ = _trials(400_000, predictive, np.random.default_rng(0))
    second, first = insight.moments(CFG, predictive)
    assert np.allclose(x.T @ x / len(r), second, atol=0.02) and np.allclose(x.T @ r / len(r), first, atol=0.01)


@pytest.mark.parametrize("predictive", [False, True])
def test_the_accuracy_is_that_of_noisy_sampled_decisions(predictive):
    rng = np.random.default_rng(1)
    x, r, c = _trials(400_000, predictive, rng)
    beta = np.array([0.3, 0.4])
    keep = c == 0.06
    correct = np.sign(x[keep] @ beta + rng.normal(0, CFG.decision_noise, keep.sum())) == r[keep]
    want = insight.accuracy(CFG, np.array(beta[0]), np.array(beta[1]), 0.06, predictive)
    assert abs(correct.mean() - want) < 0.005


def test_an_onset_outside_the_trials_is_refused():
    with pytest.raises(ComplabError, match="onset"):
        insight.Config(trials=100, onset=100)
