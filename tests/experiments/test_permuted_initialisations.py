"""Permuted initialisations: a permutation leaves the function unchanged and matching
undoes one; the checks pass on rows of the claimed shape and each fails for its reason."""

import jax
import numpy as np
import pytest

from complab.experiments.base import Results
from complab.experiments.permuted_initialisations import EXPERIMENT, PATHS, matching, permuted
from complab.models import mlp

CFG = EXPERIMENT.tiers["cpu"]


@pytest.mark.parametrize("hidden, bias", [((24,), False), ((16, 12), True)])
def test_permuting_hidden_units_keeps_the_function_and_matching_recovers_the_permutation(hidden, bias):
    net = mlp.MLP(mlp.Config(hidden=hidden, bias=bias, init="kaiming_normal"), 8, 3, key=jax.random.key(0))
    perms = [np.random.default_rng(i).permutation(h) for i, h in enumerate(hidden)]
    other = permuted(net, perms)
    x = jax.random.normal(jax.random.key(1), (200, 8))
    np.testing.assert_allclose(jax.vmap(other.logits)(x), jax.vmap(net.logits)(x), atol=1e-5)
    assert not np.allclose(other.weights[0], net.weights[0])
    back = permuted(other, matching(net, other, x))  # matching finds which unit of `other` is each unit of `net`
    for w, w_back in zip(net.weights, back.weights):
        np.testing.assert_allclose(w, w_back)


def _results(seed=1, drop=None, **change):
    """change: path -> {alpha: {column: value}} for one seed."""
    base = {"trained_vanilla": lambda a: {"accuracy": 0.97 - 0.03 * (a == 0.5), "nll": 0.1 + 0.2 * (a == 0.5)},
            "trained_permuted": lambda a: {"accuracy": 0.97, "nll": 0.1 + 0.01 * (a == 0.5)},
            "init_vanilla": lambda a: {"accuracy": 0.1, "tempered_nll": 2.3},
            "init_permuted": lambda a: {"accuracy": 0.1 + 0.3 * (a == 0.5), "tempered_nll": 2.3 - 0.6 * (a == 0.5)},
            "init_control": lambda a: {"accuracy": 0.1, "tempered_nll": 2.3}}
    rows = []
    for s in (0, 1, 2):
        for path in PATHS:
            for a in np.linspace(0, 1, CFG.alphas).round(4):
                row = {"seed": s, "path": path, "alpha": float(a), "nll": 0.1, "tempered_nll": 0.1, **base[path](a)}
                if s == seed and a == 0.5:
                    row.update(change.get(path, {}))
                if drop != (s, path):
                    rows.append(row)
    return Results(rows)


@pytest.mark.parametrize("change, want", [
    ({}, [True, True, True]),
    (dict(trained_permuted={"nll": 0.2}), [False, True, True]),  # a barrier left after permutation
    (dict(trained_permuted={"accuracy": 0.9}), [False, True, True]),
    (dict(trained_vanilla={"nll": 0.12}), [False, True, True]),  # no barrier to remove
    (dict(init_permuted={"accuracy": 0.12}), [True, False, True]),  # the permuted inits at chance
    (dict(init_permuted={"tempered_nll": 2.31}), [True, False, True]),
    (dict(init_vanilla={"accuracy": 0.4}), [True, False, True]),  # the plain average works too
    (dict(init_control={"accuracy": 0.4}), [True, True, False]),  # any permutation would do
    (dict(drop=(2, "init_control")), [False, False, False]),
])
def test_each_check_fails_for_its_reason(change, want):
    assert [c.passed for c in EXPERIMENT.expect(_results(**change), CFG)] == want
