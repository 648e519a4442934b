"""Frozen-dataclass configs: strict dotted overrides, `to_dict`, a stable hash.

Each component owns a small frozen dataclass; an experiment's tier config nests
them (`train.lr`, `task.dim`). Overrides are the only way a config changes, and they
build a new object (`dataclasses.replace`), never mutate one:

    >>> cfg = override(cfg, {"train.lr": "3e-4", "neurons": "4,8,16"})

Unknown keys and values of the wrong type raise `ConfigError` naming the key and
what is allowed. Supported leaf types: int, float, bool, str and homogeneous tuples
of those (`tuple[int, ...]`, written "4,8,16" on the command line).
"""

import dataclasses
import difflib
import hashlib
import json
import typing
from typing import Any

from complab.errors import ConfigError

_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def to_dict(cfg: Any, with_class: bool = False) -> dict[str, Any]:
    """The config as nested plain dicts (tuples become lists), for JSON; `with_class`
    adds each nested config's class, so variants with equal fields differ."""
    out: dict[str, Any] = {"__class__": f"{type(cfg).__module__}.{type(cfg).__qualname__}"} if with_class else {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            v = to_dict(v, with_class)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def config_hash(cfg: Any) -> str:
    """A 16-hex-digit digest of the config's classes and values, stable across runs and machines."""
    return hashlib.sha256(json.dumps(to_dict(cfg, with_class=True), sort_keys=True).encode()).hexdigest()[:16]


def leaves(cfg: Any) -> dict[str, Any]:
    """Every settable dotted key with its current value."""
    return flatten(to_dict(cfg))


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts (as `to_dict` makes them, e.g. from the store) as dotted assignments."""
    out = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = tuple(v) if isinstance(v, list) else v
    return out


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        return f"comma-separated list of {typing.get_args(tp)[0].__name__} (e.g. 4,8,16)"
    return getattr(tp, "__name__", str(tp))


def _parse_scalar(key: str, tp: type, raw: Any) -> Any:
    wrong = ConfigError(f"config key '{key}' takes a {_type_name(tp)}, not {raw!r}")
    if not isinstance(raw, str):
        if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if type(raw) is tp:
            return raw
        raise wrong
    if tp is bool:
        if raw.lower() not in _BOOLS:
            raise ConfigError(f"config key '{key}' takes true or false, not {raw!r}")
        return _BOOLS[raw.lower()]
    if tp is str:
        return raw
    try:
        return tp(raw)
    except ValueError:
        raise wrong from None


def parse_value(key: str, tp: Any, raw: Any) -> Any:
    """`raw` (a command-line string or a Python value) converted to the field type `tp`."""
    if typing.get_origin(tp) is tuple:
        (item, *_rest) = typing.get_args(tp)
        parts = [p for p in raw.split(",") if p.strip()] if isinstance(raw, str) else list(raw)
        try:
            return tuple(_parse_scalar(key, item, p.strip() if isinstance(p, str) else p) for p in parts)
        except ConfigError:
            raise ConfigError(f"config key '{key}' takes a {_type_name(tp)}, not {raw!r}") from None
    return _parse_scalar(key, tp, raw)


def _set(cfg: Any, path: list[str], raw: Any, full: str, valid: list[str]) -> Any:
    hints = typing.get_type_hints(type(cfg))
    name = path[0]
    if name not in hints:
        raise _unknown(full, valid)
    current = getattr(cfg, name)
    if len(path) == 1:
        if dataclasses.is_dataclass(current):
            group = [k for k in valid if k.startswith(full + ".")]
            raise ConfigError(f"config key '{full}' is a group; set one of its keys: {', '.join(group)}")
        return dataclasses.replace(cfg, **{name: parse_value(full, hints[name], raw)})
    if not dataclasses.is_dataclass(current):
        raise _unknown(full, valid)
    return dataclasses.replace(cfg, **{name: _set(current, path[1:], raw, full, valid)})


def _unknown(key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown config key '{key}'{hint}; valid keys are: {', '.join(valid)}")


def override(cfg: Any, assignments: dict[str, Any]) -> Any:
    """A new config with dotted keys set; unknown keys or wrong types raise ConfigError."""
    valid = list(leaves(cfg))
    for key, raw in assignments.items():
        cfg = _set(cfg, key.split("."), raw, key, valid)
    return cfg


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`["train.lr=3e-4", ...]` from the command line as a dict; malformed items raise."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key.path=value (e.g. train.lr=3e-4)")
        out[key.strip()] = value.strip()
    return out
