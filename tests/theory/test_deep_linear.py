"""The deep-linear mode sigmoid solves its reduced ODE; the hierarchy has one singular value per level."""

import numpy as np

from complab.experiments import semantic_development as sd
from complab.theory import deep_linear


def test_the_mode_strength_solves_tau_da_dt_equals_2a_s_minus_a():
    t, s, a0, tau = np.linspace(0, 10, 2001), 1.3, 1e-3, 0.7
    a = deep_linear.mode_strength(t, s, a0, tau)
    np.testing.assert_allclose(a[0], a0, rtol=1e-12)
    np.testing.assert_allclose(tau * np.gradient(a, t)[1:-1], (2 * a * (s - a))[1:-1], rtol=1e-3, atol=1e-6)
    th = deep_linear.half_time(s, a0, tau)
    np.testing.assert_allclose(deep_linear.mode_strength(th, s, a0, tau), s / 2, rtol=1e-12)


def test_the_hierarchy_has_a_singular_value_per_level_with_its_multiplicity():
    cfg = sd.Config(levels=4)
    _, _, s, _ = sd.problem(cfg)
    assert [len(g) for g in sd.levels_of(s)] == [1, 1, 2, 4]  # root, 2 halves, 4 quarters, 8 leaves: 8 modes
    assert np.all(np.diff([s[g[0]] for g in sd.levels_of(s)]) < 0)
