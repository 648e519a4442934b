"""Feedforward blocks compute their formulas, per token and over a sequence alike."""

import jax
import numpy as np

from complab.models import feedforward


def test_mlp_and_swiglu_follow_their_formulas():
    x = jax.random.normal(jax.random.key(1), (5, 6))
    mlp = feedforward.MLPConfig(factor=2, activation="relu").build(6, key=jax.random.key(0))
    want = np.maximum(np.asarray(x) @ np.asarray(mlp.up.weight).T + np.asarray(mlp.up.bias), 0)
    want = want @ np.asarray(mlp.down.weight).T + np.asarray(mlp.down.bias)
    np.testing.assert_allclose(mlp.trace(x)["out"], want, rtol=1e-5, atol=1e-5)
    assert mlp.up.weight.shape == (12, 6)
    glu = feedforward.SwiGLUConfig().build(6, key=jax.random.key(0))
    g, u = np.asarray(x) @ np.asarray(glu.gate.weight).T, np.asarray(x) @ np.asarray(glu.up.weight).T
    want = (g / (1 + np.exp(-g)) * u) @ np.asarray(glu.down.weight).T
    np.testing.assert_allclose(glu.trace(x)["out"], want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(glu)(x), glu.trace(x)["out"], rtol=1e-6)
