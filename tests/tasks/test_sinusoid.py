"""Few-shot sinusoids: parameters in their ranges, support and query of one function, split streams."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import sinusoid


def test_episodes_are_sinusoids_of_the_configured_family():
    task = sinusoid.Sinusoid(sinusoid.Config())
    ep = task.episodes(jax.random.key(0), "train", 64, 10, 15)
    amp, phase = np.asarray(ep["task"]).T
    assert ep["support_x"].shape == (64, 10, 1) and ep["query_y"].shape == (64, 15, 1)
    assert (0.1 <= amp).all() and (amp <= 0.5).all() and (0 <= phase).all() and (phase <= np.pi).all()
    for k in ("support", "query"):
        x, y = ep[f"{k}_x"], ep[f"{k}_y"]
        assert (jnp.abs(x) <= 5).all()
        np.testing.assert_allclose(y, amp[:, None, None] * np.sin(x + phase[:, None, None]), atol=1e-5)


def test_splits_draw_their_own_streams_and_the_in_context_format_masks_the_query():
    task = sinusoid.Sinusoid(sinusoid.Config(context=5))
    a, b = (task.episodes(jax.random.key(0), s, 4, 3, 3)["task"] for s in ("train", "test"))
    assert not np.allclose(a, b)
    batch = task.sample(jax.random.key(0), "train", 4)
    assert batch.x.shape == (4, 6, 2) and float(batch.x[:, -1, 1].sum()) == 0.0 and batch.mask[:, -1].all()


def test_an_empty_input_range_is_refused():
    with pytest.raises(ConfigError, match="x_range"):
        sinusoid.Config(x_range=(1.0, 1.0))
