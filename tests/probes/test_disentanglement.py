"""The per-level metric: DCI's D is 1 for a one-to-one importance matrix and 0 for a uniform
one; levels aggregate the right blocks; the invariant probe finds each object's slot; the
scene generator is deterministic and structured at alpha = theta = 0."""

import numpy as np
import pytest

from complab.probes import disentanglement as dg
from complab.tasks import slot_scenes as ss


def test_dci_disentanglement_extremes_and_weighting():
    assert dg.dci_disentanglement(np.eye(4)) == pytest.approx(1.0)
    assert dg.dci_disentanglement(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-12)
    # a heavy one-to-one row and a light uniform row: weighted by their mass
    r = np.array([[3.0, 0.0], [0.5, 0.5]])
    assert dg.dci_disentanglement(r) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="two factor groups"):
        dg.dci_disentanglement(np.ones((3, 1)))


def test_levels_aggregate_slot_object_and_within_slot_blocks():
    k, d, p = 3, 2, 2
    # each slot's dims each carry the matching object's properties, but the two dims swap properties
    r = np.zeros((k * d, k * p))
    for j in range(k):
        r[j * d + 0, j * p + 1] = 1.0
        r[j * d + 1, j * p + 0] = 1.0
    lv = dg.levels(r, k, d, p)
    assert [lv[x] for x in ("object", "property", "flat")] == pytest.approx([1.0, 1.0, 1.0])
    # spread every slot over every object: the object level falls to 0, the property level stays 1
    spread = np.tile(r.reshape(k, d, k, p).sum(2, keepdims=True) / k, (1, 1, k, 1)).reshape(k * d, k * p)
    lv = dg.levels(spread, k, d, p)
    assert lv["object"] == pytest.approx(0.0, abs=1e-12) and lv["property"] == pytest.approx(1.0)


def test_scenes_are_deterministic_and_perfectly_structured_without_mixing():
    cfg = ss.Config(scenes=50, noise=0.0)
    a, b = ss.scenes(cfg, 3, 0.0, 0.0), ss.scenes(cfg, 3, 0.0, 0.0)
    assert np.array_equal(a["slots"], b["slots"])
    held = np.take_along_axis(a["properties"], a["order"][..., None], axis=1)
    np.testing.assert_allclose(a["slots"], held)  # slot k holds object order[k], untouched
    mixed = ss.scenes(cfg, 3, 0.5, 0.0)
    np.testing.assert_allclose(mixed["slots"].mean(1), held.mean(1))  # object mixing keeps the scene's mean
    np.testing.assert_allclose(ss.rotation(5, 0.3) @ ss.rotation(5, 0.3).T, np.eye(5), atol=1e-12)


def test_the_invariant_probe_finds_every_objects_slot_and_the_naive_one_cannot():
    data = ss.scenes(ss.Config(scenes=300), 0, 0.3, 0.2)
    assign = dg.match_slots(data["slots"], data["properties"])
    assert np.array_equal(assign, np.argsort(data["order"], axis=1))
    naive = dg.levels(dg.naive_probe(data["slots"], data["properties"]), 4, 5, 5)
    assert naive["object"] < 0.1
