"""Gaussian-cluster episodes: labels per class, classes separable in the informative subspace only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import gaussian_clusters


def _nearest_centroid_accuracy(ep, project=None):
    sx, qx = ep["support_x"], ep["query_x"]
    if project is not None:
        sx, qx = sx @ project, qx @ project
    ways = int(ep["support_y"].max()) + 1
    means = jnp.stack([jnp.where((ep["support_y"] == c)[..., None], sx, 0).sum(1) / (ep["support_y"] == c).sum(1,
                       keepdims=True) for c in range(ways)], 1)
    pred = jnp.argmin(((qx[:, :, None] - means[:, None]) ** 2).sum(-1), -1)
    return float((pred == ep["query_y"]).mean())


def test_episodes_label_each_class_and_hide_it_among_nuisance_directions():
    task = gaussian_clusters.GaussianClusters(gaussian_clusters.Config())
    ep = task.episodes(jax.random.key(0), "train", 200, 5, 15)
    assert ep["support_x"].shape == (200, 25, 32) and ep["query_y"].shape == (200, 75)
    np.testing.assert_array_equal(np.bincount(np.asarray(ep["support_y"][0])), [5] * 5)
    raw = _nearest_centroid_accuracy(ep)
    informative = _nearest_centroid_accuracy(ep, task.rotation[:, :4])  # the subspace the centres live in
    assert informative > raw + 0.2 and informative > 0.7 and raw < 0.5, (raw, informative)


def test_splits_differ_and_the_in_context_query_is_masked():
    task = gaussian_clusters.GaussianClusters(gaussian_clusters.Config(context_shots=2))
    a, b = (task.episodes(jax.random.key(0), s, 2, 1, 1)["support_x"] for s in ("train", "test"))
    assert not np.allclose(a, b)
    batch = task.sample(jax.random.key(0), "train", 3)
    assert batch.x.shape == (3, 11, 37) and float(batch.x[:, -1, 32:].sum()) == 0.0 and batch.mask[:, -1].all()


def test_impossible_clusters_are_refused():
    with pytest.raises(ConfigError, match="informative <= dim"):
        gaussian_clusters.Config(informative=40)
