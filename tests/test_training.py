"""The fit loop: resume gives the same state bit for bit, one compilation per fit
whatever the chunk lengths, keys from the fit's name, the three data sources,
evaluation curves, NaN stops with the step; damaged, foreign or impossible checkpoints
are refused, and a chunk's metrics are written before its checkpoint."""

import logging

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError, NaNLossError
from complab.learners import optim, supervised
from complab.learners.base import AbstractLearner
from complab.models import sequence
from complab.models.mixers import linear_attention
from complab.tasks.linear_regression import Config, LinearRegression
from complab.training import fit, linear_steps, log_steps

TASK = LinearRegression(Config(dim=3, context=4))


def _start(lr=1e-2):
    model = sequence.SequenceModel(sequence.Config(mixer=linear_attention.Config(init_scale=0.3)), 4, 1,
                                   key=jax.random.key(0))
    learner = supervised.Supervised(optim.Config(lr=lr, steps=60), supervised.per_example(TASK.loss))
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


def test_chunking_does_not_change_the_result():
    learner, state0 = _start()
    kw = dict(key=jax.random.key(5), batch_size=16, steps=37)
    a = fit(learner, state0, TASK, log_every=5, **kw)
    b = fit(learner, state0, TASK, log_every=37, eval_at=(1, 2, 3, 20), evaluate=lambda k, s: {}, **kw)
    assert all((x == y).all() for x, y in zip(_leaves(a), _leaves(b)))


@pytest.mark.parametrize("weak", [False, True])
def test_one_compilation_per_fit_whatever_the_chunk_lengths(caplog, weak):
    """The first spine compiled a program per distinct chunk length (and one-op programs from eager code); a
    weakly typed parameter (made from a Python float) compiled the chunk again once an update made it strong."""
    learner, state0 = _start(lr=2e-2 if weak else 1e-2)  # a learner of its own: no program shared between the two
    if weak:
        leaves, tree = jax.tree.flatten(state0)
        i = next(i for i, a in enumerate(leaves) if getattr(a, "dtype", None) == jnp.float32)
        leaves[i] = jnp.full(leaves[i].shape, 0.1)
        assert leaves[i].weak_type
        state0 = jax.tree.unflatten(tree, leaves)
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        fit(learner, state0, TASK, key=jax.random.key(9), steps=23, batch_size=8, log_every=4,
            evaluate=lambda k, s: {"w": s.step}, eval_at=(0, 1, 2, 7, 23))
    traced = [r.getMessage() for r in caplog.records if "train_chunk" in r.getMessage() and "tracing" in r.getMessage()]
    assert len(traced) == 1, traced


class Echo(AbstractLearner):
    """Reports the batch it saw as its loss."""

    def init(self, key, model):
        return jnp.zeros(())

    def params(self, state):
        return state

    def step(self, key, state, batch):
        return state + 1, {"loss": batch if batch is not None else jax.random.normal(key)}


def _losses(name, key, data=lambda k, t: jax.random.normal(k), steps=6):
    seen = []
    fit(Echo(), jnp.zeros(()), data, key=key, steps=steps, log_every=1, name=name,
        on_chunk=lambda s, m, t: seen.append(m["loss"]))
    return seen


def test_fits_draw_their_keys_from_their_name():
    k = jax.random.key(0)
    assert _losses("a", k) == _losses("a", k)
    assert _losses("a", k) != _losses("b", k)  # two fits of one run never replay each other's batches
    assert _losses("a", k, data=None) != _losses("b", k, data=None)  # nor each other's step keys


def test_data_function_sees_the_absolute_step():
    assert _losses("a", jax.random.key(0), data=lambda k, t: t.astype(jnp.float32)) == [0, 1, 2, 3, 4, 5]


def test_evaluation_curve_at_the_requested_steps():
    learner, state0 = _start()
    points = []
    fit(learner, state0, TASK, key=jax.random.key(1), steps=40, batch_size=32, log_every=15,
        evaluate=lambda k, s: {"step": s.step, "pair": jnp.stack([s.step, 2 * s.step])}, eval_at=(0, 3, 17, 40),
        on_eval=lambda t, v: points.append((t, int(v["step"]), v["pair"].tolist())))
    assert points == [(0, 0, [0, 0]), (3, 3, [3, 6]), (17, 17, [17, 34]), (40, 40, [40, 80])]
    with pytest.raises(ComplabError, match=r"must lie in \[0, 40\]"):
        fit(learner, state0, TASK, key=jax.random.key(1), steps=40, batch_size=4, evaluate=lambda k, s: {},
            eval_at=(41,))


def test_step_grids():
    assert linear_steps(100, 5) == (0, 25, 50, 75, 100)
    grid = log_steps(10_000, 9)
    assert grid[0] == 0 and grid[1] == 1 and grid[-1] == 10_000 and list(grid) == sorted(set(grid))


