import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks.linear_regression import Config, LinearRegression

TASK = LinearRegression(Config(dim=4, context=5, noise=0.0))


def test_deterministic_in_the_key():
    a, b = (TASK.sample(jax.random.key(0), "train", 8) for _ in range(2))
    assert (np.asarray(a.x) == np.asarray(b.x)).all() and (np.asarray(a.y) == np.asarray(b.y)).all()


def test_splits_draw_from_separate_streams():
    key = jax.random.key(0)
    train, test = TASK.sample(key, "train", 8), TASK.sample(key, "test", 8)
    assert not np.allclose(train.x, test.x)


def test_unknown_split_is_refused():
    with pytest.raises(ComplabError, match="has no split 'ood'; its splits are: train, test"):
        TASK.sample(jax.random.key(0), "ood", 8)


def test_tokens_targets_and_mask():
    b = TASK.sample(jax.random.key(1), "train", 16)
    assert b.x.shape == (16, 6, 5) and b.y.shape == (16, 6, 1)
    x, w = b.x[..., :4], b.info["w"]
    np.testing.assert_allclose(b.y[..., 0], jnp.einsum("btd,bd->bt", x, w), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.x[:, :-1, 4], b.y[:, :-1, 0])  # context labels shown
    assert (b.x[:, -1, 4] == 0).all()  # the query's label is hidden
    assert (b.mask.sum(1) == 1).all() and (b.mask[:, -1] == 1).all()


def test_loss_is_half_squared_error_at_the_query():
    b = TASK.sample(jax.random.key(2), "train", 32)
    pred = jnp.zeros_like(b.y)
    np.testing.assert_allclose(TASK.loss(pred, b), 0.5 * jnp.mean(b.y[:, -1, 0] ** 2), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(dim=0), dict(context=0), dict(noise=-1.0)])
def test_impossible_parameters_are_refused(kwargs):
    with pytest.raises(ComplabError, match="linear regression needs dim >= 1"):
        Config(**kwargs)
