"""The σ-MoE checks pass on results of the claimed shape and each fails for its reason;
the dense baseline has the MoE's parameters and the authors' init, and the loss adds the
regulariser."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.experiments import sigma_moe as sm
from complab.experiments.base import Results
from complab.models import moe, sequence
from complab.tasks import char_text as ct

CFG = sm.EXPERIMENT.tiers["cpu"]
BPC = {"dense": 2.00, "sigma_moe": 2.01, "softmax_moe": 2.10, "sigma_moe_noreg": 2.05}
USE = {"sigma_moe": 0.9, "softmax_moe": 0.8, "sigma_moe_noreg": 0.5}


def _results(bpc=None, use=None, drop=None, active=2.0):
    bpc, use = {**BPC, **(bpc or {})}, {**USE, **(use or {})}
    def at(v, s):  # a number for every seed, or one per seed
        return v[s] if isinstance(v, list) else v

    rows = [{"seed": s, "model": m, "bpc": at(bpc[m], s), "unigram_bpc": 4.5,
             **({"usage_rel_perplexity": at(use[m], s), "active_experts": active} if m in use else {})}
            for s in (0, 1, 2) for m in CFG.models if drop != (s, m)]
    return Results(rows)


@pytest.mark.parametrize("bpc, use, want", [
    ({}, {}, [True, True, True]),
    ({"sigma_moe": 2.06}, {}, [False, True, True]),  # 3% worse than dense
    ({"softmax_moe": 2.0}, {}, [True, False, True]),  # softmax as good
    ({}, {"sigma_moe": 0.6}, [True, True, False]),  # experts collapse with the regulariser
    ({}, {"sigma_moe_noreg": 0.95}, [True, True, False]),  # the ablation uses its experts more
    ({m: 4.4 for m in BPC}, {}, [False, False, False]),  # nothing learned (random selection spreads tokens)
    ({"softmax_moe": [2.2, 2.2, 2.0]}, {}, [True, False, True]),  # worse on average, better in one seed
    ({}, {"sigma_moe_noreg": [0.3, 0.3, 0.95]}, [True, True, False]),  # collapses on average, not in one seed
])
def test_each_check_fails_for_its_reason(bpc, use, want):
    assert [c.passed for c in sm.EXPERIMENT.expect(_results(bpc, use), CFG)] == want


def test_a_mixture_that_uses_more_than_k_experts_a_token_does_not_match_for_its_flops():
    assert [c.passed for c in sm.EXPERIMENT.expect(_results(active=8.0), CFG)] == [False, True, True]


def test_a_missing_run_fails_its_checks():
    assert [c.passed for c in sm.EXPERIMENT.expect(_results(drop=(1, "sigma_moe_noreg")), CFG)] == [True, True, False]
    assert [c.passed for c in sm.EXPERIMENT.expect(_results(drop=(2, "dense")), CFG)] == [False, True, True]


def _ff_params(cfg, name):
    """The feed-forward blocks' parameter count, from shapes alone (the paper tier's model is never built)."""
    model = eqx.filter_eval_shape(sequence.SequenceModel, sm.model_config(cfg, name), ct.VOCAB, ct.VOCAB,
                                  key=jax.random.key(0))
    leaves = jax.tree.leaves(model.ffs, is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct))
    return sum(int(np.prod(x.shape)) for x in leaves if isinstance(x, jax.ShapeDtypeStruct)
               and jnp.issubdtype(x.dtype, jnp.inexact))


@pytest.mark.parametrize("tier", ["cpu", "paper"])
def test_the_dense_baseline_has_the_moes_parameters_and_more_flops(tier):
    cfg = sm.EXPERIMENT.tiers[tier]
    dense, mixture = _ff_params(cfg, "dense"), _ff_params(cfg, "sigma_moe")
    assert abs(dense - mixture) <= (2 * cfg.width + 1) * cfg.layers  # within one hidden unit a layer
    assert sm.ff_flops(cfg, "sigma_moe") < 0.6 * sm.ff_flops(cfg, "dense")


def test_the_loss_adds_gamma_times_each_layers_regulariser():
    cfg = sm.EXPERIMENT.tiers["smoke"]
    task = ct.CharText(cfg.text, text=bytes(range(256)) * 20)
    model = sequence.SequenceModel(sm.model_config(cfg, "sigma_moe"), *task.dims, key=jax.random.key(0))
    batch, key = task.sample(jax.random.key(1), "train", 3), jax.random.key(2)
    plain = sm.lm_loss(task, 0.0, cfg.layers)(model, batch, key)
    keys = jax.random.split(key, 3)
    tr = jax.vmap(lambda x, k: model.trace(x, key=k, train=True))(batch.x, keys)
    reg = sum(moe.entropy_regulariser(tr[f"block{i}.ff.logits"]) for i in range(cfg.layers))
    np.testing.assert_allclose(sm.lm_loss(task, 0.5, cfg.layers)(model, batch, key), plain + 0.5 * reg, rtol=1e-6)
    assert float(reg) < 0


def test_the_authors_init_scales_and_zeroes_the_dense_block():
    cfg = sm.EXPERIMENT.tiers["cpu"]
    model = sequence.SequenceModel(sm.model_config(cfg, "dense"), ct.VOCAB, ct.VOCAB, key=jax.random.key(0))
    ff = sm.authors_init(model, cfg, jax.random.key(1)).ffs[0]
    assert float(jnp.abs(ff.up.bias).max()) == 0 and float(jnp.abs(ff.down.bias).max()) == 0
    np.testing.assert_allclose(float(ff.up.weight.std()), cfg.width ** -0.5, rtol=0.05)
    np.testing.assert_allclose(float(ff.down.weight.std()), round(sm.dense_hidden(cfg)) ** -0.5, rtol=0.05)
    mixture = sequence.SequenceModel(sm.model_config(cfg, "sigma_moe"), ct.VOCAB, ct.VOCAB, key=jax.random.key(0))
    deep = dataclasses.replace(cfg, layers=8)
    scaled = sm.authors_init(mixture, deep, jax.random.key(1)).ffs[0]
    np.testing.assert_allclose(scaled.w_in, mixture.ffs[0].w_in * 0.5, rtol=1e-6)  # sqrt(2 / 8)


def test_usage_and_its_relative_perplexity():
    gates = jnp.array([[[0.5, 0.0, 0.2, 0.0], [0.0, 0.3, 0.0, 0.1]]])  # two tokens, top 2 of 4
    np.testing.assert_allclose(sm.usage(gates), [0.25] * 4)
    assert sm.relative_perplexity(np.array([0.25] * 4)) == pytest.approx(1.0)
    assert sm.relative_perplexity(np.array([1.0, 0, 0, 0])) == pytest.approx(0.25)