def test_training_lowers_the_loss():
    learner, state0 = _start()
    losses = []
    fit(learner, state0, TASK, key=jax.random.key(1), steps=200, batch_size=64, log_every=20,
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


def test_optimizer_statistics_may_hold_inf():
    """Only the learner's named parameters are checked: an inf in other state is legitimate."""

    class Hoarder(Echo):
        def init(self, key, model):
            return (jnp.zeros(()), jnp.array(jnp.inf))

        def params(self, state):
            return state[0]

        def step(self, key, state, batch):
            return (state[0] + 1, state[1]), {"loss": state[0]}

    final = fit(Hoarder(), Hoarder().init(None, None), None, key=jax.random.key(0), steps=3)
    assert float(final[0]) == 3


def test_a_task_needs_a_batch_size_and_a_known_split():
    learner, state0 = _start()
    with pytest.raises(ComplabError, match="needs a batch_size"):
        fit(learner, state0, TASK, key=jax.random.key(1), steps=2)
    with pytest.raises(ComplabError, match="has no split 'ood'"):
        fit(learner, state0, TASK, key=jax.random.key(1), steps=2, batch_size=2, split="ood")


def _saved(tmp_path, learner, state0, identity="run/fit"):
    ckpt = tmp_path / "fit.eqx"
    fit(learner, state0, TASK, key=jax.random.key(1), steps=10, batch_size=4, checkpoint=ckpt, identity=identity)
    return ckpt


@pytest.mark.parametrize("damage", ["not a checkpoint", "flipped bit", "truncated", "another run"])
def test_a_bad_checkpoint_is_set_aside_with_a_warning_and_the_fit_starts_over(tmp_path, caplog, damage):
    learner, state0 = _start()
    ckpt = _saved(tmp_path, learner, state0)
    data = bytearray(ckpt.read_bytes())
    if damage == "not a checkpoint":
        data = bytearray(b"not a checkpoint")
    elif damage == "flipped bit":
        data[-7] ^= 0x01  # one bit of a parameter
    elif damage == "truncated":
        data = data[: len(data) // 2]
    ckpt.write_bytes(bytes(data))
    identity = "another/fit" if damage == "another run" else "run/fit"
    logged = []
    kw = dict(key=jax.random.key(1), steps=20, batch_size=4, log_every=10)
    with caplog.at_level(logging.WARNING, logger="complab"):
        state = fit(learner, state0, TASK, checkpoint=ckpt, identity=identity,
                    on_chunk=lambda s, m, t: logged.append(s), **kw)
    reason = {"not a checkpoint": "not a complab checkpoint", "flipped bit": "fails its checksum",
              "truncated": "fails its checksum", "another run": "belongs to 'run/fit', not 'another/fit'"}[damage]
    assert reason in caplog.text and "trains from step 0" in caplog.text
    assert logged == [10, 20]  # from scratch
    assert (tmp_path / "fit.eqx.refused").read_bytes() == bytes(data)  # kept for inspection, never loaded
    fresh = fit(learner, state0, TASK, **kw)
    assert all((a == b).all() for a, b in zip(_leaves(state), _leaves(fresh)))


def test_the_checkpoint_header_is_checked_against_its_contents(tmp_path):
    from complab.errors import CheckpointError
    from complab.training import load_checkpoint, save_checkpoint
    learner, state0 = _start()
    ckpt = _saved(tmp_path, learner, state0, identity="exp/hash/{}/seed 0/fit")
    assert load_checkpoint(ckpt, state0, "exp/hash/{}/seed 0/fit")[1] == 10
    with pytest.raises(CheckpointError, match="belongs to 'exp/hash/{}/seed 0/fit', not 'exp/hash/{}/seed 1/fit'"):
        load_checkpoint(ckpt, state0, "exp/hash/{}/seed 1/fit")
    save_checkpoint(ckpt, state0, -3, "x")
    with pytest.raises(CheckpointError, match="impossible step counter"):
        load_checkpoint(ckpt, state0, "x")


def test_a_chunks_metrics_are_written_before_the_checkpoint_that_covers_them(tmp_path, monkeypatch):
    """A kill right after a checkpoint write must not lose that chunk's metrics."""
    from complab import training
    learner, state0 = _start()
    logged = []

    def killed(*args):
        raise SystemExit("killed while writing the checkpoint")

    monkeypatch.setattr(training, "save_checkpoint", killed)
    with pytest.raises(SystemExit):
        fit(learner, state0, TASK, key=jax.random.key(1), steps=20, batch_size=4, log_every=10,
            checkpoint=tmp_path / "fit.eqx", checkpoint_s=0.0, on_chunk=lambda s, m, t: logged.append(s))
    assert logged == [10]


def test_a_state_holding_functions_trains_checkpoints_and_resumes(tmp_path):
    """An `eqx.nn.MLP` keeps its activation function in the state: only arrays are carried."""
    mlp = eqx.nn.MLP(2, 1, 8, 1, activation=jax.nn.tanh, key=jax.random.key(0))

    def loss(model, batch, key):
        x = jax.random.normal(key, (16, 2))
        return jnp.mean((jax.vmap(model)(x)[:, 0] - x[:, 0] * x[:, 1]) ** 2)

    learner = supervised.Supervised(optim.Config(lr=1e-2, steps=40), loss)
    state0 = learner.init(jax.random.key(0), mlp)
    kw = dict(key=jax.random.key(1), log_every=10)
    straight = fit(learner, state0, None, steps=40, **kw)
    assert straight.model.activation is jax.nn.tanh
    fit(learner, state0, None, steps=20, checkpoint=tmp_path / "fit.eqx", **kw)
    resumed = fit(learner, state0, None, steps=40, checkpoint=tmp_path / "fit.eqx", **kw)
    assert all((a == b).all() for a, b in zip(_leaves(eqx.filter(straight, eqx.is_array)),
                                              _leaves(eqx.filter(resumed, eqx.is_array))))
