"""The report (module `reporting`, so that `complab.report` stays the API function):
one figure and the claim checks of every experiment, read from the store, as
Markdown (<results>/report.md and <results>/figures/<id>.png) or as a static site
(`reporting_html`).

For each experiment, the report takes the most recently finished configuration
that is a tier's own (one made with `--set` overrides only when there is none, and
then marked), the finished runs of that configuration's cells over all their seeds,
evaluates the experiment's `expect` on their rows and curves and draws its `plot`,
so the report always shows the numbers it was made from. The store is opened
read-only: a report can be made of a results directory it may not write to. No
backend is forced (matplotlib picks Agg where there is no display), so a notebook
keeps its own.
"""

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from complab import config as cfgs
from complab import experiments, reporting_bench
from complab.errors import ComplabError
from complab.experiments.base import Check, Results
from complab.store import Run, Store, cell_key, default_results_dir


@dataclass
class Section:
    """What the report says of one experiment."""

    exp: object
    tier: str | None = None
    config_hash: str | None = None
    config: object = None
    runs: list[Run] = field(default_factory=list)
    results: Results | None = None
    checks: list[Check] = field(default_factory=list)
    overridden: bool = False
    figure: Path | None = None
    error: str | None = None  # why it could not be evaluated

    @property
    def ran(self) -> bool:
        return bool(self.runs)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks) and self.error is None

    @property
    def verdict(self) -> str:
        if self.error:
            return "cannot be evaluated"
        if not self.ran:
            return "not run"
        return ("holds" if self.passed else "does not hold") + (" (config overridden)" if self.overridden else "")

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    @property
    def wall_s(self) -> float:
        return sum(r.wall_s or 0 for r in self.runs)

    @property
    def ended(self) -> str:
        last = max((r.ended or 0 for r in self.runs), default=0)
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(last)) if last else "-"


def latest_group(store: Store, exp) -> tuple[str, str, object, list[Run], bool] | None:
    """(tier, config hash, config, finished runs of its cells, overridden) of the configuration
    to report: the most recently finished one that is a tier's own (no overrides), else
    the most recently finished one, flagged as overridden; of the seeds that have every
    cell of it finished (all of them, if none has)."""
    done = [r for r in store.runs(exp.id) if r.status == "done" and r.tier in exp.tiers]
    if not done:
        return None
    own = {t: cfgs.config_hash(c, exclude=exp.grid) for t, c in exp.tiers.items()}
    canonical = [r for r in done if own[r.tier] == r.config_hash]
    last = max(canonical or done, key=lambda r: r.ended or 0)
    cfg = cfgs.override(exp.tiers[last.tier], cfgs.flatten(last.config))
    cells = {cell_key(c) for c in exp.cell_list(cfg)}
    group = [r for r in done if r.config_hash == last.config_hash and cell_key(r.cell) in cells]
    by_seed: dict[int, set[str]] = {}
    for r in group:
        by_seed.setdefault(r.seed, set()).add(cell_key(r.cell))
    complete = {s for s, have in by_seed.items() if have == cells}  # seeds with every cell of the config
    if complete:
        group = [r for r in group if r.seed in complete]
    return last.tier, last.config_hash, cfg, sorted(group, key=lambda r: (r.seed, r.id)), not canonical


def sections(store: Store, ids: list[str], figdir: Path) -> list[Section]:
    """One evaluated section per experiment, its figure drawn into `figdir`."""
    figdir.mkdir(parents=True, exist_ok=True)
    out = []
    for eid in ids:
        section = Section(experiments.load(eid))
        try:
            _evaluate(store, section, figdir)
        except sqlite3.DatabaseError:
            raise  # the database is damaged: that is the report's answer, not one experiment's
        except Exception as e:  # noqa: BLE001 - one experiment's stale rows must not sink the report
            section.error = f"{type(e).__name__}: {e}"
        out.append(section)
    return out


def _evaluate(store: Store, s: Section, figdir: Path) -> None:
    import matplotlib.pyplot as plt  # here, not at import: listing experiments needs no matplotlib

    group = latest_group(store, s.exp)
    if group is None:
        return
    s.tier, s.config_hash, s.config, s.runs, s.overridden = group
    s.results = Results(store.rows(s.runs), store.curves(s.runs))
    s.checks = list(s.exp.expect(s.results, s.config))
    fig = s.exp.plot(s.results, s.config)
    s.figure = figdir / f"{s.exp.id}.png"
    fig.savefig(s.figure, dpi=120)
    plt.close(fig)


def open_store(results: str | Path | None) -> Store:
    store = Store.existing(results, readonly=True)
    if store is None:
        raise ComplabError(f"no results database in {results or default_results_dir()}; run an experiment first, or "
                           "pass the directory that holds complab.db with --results")
    return store


def writable(out: Path) -> Path:
    """`out`, made if need be, where the report can be written, else one sentence."""
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        (out / ".complab-write-test").touch()
        (out / ".complab-write-test").unlink()
    except OSError as e:
        raise ComplabError(f"cannot write the report to {out} ({e.strerror or e}); pass a writable directory with "
                           "--out (Markdown) or --html DIR") from None
    return out


def write(experiment_ids: list[str] | None = None, results: str | Path | None = None,
          out: str | Path | None = None) -> Path:
    """The Markdown report at `<out>/report.md` (default: the results directory)."""
    store = open_store(results)
    out = Path(out) if out is not None else store.root
    try:
        found = sections(store, experiment_ids or experiments.ids(), writable(out) / "figures")
        benches = reporting_bench.tables(store)
    finally:
        store.close()
    lines = ["# complab report", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} from `{store.root}`.", "",
             "| experiment | tier | seeds | verdict |", "|---|---|---|---|"]
    body = []
    for s in found:
        seeds = ",".join(map(str, s.seeds)) or "-"
        name = f"[`{s.exp.id}`](#{s.exp.id})" if s.ran and not s.error else f"`{s.exp.id}`"
        lines.append(f"| {name} | {s.tier or '-'} | {seeds} | {s.verdict}{': ' + s.error if s.error else ''} |")
        if s.ran and not s.error:
            body += [f"## {s.exp.id}", "", f"**{s.exp.title}** — {s.exp.paper}", "", f"Claim: {s.exp.claim}", "",
                     f"Tier `{s.tier}`, config `{s.config_hash}`, seeds {seeds}, {s.wall_s:.0f} s of compute, "
                     f"code {s.runs[-1].code_version}, device {s.runs[-1].device}.", "",
                     "| check | verdict | measured |", "|---|---|---|",
                     *[f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.measured} |" for c in s.checks],
                     "", f"![{s.exp.id}](figures/{s.exp.id}.png)", ""]
    for suite, cols, rows in benches:
        body += [f"## Bench: {suite}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
                 *["| " + " | ".join(reporting_bench.cell(r.get(c)) for c in cols) + " |" for r in rows], ""]
    path = out / "report.md"
    path.write_text("\n".join(lines + [""] + body))
    return path
