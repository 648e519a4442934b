"""The effort-control checks pass on a schedule of the claimed shape and each fails when its
part of the claim is broken."""

import jax.numpy as jnp
import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.learning_effort_control import EXPERIMENT
from complab.theory import effort_control as theory
from complab.training import linear_steps

CFG = EXPERIMENT.tiers["cpu"]


def _schedule(easy_until=1.0, hard_until=4.0, low=0.05):
    t = CFG.time / CFG.intervals * np.arange(CFG.intervals)
    return np.stack([np.where(t < easy_until, 2.0, low), np.where(t < hard_until, 1.8, low)], -1)


def _results(psi=None, gain=0.5, same_cost=-12.0, early=(1.99, 1.83), until=(0.9, 2.1), drift=0.0):
    psi = _schedule() if psi is None else psi
    rows, curves = [], []
    full = np.repeat(psi, CFG.steps // CFG.intervals, axis=0)
    a, _ = theory.trajectory(jnp.asarray(np.vstack([full, full[-1:]])), jnp.asarray(CFG.s), CFG.a0, CFG.dt)
    steps = np.array(linear_steps(CFG.steps, CFG.points))
    for seed in (0, 1, 2):
        rows.append({"seed": seed, "value": -9.84 * (1 - gain), "value_constant": -9.84, "value_same_cost": same_cost,
                     "effort_early": list(early), "sustained_until": list(until), "psi": psi.tolist()})
        curves += [{"seed": seed, "fit": "network", "name": "strength", "step": int(st),
                    "value": (np.asarray(a[st]) * (1 + drift * st / CFG.steps)).tolist()} for st in steps]
    return Results(rows, curves)


@pytest.mark.parametrize("kw, want", [
    (dict(), [True, True, True]),
    (dict(gain=0.005), [False, True, True]),  # barely better than constant engagement
    (dict(same_cost=-1.0), [False, True, True]),  # the same effort spread evenly does better: amount, not timing
    (dict(early=(1.5, 1.9)), [True, False, True]),  # the hard task gets more effort first
    (dict(until=(2.5, 2.1)), [True, False, True]),  # the easy task's effort lasts longer
    (dict(drift=0.05), [True, True, False]),  # the network leaves the reduction
    (dict(psi=_schedule(easy_until=0.2, hard_until=0.2, low=0.0)), [True, True, False]),  # the network never learns
])
def test_each_check_fails_when_its_part_of_the_claim_breaks(kw, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**kw), CFG)] == want
