from dataclasses import dataclass

import pytest

from complab import config
from complab.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    steps: int = 10
    name: str = "adam"
    clip: bool = False


@dataclass(frozen=True)
class Outer:
    train: Inner = Inner()
    neurons: tuple[int, ...] = (1, 2)


def test_valid_overrides_build_a_new_config():
    base = Outer()
    cfg = config.override(base, {"train.lr": "3e-4", "train.steps": "5", "train.clip": "true", "neurons": "4,8,16"})
    assert cfg.train == Inner(lr=3e-4, steps=5, clip=True) and cfg.neurons == (4, 8, 16)
    assert base == Outer()  # nothing mutated
    assert config.override(base, {"train.lr": 1}).train.lr == 1.0  # python ints are fine for floats


@pytest.mark.parametrize(
    "key,value,fragment",
    [
        ("train.lrr", "1", "unknown config key 'train.lrr' (did you mean 'train.lr'?)"),
        ("nope", "1", "valid keys are: train.lr, train.steps, train.name, train.clip, neurons"),
        ("train.steps", "3.5", "config key 'train.steps' takes a int"),
        ("train.clip", "maybe", "takes true or false"),
        ("neurons", "4,x", "comma-separated list of int"),
        ("train", "1", "is a group; set one of its keys: train.lr"),
        ("train.lr.x", "1", "unknown config key 'train.lr.x'"),
        ("train.steps", True, "takes a int"),
    ],
)
def test_bad_overrides_name_the_key_and_what_is_allowed(key, value, fragment):
    with pytest.raises(ConfigError) as e:
        config.override(Outer(), {key: value})
    assert fragment in str(e.value)


def test_parse_assignments():
    assert config.parse_assignments(["a.b=1", "c = x"]) == {"a.b": "1", "c": "x"}
    with pytest.raises(ConfigError, match="not of the form key.path=value"):
        config.parse_assignments(["a.b"])


def test_hash_is_stable_and_follows_values():
    assert config.config_hash(Outer()) == config.config_hash(Outer())
    assert config.config_hash(Outer()) != config.config_hash(config.override(Outer(), {"train.steps": 11}))


def test_flatten_inverts_to_dict():
    cfg = config.override(Outer(), {"neurons": "3,5", "train.name": "sgd"})
    assert config.override(Outer(), config.flatten(config.to_dict(cfg))) == cfg


@dataclass(frozen=True)
class OtherInner:  # a variant with the same fields as Inner
    lr: float = 1e-3
    steps: int = 10
    name: str = "adam"
    clip: bool = False


def test_hash_tells_variant_classes_apart():
    assert config.config_hash(Outer(train=Inner())) != config.config_hash(Outer(train=OtherInner()))
