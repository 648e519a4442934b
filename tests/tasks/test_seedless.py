"""Tasks drawn from a per-run split seed keep it as data, not as static configuration:
runs that differ only in their seed share compiled programs (the task, and a learner
on its loss), and the seed still decides the split."""

import equinox as eqx
import jax
import numpy as np
import pytest

from complab.learners import optim, supervised
from complab.models import corelnet
from complab.tasks import ctlpp, preference_grid, relational

TASKS = {
    "relational": lambda seed: relational.Relational(relational.Config(held_out=50, split_seed=seed)),
    "ctlpp": lambda seed: ctlpp.CTLpp(ctlpp.Config(split_seed=seed, train_size=64, iid_size=16, test_size=16)),
    "preference_grid": lambda seed: preference_grid.PreferenceGrid(preference_grid.Config(split_seed=seed)),
}


@pytest.mark.parametrize("name", TASKS)
def test_tasks_of_two_seeds_share_one_compiled_program_and_differ(name):
    traces = []

    @eqx.filter_jit
    def first_batch(task):
        traces.append(1)
        return task.sample(jax.random.key(0), "train", 4)

    a, b = TASKS[name](1), TASKS[name](2)
    xa, xb = first_batch(a), first_batch(b)
    assert len(traces) == 1
    assert int(a.split_seed) == 1 and int(b.split_seed) == 2
    assert not all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(xa), jax.tree.leaves(xb)))


def test_a_learner_on_tasks_of_two_seeds_compiles_its_step_once():
    traces = []

    @eqx.filter_jit
    def step(learner, state, batch):
        traces.append(1)
        return learner.step(jax.random.key(0), state, batch)[1]["loss"]

    losses = []
    for seed in (1, 2):
        task = TASKS["relational"](seed)
        model = corelnet.RelationalNet(corelnet.Config(kind="corelnet", dim=8, length=2), *task.dims,
                                       key=jax.random.key(0))
        learner = supervised.Supervised(optim.Config(), supervised.per_example(task.loss))
        losses.append(float(step(learner, learner.init(None, model), task.sample(jax.random.key(seed), "train", 4))))
    assert len(traces) == 1 and losses[0] != losses[1]
