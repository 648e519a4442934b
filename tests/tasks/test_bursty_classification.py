"""Bursty few-shot sequences: each split has the layout its evaluator promises (read back from
the tokens), exemplars are fixed vectors, classes follow their distribution, and the
accuracies are scored as the paper scores them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import bursty_classification as bursty

CFG = bursty.Config(classes=12, exemplars=3, dim=8, context=4, burstiness=2)


def _decode(task, split, n=64, key=0):
    """(context classes, context labels, query class, target) of each sequence, read from the tokens."""
    c = task.cfg
    batch = task.sample(jax.random.key(key), split, n)
    table = np.asarray(task.exemplar(jnp.arange(c.classes)[:, None], jnp.arange(c.exemplars)[None])).reshape(-1, c.dim)
    x = np.asarray(batch.x)
    items, labels = x[:, 0::2, :c.dim], x[:, 1::2, c.dim:]
    assert np.all(x[:, 0::2, c.dim:] == 0) and np.all(x[:, 1::2, :c.dim] == 0)
    assert np.allclose(labels.sum(-1), 1) and np.allclose(labels.max(-1), 1)
    dist = ((items[..., None, :] - table[None, None]) ** 2).sum(-1)
    assert np.all(dist.min(-1) < 1e-10)  # every item is one of the fixed exemplars
    cls = dist.argmin(-1) // c.exemplars
    target = np.asarray(batch.info["target"])
    assert np.all(np.asarray(batch.y)[:, -1].argmax(-1) == target) and np.all(np.asarray(batch.mask)[:, :-1] == 0)
    return cls[:, :-1], labels.argmax(-1), cls[:, -1], target


def test_training_sequences_are_bursty_with_a_distractor_and_true_labels():
    cfg = bursty.Config(classes=12, exemplars=3, dim=8, context=6, burstiness=2)
    ctx, lab, q, target = _decode(bursty.BurstyClassification(cfg), "train", n=400)
    repeats = 0
    for i in range(len(q)):
        counts = {k: int((ctx[i] == k).sum()) for k in set(ctx[i].tolist())}
        assert counts.pop(int(q[i])) >= 2 and max(counts.values()) >= 2 and target[i] == q[i]
        assert np.all(lab[i] == ctx[i])
        repeats += len(set(ctx[i].tolist())) < 4
    assert repeats > 0  # the rest is drawn with replacement, as the authors' sampler does


def test_icl_relabels_two_classes_to_0_and_1_and_flip_swaps_their_labels():
    task = bursty.BurstyClassification(CFG)
    ctx, lab, q, target = _decode(task, "icl")
    for i in range(len(q)):
        assert len(set(ctx[i].tolist())) == 2 and (ctx[i] == q[i]).sum() == 2
        assert set(lab[i].tolist()) == {0, 1} and set(lab[i][ctx[i] == q[i]].tolist()) == {int(target[i])}
    assert 0.3 < np.mean(target) < 0.7  # the 0 / 1 assignment is random
    ctx, lab, q, target = _decode(task, "flip")
    for i in range(len(q)):
        other = int(ctx[i][ctx[i] != q[i]][0])
        assert np.all(lab[i][ctx[i] == q[i]] == other) and np.all(lab[i][ctx[i] != q[i]] == q[i]) and target[i] == other


def test_ciwl_and_iwl_leave_the_query_class_out_and_only_ciwl_shows_its_label():
    task = bursty.BurstyClassification(CFG)
    for split in ("ciwl", "iwl"):
        ctx, lab, q, target = _decode(task, split)
        for i in range(len(q)):
            assert q[i] not in ctx[i] and len(set(ctx[i].tolist())) == CFG.context and target[i] == q[i]
            moved = lab[i] != ctx[i]
            if split == "ciwl":
                assert moved.sum() == 1 and lab[i][moved][0] == q[i]
            else:
                assert not moved.any() and q[i] not in lab[i]


def test_batches_and_exemplars_are_deterministic_and_splits_draw_their_own_streams():
    task = bursty.BurstyClassification(CFG)
    a, b = task.sample(jax.random.key(3), "train", 16), task.sample(jax.random.key(3), "train", 16)
    assert np.array_equal(a.x, b.x)
    assert not np.array_equal(task.sample(jax.random.key(3), "iwl", 16).x, a.x)
    assert np.array_equal(task.exemplar(jnp.array(5), jnp.array(1)), task.exemplar(jnp.array([5]), jnp.array([1]))[0])
    other = bursty.BurstyClassification(bursty.Config(**{**CFG.__dict__, "seed": 1}))
    assert not np.allclose(task.exemplar(jnp.array(5), jnp.array(1)), other.exemplar(jnp.array(5), jnp.array(1)))


def test_exemplars_spread_around_their_class_centroid_by_the_noise():
    cfg = bursty.Config(classes=40, exemplars=20, dim=256, noise=0.5)
    x = np.asarray(bursty.BurstyClassification(cfg).exemplar(jnp.arange(40)[:, None], jnp.arange(20)[None]))
    within = np.mean([np.corrcoef(x[k])[np.triu_indices(20, 1)].mean() for k in range(40)])
    assert abs(within - 1 / (1 + cfg.noise**2)) < 0.03  # cos(x_kj, x_kl) = 1 / (1 + eps^2)
    assert abs(np.mean(np.sum(x**2, -1)) - 1) < 0.05


def test_training_classes_follow_their_law_and_evaluation_classes_are_uniform():
    uniform = np.full(20, 1 / 20)
    for alpha in (0.0, 1.0):
        task = bursty.BurstyClassification(bursty.Config(classes=20, exemplars=1, dim=2, zipf_alpha=alpha))
        p = np.arange(1, 21) ** -alpha / np.sum(np.arange(1, 21) ** -alpha)
        for split, law in (("train", p), ("iwl", uniform)):
            q = np.asarray(task.sample(jax.random.key(0), split, 20_000).info["query_class"])
            freq = np.bincount(q, minlength=20) / len(q)
            assert np.all(np.abs(freq - law) < 5 * np.sqrt(law * (1 - law) / len(q)) + 1e-3)


def test_icl_is_scored_among_the_in_context_labels_and_the_others_over_all():
    task = bursty.BurstyClassification(CFG)
    batch = task.sample(jax.random.key(0), "icl", 64)
    logits = np.full((64, 1, CFG.classes), 0.0)
    logits[:, 0, 7] = 5.0  # a label that is never in an ICL context, then the right one a little lower
    logits[np.arange(64), 0, np.asarray(batch.info["target"])] = 1.0
    m = task.metrics(jnp.asarray(np.concatenate([np.zeros((64, 8, CFG.classes)), logits], 1)), batch)
    assert float(m["accuracy"]) == 0.0 and float(m["in_context_accuracy"]) == 1.0
    assert bursty.score("icl", m) == m["in_context_accuracy"] and bursty.score("iwl", m) == m["accuracy"]


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="even"):
        bursty.Config(context=3)
    with pytest.raises(ConfigError, match="burstiness"):
        bursty.Config(context=2, burstiness=2)
    with pytest.raises(ConfigError, match="classes >= context"):
        bursty.Config(classes=2, context=2)
