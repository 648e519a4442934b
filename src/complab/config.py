"""Frozen-dataclass configs: strict typed dotted overrides, `to_dict`, a stable hash.

Each component owns a small frozen dataclass; an experiment's tier config nests
them (`train.lr`, `task.dim`, `groups.0.scale` for a tuple of configs). Overrides
are the only way a config changes, and they build a new object, never mutate one:

    >>> cfg = override(cfg, {"train.lr": "3e-4", "neurons": "4,8,16"})

Leaf types: int, float, bool, str, `Literal[...]`, optionals (`int | None`, written
"none"), tuples (`tuple[int, ...]` written "4,8,16", or fixed `tuple[float, float]`)
and tuples of configs. Values are coerced to the field's type (1 -> 1.0 for a float,
NumPy scalars -> Python) by `normalize`, so equal configs hash equally; non-finite
floats are refused everywhere; components refuse out-of-range values in their own
`__post_init__` with `require`. Every refusal is a `ConfigError` naming the key and
what is allowed.
"""

import dataclasses
import difflib
import hashlib
import json
import math
import numbers
import types
import typing
from typing import Any, Literal

import numpy as np

from complab.errors import ConfigError

_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def require(ok: bool, message: str) -> None:
    """For components' `__post_init__`: refuse an out-of-range value with one sentence."""
    if not ok:
        raise ConfigError(message)


def to_dict(cfg: Any, with_class: bool = False) -> dict[str, Any]:
    """The config as nested plain dicts (tuples become lists), for JSON; `with_class`
    adds each nested config's class, so variants with equal fields differ."""
    out: dict[str, Any] = {"__class__": f"{type(cfg).__module__}.{type(cfg).__qualname__}"} if with_class else {}
    for f in dataclasses.fields(cfg):
        out[f.name] = _plain(getattr(cfg, f.name), with_class)
    return out


def _plain(v: Any, with_class: bool) -> Any:
    if dataclasses.is_dataclass(v):
        return to_dict(v, with_class)
    if isinstance(v, tuple):
        return [_plain(x, with_class) for x in v]
    return v


