"""The experiment interface (DESIGN: Experiment).

An experiment module `experiments/<id>.py` exports `EXPERIMENT = Experiment(...)`:
the claim and its source, a frozen config per tier (`smoke`: seconds, run by CI;
`cpu`: shows the claim on a 2-core laptop in minutes, the default; `paper`: the
paper's own scale, for a GPU), and three plain functions:

- `run(cfg, key, ctx) -> rows`: one seed. Train through `ctx.fit(...)`, which
  checkpoints, resumes, shows progress and logs metrics; return tidy rows (dicts of
  plain numbers and strings, e.g. {"model": "lsa", "split": "test", "metric":
  "loss", "value": 2.61}).
- `expect(rows, cfg) -> [Check]`: the claim as checks over the rows of all seeds
  (each row carries its "seed"); every check states the numbers it measured.
- `plot(rows, cfg) -> matplotlib Figure`: the figure of the claim.
- `steps(cfg) -> int` (optional): the training steps of one seed, so the progress
  display can show an ETA for the whole run.
- `validate(cfg)` (optional): raise `ComplabError` naming what is wrong with an
  impossible config, before anything is stored or trained.

Choices made where the paper is ambiguous go in the module's docstring.
"""

from dataclasses import dataclass
from typing import Any, Callable

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
    steps: Callable[[Any], int] | None = None  # training steps of one seed, for the run's overall ETA
    validate: Callable[[Any], None] | None = None  # raises ComplabError on an impossible config


def by_seed(rows: list[dict], **where) -> dict[int, list[dict]]:
    """Rows matching all `where` columns, grouped by seed."""
    out: dict[int, list[dict]] = {}
    for r in rows:
        if all(r.get(k) == v for k, v in where.items()):
            out.setdefault(r["seed"], []).append(r)
    return out


def value(rows: list[dict], **where) -> float:
    """The single row value matching `where` (ValueError if none or several)."""
    hits = [r["value"] for r in rows if all(r.get(k) == v for k, v in where.items())]
    if len(hits) != 1:
        raise ValueError(f"expected one row matching {where}, found {len(hits)}")
    return hits[0]
