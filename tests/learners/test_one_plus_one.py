"""The adaptive mutation rate: it finds 1/n from the fitness it observes alone, from above
and from below, whatever n is."""

import numpy as np
import pytest

from complab.learners.one_plus_one import FitnessChangeControl, onemax_runtimes


@pytest.mark.parametrize("n", [100, 10_000])
@pytest.mark.parametrize("start", ["above", "below"])
def test_the_rule_settles_at_one_over_n_from_either_side(n, start):
    """Offspring keep the parent's fitness with probability e^{-np} (few zeros left): the
    rule's rate drifts to 1/n and stays there."""
    rule, rng = FitnessChangeControl(), np.random.default_rng(0)
    p = rule.init(64) if start == "above" else np.full(64, 1e-3 / n)
    late = []
    for t in range(4000):
        p = rule.update(p, rng.random(64) < np.exp(-n * p))
        if t >= 2000:
            late.append(n * p)
    assert 0.9 < np.mean(late) < 1.1, np.mean(late)
    assert np.std(np.log(late)) < 0.25  # it stays near 1/n, not only on average


def test_on_onemax_the_rate_tracks_one_over_n_without_knowing_n():
    n = 2000
    steps, trace = onemax_runtimes(n, FitnessChangeControl(), 8, np.random.default_rng(1), every=n)
    scale = n * np.log(n)
    mid = [rate_n for t, _, rate_n in trace if 0.5 * scale <= t <= 2.0 * scale]
    assert mid and 0.8 < np.mean(mid) < 1.25, mid
    assert trace[0][2] == pytest.approx(n * 0.5)  # it starts far above and comes down by itself
    assert (steps > 0).all()


def test_a_schedule_traces_its_own_rate():
    n = 50
    _, trace = onemax_runtimes(n, lambda t: 2 / n, 4, np.random.default_rng(2), every=10)
    assert all(r == pytest.approx(2.0) for _, _, r in trace if not np.isnan(r))
