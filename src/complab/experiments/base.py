"""The experiment interface (DESIGN: Experiment).

An experiment module `experiments/<id>.py` exports `EXPERIMENT = Experiment(...)`:
the claim and its source, a frozen config per tier (`smoke`: seconds, run by CI;
`cpu`: shows the claim on a 2-core laptop in minutes, the default; `paper`: the
paper's own scale, for a GPU), and plain functions:

- `cells(cfg) -> [dict]` (optional): the grid points of the claim, e.g.
  `[{"model": "lsa"}, {"model": "rnn", "neurons": 48}, ...]`. Each (cell, seed) is
  its own cached, resumable run; a failed cell is recorded and the others go on.
  Config fields listed in `grid` only enumerate cells: they are left out of the
  runs' config hash, so adding a cell recomputes nothing else. Without `cells`
  there is one cell, `{}`.
- `run(cfg, cell, key, ctx) -> rows`: one cell of one seed (`key` is the seed's
  root key, the same for every cell, so cells can share evaluation data). Train
  through `ctx.fit(...)`, which checkpoints, resumes, shows progress, logs metrics
  and records evaluation curves; return tidy rows (dicts of plain numbers, strings
  or small lists). The store adds the seed and the cell's columns to every row.
- `expect(results, cfg) -> [Check]`: the claim as checks over the rows and curves
  of all cells and seeds; every check states the numbers it measured.
- `plot(results, cfg) -> matplotlib Figure`: the figure of the claim (import
  matplotlib inside it).
- `steps(cfg, cell) -> int` (optional): the training steps of one run, for the ETA.
- `validate(cfg)` (optional): raise `ComplabError` naming what is wrong with an
  impossible config, before anything is stored or trained. Components refuse their
  own out-of-range values in `__post_init__`.
- `x64`: run in float64 (ODE theory), without changing the process for others.

Choices made where the paper is ambiguous go in the module's docstring.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np

TIERS = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class Check:
    """One claim check: what it asserts, whether it held, and the numbers measured."""

    name: str
    passed: bool
    measured: str

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": bool(self.passed), "measured": self.measured}


@dataclass(frozen=True)
class Experiment:
    id: str  # == the module name
    title: str
    paper: str  # authors, year, title
    claim: str  # one sentence
    tiers: dict[str, Any]  # tier name -> frozen config
    run: Callable
    expect: Callable
    plot: Callable
    cells: Callable[[Any], list[dict]] | None = None
    grid: tuple[str, ...] = ()  # config fields that only enumerate cells (not hashed; dotted for nested ones)
    steps: Callable[[Any, dict], int] | None = None  # training steps of one run, for the overall ETA
    validate: Callable[[Any], None] | None = None  # raises ComplabError on an impossible config
    x64: bool = False

    def cell_list(self, cfg: Any) -> list[dict]:
        return list(self.cells(cfg)) if self.cells is not None else [{}]


def _matches(r: dict, where: dict) -> bool:
    return all(r.get(k) == v for k, v in where.items())


@dataclass
class Results:
    """What `expect` and `plot` receive: the final rows and the evaluation curves of
    every (cell, seed) run, each labelled with its seed and cell columns, and the
    runs that failed (as sentences)."""

    rows: list[dict]
    curves: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return sorted({r["seed"] for r in self.rows} | {c["seed"] for c in self.curves})

    def select(self, **where) -> list[dict]:
        return [r for r in self.rows if _matches(r, where)]

    def by_seed(self, **where) -> dict[int, list[dict]]:
        """Rows matching all `where` columns, grouped by seed (in seed order)."""
        out: dict[int, list[dict]] = {}
        for r in sorted(self.select(**where), key=lambda r: r["seed"]):
            out.setdefault(r["seed"], []).append(r)
        return out

    def value(self, **where) -> float:
        """The single row value matching `where` (ValueError naming it if none or several)."""
        hits = [r["value"] for r in self.select(**where)]
        if len(hits) != 1:
            raise ValueError(f"expected one row matching {where}, found {len(hits)}")
        return hits[0]

    @cached_property
    def _curves_named(self) -> dict[str, list[dict]]:
        """The curves by name (Results are not changed once made)."""
        out: dict[str, list[dict]] = {}
        for c in self.curves:
            out.setdefault(c["name"], []).append(c)
        return out

    def curve(self, name: str, **where) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one evaluation curve, e.g. `curve("eg", seed=0, k=4, fit="sim")`."""
        pts = sorted((c["step"], c["value"]) for c in self._curves_named.get(name, ()) if _matches(c, where))
        if not pts:
            raise ValueError(f"no curve {name!r} matching {where}")
        steps = [p[0] for p in pts]
        if len(set(steps)) != len(steps):
            raise ValueError(f"curve {name!r} matching {where} mixes several runs; name the seed, cell and fit")
        return np.array(steps), np.array([p[1] for p in pts], dtype=float)


def per_seed(values: dict[int, float], fmt: str = "{:+.1%}") -> str:
    """`seed 0: +1.2%, seed 1: ...`: how checks state their numbers."""
    return ", ".join(f"seed {s}: " + fmt.format(v) for s, v in values.items())
