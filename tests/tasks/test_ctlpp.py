"""CTL++: held-out group patterns never appear in training, every sample's walk follows
its split's plan, answers are the composed permutations, and sizes follow the sampler."""

import itertools

import jax
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import ctlpp

SMALL = dict(functions=8, depths=(2, 4), train_size=600, iid_size=50, test_size=60)


def _group_of(cfg):
    train, _ = ctlpp.plans(cfg)
    return {f: g for g, fs in train.groups.items() for f in fs}


def _follows(plan, perms, x, fs):
    """Whether a walk (functions in order of application) is allowed by `plan`, symbols included."""
    group = {f: g for g, members in plan.groups.items() for f in members}
    g, s = "IN", x
    for f in fs:
        if (group[f], f) not in plan.moves(g, s):
            return False
        g, s = group[f], int(perms[f, s])
    return g in plan.last


@pytest.mark.parametrize("variant,extra", [("R", {}), ("A", {}), ("S", dict(functions=12, overlap=4,
                                                                            symbol_overlap=3))])
def test_splits_are_disjoint_and_follow_their_plans(variant, extra):
    cfg = ctlpp.Config(variant=variant, **{**SMALL, **extra})
    perms, data = ctlpp.build(cfg)
    train_plan, test_plan = ctlpp.plans(cfg)
    assert not set(data["train"]) & set(data["ood"]) and not set(data["train"]) & set(data["iid"])
    for split, plan in (("train", train_plan), ("iid", train_plan), ("ood", test_plan)):
        assert all(_follows(plan, perms, x, fs) for x, fs in data[split]), split
        assert len(set(data[split])) == len(data[split])  # distinct samples
    assert not any(_follows(train_plan, perms, x, fs) for x, fs in data["ood"])  # the pattern is never trained
    pairs = ctlpp.Walks(train_plan, perms, 2).every(2)
    assert set(pairs) <= set(data["train"]) | set(data["iid"])  # every depth-2 training pair is seen


def test_r_trains_within_groups_and_tests_across_and_a_the_reverse():
    for variant, same_in_train in (("R", True), ("A", False)):
        cfg = ctlpp.Config(variant=variant, **SMALL)
        _, data = ctlpp.build(cfg)
        group = _group_of(cfg)
        for split, same in (("train", same_in_train), ("ood", not same_in_train)):
            for _, fs in data[split]:
                steps = [group[a] == group[b] for a, b in zip(fs, fs[1:])]
                assert all(s == same for s in steps), (variant, split, fs)


def test_s_restricts_each_shared_function_to_its_symbols_and_tests_the_unseen_stage_pairs():
    cfg = ctlpp.Config(variant="S", functions=12, overlap=4, symbol_overlap=3, depths=(2, 4), train_size=800,
                       iid_size=50, test_size=60)
    train_plan, _ = ctlpp.plans(cfg)
    for f in train_plan.groups["o"]:
        a, b = train_plan.allowed[("a1", f)], train_plan.allowed[("b1", f)]
        assert len(a & b) == 3 and a | b == set(range(8))
    _, data = ctlpp.build(cfg)
    group = _group_of(cfg)
    assert all(len(fs) % 2 == 0 for split in data.values() for _, fs in split)
    crossed = {("a1", "b2"), ("b1", "a2")}
    for split, want in (("train", False), ("ood", True)):
        has = [any((group[a], group[b]) in crossed for a, b in zip(fs, fs[1:])) for _, fs in data[split]]
        assert all(h == want for h in has)


def test_answers_are_the_composed_permutations_and_tokens_read_last_applied_first():
    cfg = ctlpp.Config(variant="R", **SMALL)
    task = ctlpp.CTLpp(cfg)
    perms = np.asarray(task.perms)
    assert len({tuple(p) for p in perms}) == cfg.functions and all(sorted(p) == list(range(8)) for p in perms)
    b = task.sample(jax.random.key(0), "train", 64)
    tok, valid = np.asarray(b.x).argmax(-1), np.asarray(b.info["valid"])
    for row, v, y in zip(tok, valid, np.asarray(b.y)[:, 0].argmax(-1)):
        row = row[v]
        sos = cfg.functions + cfg.symbols
        assert row[0] == sos and row[-1] == sos + 1
        fs, x = row[1:-2], row[-2] - cfg.functions
        s = x
        for f in fs[::-1]:  # f_1 is next to the symbol
            s = perms[f, s]
        assert s == y
    assert np.asarray(b.x)[~valid].sum() == 0  # padding is all zeros


def test_sizes_spread_over_depths_within_the_fill_factor():
    cfg = ctlpp.Config(variant="R", **{**SMALL, "train_size": 2000})
    perms, data = ctlpp.build(cfg)
    walks = ctlpp.Walks(ctlpp.plans(cfg)[0], perms, 4)
    assert walks.total(2) == 2 * 4 * 4 * 8 == len(walks.every(2))
    depths = np.bincount([len(fs) for _, fs in data["train"] + data["iid"]], minlength=5)
    assert depths[2] == walks.total(2)  # half by the sampler, the rest by the pairs
    assert depths[3] == 0.5 * walks.total(3) and depths[4] <= 0.5 * walks.total(4)  # depth 3 is full: 4 takes the rest
    assert len(data["iid"]) == 50 and len(data["train"]) == 2000 + walks.total(2) // 2  # the pairs not drawn
    assert len(data["ood"]) == 60


def test_more_walks_than_a_plan_has_are_refused_before_sampling():
    with pytest.raises(ConfigError, match="2688 distinct walks"):
        ctlpp.build(ctlpp.Config(variant="R", **{**SMALL, "train_size": 5000}))
    with pytest.raises(ConfigError, match="held-out plan"):
        ctlpp.check_sizes(ctlpp.Config(variant="S", functions=16, overlap=12, symbol_overlap=6, depths=(2, 4),
                                       train_size=1000, test_size=1000))


def test_the_same_seed_gives_the_same_data_and_another_seed_other_functions():
    a, b = ctlpp.build(ctlpp.Config(**SMALL)), ctlpp.build(ctlpp.Config(**SMALL))
    c = ctlpp.build(ctlpp.Config(**SMALL, split_seed=1))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("kw", [dict(variant="X"), dict(depths=(1, 3)), dict(variant="S", depths=(3, 3)),
                                dict(variant="S", functions=10, overlap=4), dict(variant="R", overlap=2),
                                dict(symbol_overlap=9)])
def test_impossible_settings_are_refused(kw):
    with pytest.raises(ConfigError):
        ctlpp.Config(**kw)


def test_every_walk_of_a_plan_is_counted():
    cfg = ctlpp.Config(variant="S", functions=8, overlap=4, symbol_overlap=2, depths=(2, 4))
    perms = ctlpp.permutations(cfg)
    plan = ctlpp.plans(cfg)[0]
    walks = ctlpp.Walks(plan, perms, 4)
    brute = sum(_follows(plan, perms, x, fs) for x in range(8) for fs in itertools.product(range(8), repeat=4))
    assert walks.total(4) == brute > 0
