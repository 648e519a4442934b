"""The data-built double well: its per-sample gradients are the loss's derivatives, and its
landmarks are the minima, barrier, curvatures and gradient noise the claim needs."""

import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks.double_well import Config, DoubleWell

WORLD = DoubleWell(Config(), seed=0)


def test_the_mean_sample_gradient_is_the_losss_derivative():
    theta = np.linspace(-2.0, 2.0, 41)
    every = np.arange(Config().samples)[None]
    grad = WORLD.sample_grads(theta, every, xp=np).mean(-1)
    h = 1e-6
    assert np.allclose(grad, (WORLD.loss(theta + h) - WORLD.loss(theta - h)) / (2 * h), atol=1e-6)
    assert np.allclose(np.asarray(WORLD.sample_grads(jnp.asarray(theta), jnp.asarray(every))).mean(-1), grad,
                       atol=1e-4)  # the JAX path agrees (in float32 unless x64)


def test_the_landmarks_are_a_wide_shallow_and_a_narrow_deep_minimum_with_loud_noise_at_the_narrow_one():
    lm = WORLD.landmarks
    assert lm["wide"] < lm["barrier"] < lm["narrow"]
    (l_wide, l_narrow, l_top), (c_wide, c_narrow), (n_wide, n_narrow) = lm["loss"], lm["curvature"], lm["noise"]
    assert l_narrow < l_wide < l_top and c_narrow > 10 * c_wide and n_narrow > 100 * n_wide
    every = np.arange(Config().samples)[None]
    assert abs(WORLD.sample_grads(np.array([lm["narrow"]]), every, xp=np).mean()) < 1e-2  # a stationary point


def test_offsets_follow_the_seed():
    again, other = DoubleWell(Config(), seed=0), DoubleWell(Config(), seed=1)
    assert np.array_equal(again.wide_offsets, WORLD.wide_offsets)
    assert not np.array_equal(other.wide_offsets, WORLD.wide_offsets)


def test_a_landscape_without_two_minima_is_refused_with_a_reason():
    merged = DoubleWell(Config(centre=0.05), seed=0)
    with pytest.raises(ComplabError, match="minima"):
        _ = merged.landmarks
    with pytest.raises(ComplabError, match="narrower"):
        Config(s_narrow=2.0)
