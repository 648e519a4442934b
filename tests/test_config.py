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


def test_hash_leaves_out_excluded_fields_nested_too():
    base = config.config_hash(Outer(), exclude=("neurons", "train.steps"))
    assert config.config_hash(config.override(Outer(), {"neurons": "3,5", "train.steps": 11}),
                              exclude=("neurons", "train.steps")) == base
    assert config.config_hash(config.override(Outer(), {"train.lr": 0.5}), exclude=("neurons", "train.steps")) != base


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


# ---- the failures of the first spine, each a property now

from typing import Literal  # noqa: E402

import numpy as np  # noqa: E402

from complab.learners import optim  # noqa: E402


@dataclass(frozen=True)
class Rich:
    groups: tuple[optim.Group, ...] = (optim.Group("w", 1.0), optim.Group("v", 0.5))
    kind: Literal["adam", "sgd"] = "adam"
    limit: int | None = None
    pair: tuple[float, float] = (0.0, 1.0)
    lr: float = 1e-3


def test_tuples_of_configs_hash_and_override_by_index():
    cfg = Rich()
    config.config_hash(cfg)
    new = config.override(cfg, {"groups.1.scale": "0.25"})
    assert new.groups[1].scale == 0.25 and new.groups[0] == cfg.groups[0]
    assert "groups.1.scale" in config.leaves(cfg)
    with pytest.raises(ConfigError, match="unknown config key 'groups.2.scale'"):
        config.override(cfg, {"groups.2.scale": "1"})


def test_literals_optionals_and_fixed_tuples():
    assert config.override(Rich(), {"kind": "sgd"}).kind == "sgd"
    with pytest.raises(ConfigError, match="takes one of 'adam', 'sgd', not 'rmsprop'"):
        config.override(Rich(), {"kind": "rmsprop"})
    assert config.override(Rich(), {"limit": "7"}).limit == 7
    assert config.override(Rich(limit=3), {"limit": "none"}).limit is None
    with pytest.raises(ConfigError, match="takes int or none"):
        config.override(Rich(), {"limit": "x"})
    with pytest.raises(ConfigError, match="exactly 2 values"):
        config.override(Rich(), {"pair": "1,2,3"})


def test_values_are_coerced_before_hashing():
    assert config.config_hash(Inner(lr=1)) == config.config_hash(Inner(lr=1.0))
    assert config.config_hash(Inner(lr=np.float32(0.5), steps=np.int64(10))) == config.config_hash(Inner(lr=0.5))
    assert config.config_hash(Inner(lr=np.float32(0.1))) == config.config_hash(Inner(lr=0.1))
    assert type(config.normalize(Inner(lr=1)).lr) is float


@pytest.mark.parametrize("value", ["nan", "inf", float("nan"), "-inf"])
def test_non_finite_values_are_refused(value):
    with pytest.raises(ConfigError, match="must be a finite number"):
        config.override(Outer(), {"train.lr": value})


@pytest.mark.parametrize("key,value,fragment", [
    ("lr", "-1", "lr must be > 0"),
    ("lr", "0", "lr must be > 0"),
    ("b1", "2", "b1 and b2 must be in [0, 1)"),
    ("clip", "-1", "clip must be >= 0"),
    ("warmup", "5000", "warmup must be in [0, steps=1000]"),
])
def test_components_refuse_out_of_range_values(key, value, fragment):
    @dataclass(frozen=True)
    class Exp:
        train: optim.Config = optim.Config()

    with pytest.raises(ConfigError) as e:
        config.override(Exp(), {f"train.{key}": value})
    assert fragment in str(e.value) and "'train'" in str(e.value)


def test_hash_can_leave_out_the_cell_grid():
    assert config.config_hash(Outer(neurons=(1, 2)), exclude=("neurons",)) == \
        config.config_hash(Outer(neurons=(1, 2, 3)), exclude=("neurons",))