def config_hash(cfg: Any, exclude: tuple[str, ...] = ()) -> str:
    """A 16-hex-digit digest of the (normalized) config's classes and values, stable
    across runs and machines; `exclude` leaves fields out, dotted for nested ones (an
    experiment's cell grid, so adding a cell keeps the other cells' runs)."""
    d = to_dict(normalize(cfg), with_class=True)
    for k in exclude:
        *path, last = k.split(".")
        inner = d
        for p in path:
            inner = inner.get(p, {}) if isinstance(inner, dict) else {}
        if isinstance(inner, dict):
            inner.pop(last, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def leaves(cfg: Any) -> dict[str, Any]:
    """Every settable dotted key with its current value."""
    return flatten(to_dict(cfg))


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts (as `to_dict` makes them, e.g. from the store) as dotted assignments;
    a list of configs gives `key.0.field` keys."""
    out = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                out.update(flatten(x, f"{prefix}{k}.{i}."))
        else:
            out[f"{prefix}{k}"] = tuple(v) if isinstance(v, list) else v
    return out


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"comma-separated list of {_type_name(args[0])} (e.g. 4,8,16)"
        return f"comma-separated list of exactly {len(args)} values ({', '.join(_type_name(a) for a in args)})"
    return getattr(tp, "__name__", str(tp))


def _scalar(key: str, tp: Any, raw: Any) -> Any:
    """`raw` (a command-line string or a Python / NumPy value) as a value of the scalar type `tp`."""
    wrong = ConfigError(f"config key '{key}' takes a {_type_name(tp)}, not {raw!r}")
    if isinstance(raw, str):
        if tp is str:
            return raw
        if tp is bool:
            if raw.lower() not in _BOOLS:
                raise ConfigError(f"config key '{key}' takes true or false, not {raw!r}")
            return _BOOLS[raw.lower()]
        try:
            value = tp(raw)
        except ValueError:
            raise wrong from None
    elif tp is bool:
        if not isinstance(raw, (bool, np.bool_)):
            raise wrong
        value = bool(raw)
    elif tp is int:
        if isinstance(raw, bool) or not isinstance(raw, numbers.Integral):
            raise wrong
        value = int(raw)
    elif tp is float:
        if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
            raise wrong
        # a NumPy float32 0.1 means 0.1 (its shortest repr), not 0.10000000149
        value = float(str(raw)) if isinstance(raw, np.floating) else float(raw)
    elif tp is str or not isinstance(raw, tp):
        raise wrong
    else:
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{key}' must be a finite number, not {raw!r}")
    return value


def parse_value(key: str, tp: Any, raw: Any) -> Any:
    """`raw` (a command-line string or a Python value) converted to the field type `tp`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        for a in args:
            if raw == a or (isinstance(raw, str) and str(a) == raw):
                return a
        raise ConfigError(f"config key '{key}' takes {_type_name(tp)}, not {raw!r}")
    if origin in (typing.Union, types.UnionType):
        if raw is None or (isinstance(raw, str) and raw.lower() == "none"):
            if type(None) in args:
                return None
        for a in args:
            if a is type(None):
                continue
            try:
                return parse_value(key, a, raw)
            except ConfigError:
                pass
        raise ConfigError(f"config key '{key}' takes {_type_name(tp)}, not {raw!r}")
    if origin is tuple:
        if dataclasses.is_dataclass(args[0]):
            if not isinstance(raw, (tuple, list)) or not all(dataclasses.is_dataclass(x) for x in raw):
                raise ConfigError(f"config key '{key}' is a list of configs; set one of their keys, "
                                  f"e.g. '{key}.0.<field>'")
            return tuple(normalize(x, f"{key}.{i}") for i, x in enumerate(raw))
        parts = [p.strip() for p in raw.split(",") if p.strip()] if isinstance(raw, str) else list(raw)
        variadic = len(args) == 2 and args[1] is Ellipsis
        items = [args[0]] * len(parts) if variadic else list(args)
        if len(items) != len(parts):
            raise ConfigError(f"config key '{key}' takes a {_type_name(tp)}, not {raw!r}")
        try:
            return tuple(parse_value(key, t, p) for t, p in zip(items, parts))
        except ConfigError:
            raise ConfigError(f"config key '{key}' takes a {_type_name(tp)}, not {raw!r}") from None
    if dataclasses.is_dataclass(tp):
        if not dataclasses.is_dataclass(raw):
            raise ConfigError(f"config key '{key}' is a group; set one of its keys, e.g. '{key}.<field>'")
        return normalize(raw, key)
    return _scalar(key, tp, raw)


def normalize(cfg: Any, prefix: str = "") -> Any:
    """The config with every value coerced to its field's type (1 -> 1.0, NumPy scalars
    -> Python) and checked (finite floats, tuple lengths, literals), recursively."""
    hints = typing.get_type_hints(type(cfg))
    changes = {}
    for f in dataclasses.fields(cfg):
        key = f"{prefix}.{f.name}" if prefix else f.name
        v = getattr(cfg, f.name)
        tp = hints[f.name]
        if tp is Any:  # e.g. a model's `mixer`: whichever mixer config it holds
            new = normalize(v, key) if dataclasses.is_dataclass(v) else v
        else:
            new = parse_value(key, tp, v)
        if new is not v:
            changes[f.name] = new
    return _replace(cfg, changes, prefix) if changes else cfg


def _replace(cfg: Any, changes: dict[str, Any], prefix: str) -> Any:
    """`dataclasses.replace`, with the component's own refusal (`__post_init__`) naming the key."""
    try:
        return dataclasses.replace(cfg, **changes)
    except ConfigError as e:
        where = f"in '{prefix}': " if prefix else ""
        raise ConfigError(f"{where}{e}") from None


def _set(cfg: Any, path: list[str], raw: Any, full: str, valid: list[str], prefix: str) -> Any:
    hints = typing.get_type_hints(type(cfg))
    name = path[0]
    if name not in hints:
        raise _unknown(full, valid)
    current = getattr(cfg, name)
    here = f"{prefix}.{name}" if prefix else name
    if len(path) == 1:
        if dataclasses.is_dataclass(current) or _is_config_tuple(current):
            group = [k for k in valid if k.startswith(full + ".")]
            raise ConfigError(f"config key '{full}' is a group; set one of its keys: {', '.join(group)}")
        return _replace(cfg, {name: parse_value(full, hints[name], raw)}, prefix)
    if _is_config_tuple(current):
        index = path[1]
        if not index.isdigit() or int(index) >= len(current) or len(path) < 3:
            raise _unknown(full, valid)
        i = int(index)
        item = _set(current[i], path[2:], raw, full, valid, f"{here}.{i}")
        return _replace(cfg, {name: current[:i] + (item,) + current[i + 1:]}, prefix)
    if not dataclasses.is_dataclass(current):
        raise _unknown(full, valid)
    return _replace(cfg, {name: _set(current, path[1:], raw, full, valid, here)}, prefix)


def _is_config_tuple(v: Any) -> bool:
    return isinstance(v, tuple) and bool(v) and all(dataclasses.is_dataclass(x) for x in v)


def _unknown(key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown config key '{key}'{hint}; valid keys are: {', '.join(valid)}")


def override(cfg: Any, assignments: dict[str, Any]) -> Any:
    """A new, normalized config with dotted keys set; unknown keys, wrong types and
    values a component refuses raise ConfigError."""
    cfg = normalize(cfg)
    valid = list(leaves(cfg))
    for key, raw in assignments.items():
        cfg = _set(cfg, key.split("."), raw, key, valid, "")
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
