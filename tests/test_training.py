"""The fit loop: resume gives the same state bit for bit, NaN stops with the step,
corrupt checkpoints are refused with a sentence."""

import jax
import numpy as np
import pytest

from complab.errors import ComplabError, NaNLossError
from complab.learners import supervised
from complab.models import sequence
from complab.models.mixers import linear_attention
from complab.tasks.linear_regression import Config, LinearRegression
from complab.training import fit

TASK = LinearRegression(Config(dim=3, context=4))


def _start(lr=1e-2):
    model = sequence.SequenceModel(sequence.Config(mixer=linear_attention.Config(init_scale=0.3)), 4, 1,
                                   key=jax.random.key(0))
    learner = supervised.Supervised(supervised.Config(lr=lr, steps=60), TASK.loss)
    return learner, learner.init(jax.random.key(0), model)


def _leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def test_resume_from_checkpoint_is_exact(tmp_path):
    learner, state0 = _start()
    kw = dict(key=jax.random.key(5), batch_size=16, log_every=10)
    straight = fit(learner, state0, TASK, steps=60, **kw)
    ckpt = tmp_path / "fit.eqx"
    fit(learner, state0, TASK, steps=30, checkpoint=ckpt, **kw)  # "interrupted" after 30 steps
    logged = []
    resumed = fit(learner, state0, TASK, steps=60, checkpoint=ckpt, on_chunk=lambda s, m, t: logged.append(s), **kw)
    assert logged == [40, 50, 60]  # it resumed at step 30 rather than retraining
    for a, b in zip(_leaves(straight), _leaves(resumed)):
        assert (a == b).all()
    # a finished checkpoint is loaded, not retrained
    calls = []
    again = fit(learner, state0, TASK, steps=60, checkpoint=ckpt, on_chunk=lambda *a: calls.append(a), **kw)
    assert calls == [] and all((a == b).all() for a, b in zip(_leaves(again), _leaves(straight)))


def test_training_lowers_the_loss():
    learner, state0 = _start()
    losses = []
    fit(learner, state0, TASK, key=jax.random.key(1), steps=60, batch_size=64, log_every=10,
        on_chunk=lambda step, m, s: losses.append(m["loss"]))
    assert losses[-1] < 0.8 * losses[0]


def test_nan_loss_names_the_step():
    learner, state0 = _start(lr=1e30)
    with pytest.raises(NaNLossError) as e:
        fit(learner, state0, TASK, key=jax.random.key(1), steps=60, batch_size=16, log_every=10)
    assert 1 <= e.value.step <= 60 and f"at step {e.value.step}" in str(e.value)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_non_finite_parameters_are_caught_even_when_the_loss_was_finite():
    learner, state0 = _start(lr=1e39)  # inf in float32: the first update breaks the parameters
    with pytest.raises(NaNLossError, match="parameters of 'fit' became non-finite by step 1") as e:
        fit(learner, state0, TASK, key=jax.random.key(1), steps=1, batch_size=4, log_every=1)
    assert e.value.step == 1


def test_corrupt_checkpoint_is_refused(tmp_path):
    learner, state0 = _start()
    ckpt = tmp_path / "fit.eqx"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ComplabError, match="is corrupt or belongs to a different model"):
        fit(learner, state0, TASK, key=jax.random.key(1), steps=10, batch_size=4, checkpoint=ckpt)
