import jax
import numpy as np

from complab import rng


def _bits(key):
    return np.asarray(jax.random.key_data(key))


def test_named_keys_are_deterministic_and_distinct():
    root = rng.root_key(3)
    assert (_bits(rng.named(root, "data")) == _bits(rng.named(rng.root_key(3), "data"))).all()
    names = ["init", "data", "train", "eval", "test"]
    keys = {tuple(_bits(rng.named(root, n))) for n in names}
    assert len(keys) == len(names)


def test_seeds_give_different_streams():
    assert not (_bits(rng.named(rng.root_key(0), "data")) == _bits(rng.named(rng.root_key(1), "data"))).all()


def test_name_id_is_stable_across_processes():
    # crc32, not Python's salted hash: this value must never change
    assert rng.name_id("data") == 2918445923 & 0x7FFFFFFF


def test_seed_of_a_root_key_is_its_seed():
    from complab.rng import root_key, seed_of

    assert seed_of(root_key(7)) == 7 and seed_of(root_key(0)) == 0
