import numpy as np
import pytest

from complab.probes import latent_decoding as ld


def _data(seed, n=400, f=6, t=3, noise=0.0):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(f, t)), rng.normal(size=t)
    x = rng.normal(size=(n, f))
    return x, x @ w + b + noise * rng.normal(size=(n, t))


def test_a_linear_code_decodes_perfectly_and_noise_lowers_r2_as_its_share_of_variance():
    x, y = _data(0)
    assert ld.decode(x[:200], y[:200], x[200:], y[200:], l2=1e-6) == pytest.approx(1.0, abs=1e-9)
    x, y = _data(1, n=4000, noise=1.0)
    r2 = ld.decode(x[:2000], y[:2000], x[2000:], y[2000:])
    signal = (y - y.mean(0)).var(0) - 1.0  # the noise variance is 1
    assert r2 == pytest.approx(np.mean(signal / (signal + 1.0)), abs=0.03)


def test_an_unrelated_code_does_not_decode():
    x, _ = _data(2)
    _, y = _data(3)
    assert ld.decode(x[:200], y[:200], x[200:], y[200:]) < 0.05


def test_the_intercept_is_not_penalised():
    x, y = _data(4)
    w, b = ld.fit_ridge(x, y + 100.0, l2=1e3)
    w0, b0 = ld.fit_ridge(x, y, l2=1e3)
    np.testing.assert_allclose(w, w0, atol=1e-10)
    np.testing.assert_allclose(b - b0, 100.0, atol=1e-8)


def test_constant_targets_are_left_out_and_all_constant_is_refused():
    x, y = _data(5, t=2)
    y = np.concatenate([y, np.ones((len(y), 1))], 1)
    assert ld.decode(x[:200], y[:200], x[200:], y[200:], l2=1e-6) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="no target dimension varies"):
        ld.decode(x, np.ones((len(x), 2)), x, np.ones((len(x), 2)))
