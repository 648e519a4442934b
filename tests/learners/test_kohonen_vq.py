import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.learners import kohonen_vq as kv
from complab.models import vq_autoencoder as va


def test_grid_coordinates_run_the_first_axis_fastest():
    assert kv.grid_coordinates((3, 2)).tolist() == [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]
    d = kv.grid_distances((3, 3))
    assert d[0, 1] == 1.0 and d[0, 4] == pytest.approx(np.sqrt(2)) and d[0, 8] == pytest.approx(np.sqrt(8))


def test_neighbourhoods():
    t = jnp.asarray(4.0)
    assert np.array_equal(np.asarray(kv.neighbourhood(kv.Config(kind="ema", grid=(3, 3)), t)), np.eye(9))
    hard = np.asarray(kv.neighbourhood(kv.Config(kind="hard", grid=(3, 3), shrink=0.25), t))
    assert np.allclose(np.diag(hard), 1.0)
    assert hard[4].tolist() == pytest.approx([0.5] * 4 + [1.0] + [0.5] * 4)  # the centre's 3 x 3 block, / (1 + 1)
    assert hard[0, 8] == 0.0 and hard[0, 4] == 0.5
    gauss = kv.Config(kind="gaussian", grid=(3, 3), shrink=0.25, base=2.0)
    g = np.asarray(kv.neighbourhood(gauss, t))
    assert g[0, 1] == pytest.approx(np.exp(-1 * 2 / 2)) and g[0, 8] < g[0, 4] < g[0, 1] < 1.0
    late = np.asarray(kv.neighbourhood(kv.Config(kind="hard", grid=(3, 3)), jnp.asarray(1e9)))
    assert np.allclose(late, np.eye(9), atol=1e-7)  # the neighbourhood shrinks to plain EMA


def test_the_ema_update_is_the_textbook_one():
    cfg = kv.Config(kind="ema", grid=(3,), decay=0.9, epsilon=0.0)
    cb = kv.Codebook(w=jnp.zeros((3, 2)), sums=jnp.ones((3, 2)), counts=jnp.ones(3), t=jnp.zeros(()))
    z = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    new = kv.update(cfg, cb, jnp.array([0, 0, 2]), z)
    counts = np.array([0.9 + 0.1 * 2, 0.9, 0.9 + 0.1])
    sums = 0.9 * np.ones((3, 2)) + 0.1 * np.array([[4.0, 6.0], [0.0, 0.0], [5.0, 6.0]])
    assert np.allclose(np.asarray(new.counts), counts) and np.allclose(np.asarray(new.w), sums / counts[:, None])
    assert float(new.t) == 1.0


def test_with_no_initial_count_ema_throws_unwritten_codes_away_and_kohonen_keeps_its_neighbours():
    z = jnp.full((8, 2), 0.5)  # every vector goes to code 0
    for kind in ("ema", "hard"):
        cfg = kv.Config(kind=kind, grid=(2, 2), shrink=0.0)
        step = jax.jit(lambda cb, cfg=cfg: kv.update(cfg, cb, jnp.zeros(8, int), z))
        cb = kv.start(cfg, 2, jax.random.key(0), counter_init=0.0)
        for t in range(1000):
            cb = step(cb)
            if t == 9:
                early = np.linalg.norm(np.asarray(cb.w), axis=1)
        if kind == "ema":  # divided by a count of ~epsilon: far out (until decay^t shrinks the first draw)
            assert early[1:].min() > 1e3
        else:
            assert early.max() < 10
            assert np.allclose(np.asarray(cb.w[1:]), 0.5, atol=0.01)  # the winner's neighbours (all, here) follow
        assert np.allclose(np.asarray(cb.w[0]), 0.5, atol=0.01)  # the first draw decays as decay^t


def test_forward_decodes_the_quantised_vectors_and_passes_gradients_straight_through():
    model = va.VQAutoencoder(va.Config(hidden=8, latents=2, latent_dim=3), 5, key=jax.random.key(0))
    w = jax.random.normal(jax.random.key(1), (4, 3))
    x = jax.random.normal(jax.random.key(2), (6, 5))
    out = kv.forward(model, w, x)
    q = w[out["index"]].reshape(6, 2, 3)
    recon = jax.vmap(model.decode)(q)
    assert float(out["recon"]) == pytest.approx(float(((recon - x) ** 2).mean()), rel=1e-5)
    z = jax.vmap(model.encode)(x).reshape(-1, 3)
    assert np.array_equal(np.asarray(out["index"]), np.asarray(((z[:, None] - w[None]) ** 2).sum(-1).argmin(-1)))
    g = eqx.filter_grad(lambda m: kv.forward(m, w, x)["recon"])(model)
    assert float(jnp.abs(g.encoder.layers[0].weight).sum()) > 0  # the encoder learns through the codes


def test_usage_perplexity():
    assert float(kv.usage_perplexity(jnp.zeros(10, int), 4)) == pytest.approx(1.0)
    assert float(kv.usage_perplexity(jnp.arange(8) % 4, 4)) == pytest.approx(4.0, rel=1e-4)
