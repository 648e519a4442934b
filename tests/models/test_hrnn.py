"""The hierarchical RNN: the cut changes no value, only gradients; with it, the last output
does not depend (by gradients) on inputs of earlier blocks, without it it does; the local
loss is the cross-entropy of the block inputs' reconstruction."""

import jax
import jax.numpy as jnp
import numpy as np

from complab.models import hrnn

CFG = hrnn.Config(lower=6, upper=5, k=4)
MODEL = hrnn.HRNN(CFG, 3, 2, key=jax.random.key(0))
X = jax.nn.one_hot(jax.random.randint(jax.random.key(1), (12,), 0, 3), 3)


def test_the_cut_changes_values_nowhere():
    a, b = MODEL.trace(X, cut=False), MODEL.trace(X, cut=True)
    for name in ("out", "lower", "summaries"):
        np.testing.assert_array_equal(a[name], b[name])
    assert a["summaries"].shape == (3, 6) and a["out"].shape == (12, 2)
    np.testing.assert_array_equal(a["summaries"], a["lower"][CFG.k - 1::CFG.k])


def test_with_the_cut_the_last_output_sees_earlier_blocks_through_no_gradient():
    for cut in (False, True):
        jac = jax.jacobian(lambda x, cut=cut: MODEL(x, cut)[-1])(X)  # [2, time, d_in]
        earlier = float(jnp.abs(jac[:, : 2 * CFG.k]).max())
        assert (earlier == 0.0) == cut
        assert float(jnp.abs(jac[:, 2 * CFG.k:]).max()) > 0  # the last block itself


def test_local_loss_is_the_reconstruction_cross_entropy():
    s = MODEL.trace(X)["summaries"]
    logits = np.asarray(jax.vmap(MODEL.decoder)(s)).reshape(-1, 3)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(float(MODEL.local_loss(X, s)), -(np.asarray(X) * logp).sum(-1).mean(), rtol=1e-5)
