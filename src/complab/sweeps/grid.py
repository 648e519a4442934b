"""The grid of a sweep: `--grid key.path=v1,v2` parsed into values, and its product.

Values are split on commas outside square brackets, so a tuple-valued key takes
bracketed values: `--grid lrs=[0.03,0.3],[0.1,1.0]`.
"""

import itertools

from complab.errors import ComplabError


def split_values(raw: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in raw:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ComplabError(f"unbalanced ']' in grid values {raw!r}")
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if depth:
        raise ComplabError(f"unbalanced '[' in grid values {raw!r}")
    out.append(cur)
    values = [v.strip() for v in out]
    return [v[1:-1] if v.startswith("[") and v.endswith("]") else v for v in values]


def parse(items: list[str]) -> dict[str, list[str]]:
    """`["lr=1e-3,3e-3", "width=32,64"]` as {key: values}; malformed, empty or repeated raise."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ComplabError(f"--grid {item!r} is not of the form key.path=v1,v2 (e.g. lsa.lr=1e-3,3e-3)")
        values = split_values(raw)
        if not raw.strip() or any(v == "" for v in values):
            raise ComplabError(f"--grid {key} has an empty value in {raw!r}; give one or more values, e.g. {key}=1,2")
        if key in grid:
            raise ComplabError(f"--grid names {key} twice; give all its values at once: {key}=v1,v2")
        if len(set(values)) != len(values):
            raise ComplabError(f"--grid {key} repeats a value in {raw!r}")
        grid[key] = values
    return grid


def points(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    """The product of the grid's values, in the order given ([{}] for no grid)."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def label(point: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items()) or "(the tier's config)"
