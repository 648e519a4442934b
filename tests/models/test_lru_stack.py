"""The LRU stack's parallel form (associative scans) equals its step-by-step form, and a
zero perturbation of the hidden states changes nothing while a nonzero one moves only
the present and the future (causality)."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.models import lru_stack
from complab.models.mixers import lru

MODEL = lru_stack.LRUStack(lru_stack.Config(layers=3, width=8, cell=lru.Config(state=6)), 4, 5, key=jax.random.key(0))
X = jax.random.normal(jax.random.key(1), (12, 4))


def _stepwise(model, x, eps_at=None):
    def body(hs, inp):
        t, x_t = inp
        eps = None
        if eps_at is not None:
            hit = (t == eps_at).astype(x_t.dtype)
            eps = tuple((hit * jnp.ones(h.shape, x_t.dtype), jnp.zeros(h.shape, x_t.dtype)) for h in hs)
        new, out, _ = model.step(hs, x_t, eps)
        return new, out

    return jax.lax.scan(body, model.init_state(), (jnp.arange(x.shape[0]), x))[1]


def test_parallel_equals_step_by_step():
    np.testing.assert_allclose(MODEL(X), _stepwise(MODEL, X), rtol=2e-5, atol=2e-5)
    hs = jax.lax.scan(lambda hs, x_t: (MODEL.step(hs, x_t)[0], MODEL.step(hs, x_t)[0]), MODEL.init_state(), X)[1]
    named = MODEL.trace(X)
    for i in range(3):
        np.testing.assert_allclose(named[f"block{i}.hidden"], hs[i], rtol=2e-5, atol=2e-5)


def test_a_perturbed_state_moves_only_the_present_and_the_future():
    # the same program both times (a zero perturbation at every step for the base), so that the
    # comparison is exact whatever the compiler fuses
    base, moved = _stepwise(MODEL, X, eps_at=-1), _stepwise(MODEL, X, eps_at=5)
    np.testing.assert_array_equal(base[:5], moved[:5])
    assert np.abs(np.asarray(moved[5:] - base[5:])).min(-1).max() > 1e-4
