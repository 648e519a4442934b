import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import domain_shift as ds

CFG = ds.Config(domains=12, train_domains=6, val_domains=3, classes=6, dim=5, per_domain=60)


def test_ood_splits_share_no_domain_and_id_splits_come_from_the_train_domains():
    data = ds.build(CFG)
    doms = {k: set(np.unique(v["domain"])) for k, v in data.items()}
    assert len(doms["train"]) == CFG.train_domains and len(doms["ood_val"]) == CFG.val_domains
    assert len(doms["ood_test"]) == CFG.domains - CFG.train_domains - CFG.val_domains
    tr, va, te = doms["train"], doms["ood_val"], doms["ood_test"]
    assert not (tr & va or tr & te or va & te)
    assert doms["id_val"] <= doms["train"] and doms["id_test"] <= doms["train"]


def test_every_sample_is_in_exactly_one_split():
    data = ds.build(CFG)
    rows = np.concatenate([v["x"] for v in data.values()])
    assert len(np.unique(rows, axis=0)) == len(rows)
    held = len(data["id_val"]["y"]) + len(data["id_test"]["y"])
    assert held == pytest.approx(CFG.id_fraction * (held + len(data["train"]["y"])), abs=1)


def test_the_data_set_is_a_function_of_the_split_seed():
    a, b = ds.build(CFG), ds.build(CFG)
    c = ds.build(ds.Config(**{**CFG.__dict__, "split_seed": 1}))
    assert all(np.array_equal(a[k]["x"], b[k]["x"]) for k in a)
    assert not np.array_equal(a["train"]["y"][:50], c["train"]["y"][:50])


def test_each_domain_draws_labels_from_its_own_prior():
    cfg = ds.Config(domains=6, train_domains=3, val_domains=1, classes=4, dim=3, per_domain=4000, count_spread=0.0)
    data, pi = ds.build(cfg), ds.priors(cfg)
    y = np.concatenate([v["y"] for v in data.values()])
    d = np.concatenate([v["domain"] for v in data.values()])
    for k in range(cfg.domains):
        freq = np.bincount(y[d == k], minlength=cfg.classes) / (d == k).sum()
        assert np.abs(freq - pi[k]).max() < 0.03


def test_inputs_are_class_mean_plus_background_and_the_background_view_is_the_domain_alone():
    cfg = ds.Config(**{**CFG.__dict__, "noise": 0.0})
    task, bg = ds.DomainShift(cfg), ds.DomainShift(cfg, view="background")
    b, g = task.whole("train"), bg.whole("train")
    same = np.asarray(b.info["domain"]) == int(b.info["domain"][0])
    assert np.allclose(np.asarray(g.x[same, 0]), np.asarray(g.x[0, 0]))  # one background per domain
    resid = np.asarray(b.x[:, 0] - g.x[:, 0])  # what is left is the class mean
    y = np.asarray(b.y[:, 0].argmax(-1))
    assert all(np.allclose(resid[y == c], resid[y == c][0], atol=1e-5) for c in np.unique(y))


def test_metrics_give_accuracy_and_macro_f1():
    task = ds.DomainShift(CFG)
    b = task.whole("id_test")
    perfect = task.metrics(b.y * 10.0, b)
    assert float(perfect["accuracy"]) == 1.0 and float(perfect["f1"]) == pytest.approx(1.0)
    majority = jnp.broadcast_to(jax.nn.one_hot(0, CFG.classes) * 10.0, b.y.shape)
    m = task.metrics(majority, b)
    y = np.asarray(b.y[:, 0].argmax(-1))
    share = (y == 0).mean()  # class 0's F1 is 2 share / (1 + share); every other present class scores 0
    assert float(m["accuracy"]) == pytest.approx(share)
    assert float(m["f1"]) == pytest.approx(2 * share / (1 + share) / len(np.unique(y)))


def test_impossible_layouts_are_refused():
    with pytest.raises(ComplabError, match="at least one for each"):
        ds.Config(domains=10, train_domains=8, val_domains=2)
    with pytest.raises(ComplabError, match="view"):
        ds.DomainShift(CFG, view="labels")
