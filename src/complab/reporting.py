"""The report (module `reporting`, so that `complab.report` stays the API function):
one figure and the claim checks of every experiment, read from the
store (<results>/report.md and <results>/figures/<id>.png).

For each experiment, the report takes the most recently finished configuration
that is a tier's own (one made with `--set` overrides only when there is none, and
then marked), the finished runs of
that configuration's cells over all their seeds, evaluates the experiment's
`expect` on their rows and curves and draws its `plot`, so the report always shows
the numbers it was made from. No backend is forced (matplotlib picks Agg where
there is no display), so a notebook keeps its own.
"""

import time
from pathlib import Path

from complab import config as cfgs
from complab import experiments
from complab.experiments.base import Results
from complab.store import Run, Store, cell_key


def latest_group(store: Store, exp) -> tuple[str, str, object, list[Run], bool] | None:
    """(tier, config hash, config, finished runs of its cells, overridden) of the configuration
    to report: the most recently finished one that is a tier's own (no overrides), else
    the most recently finished one, flagged as overridden."""
    done = [r for r in store.runs(exp.id) if r.status == "done" and r.tier in exp.tiers]
    if not done:
        return None
    own = {t: cfgs.config_hash(c, exclude=exp.grid) for t, c in exp.tiers.items()}
    canonical = [r for r in done if own[r.tier] == r.config_hash]
    last = max(canonical or done, key=lambda r: r.ended or 0)
    cfg = cfgs.override(exp.tiers[last.tier], cfgs.flatten(last.config))
    cells = {cell_key(c) for c in exp.cell_list(cfg)}
    group = [r for r in done if r.config_hash == last.config_hash and cell_key(r.cell) in cells]
    return last.tier, last.config_hash, cfg, sorted(group, key=lambda r: (r.seed, r.id)), not canonical


def write(experiment_ids: list[str] | None = None, results: str | Path | None = None) -> Path:
    ids = experiment_ids or experiments.ids()
    exps = [experiments.load(i) for i in ids]
    store = Store(results)
    try:
        figdir = store.root / "figures"
        figdir.mkdir(exist_ok=True)
        lines = ["# complab report", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} from `{store.root}`.", "",
                 "| experiment | tier | seeds | verdict |", "|---|---|---|---|"]
        sections = []
        for exp in exps:
            try:
                summary, section = _section(store, exp, figdir)
            except Exception as e:  # noqa: BLE001 - one experiment's stale rows must not sink the report
                summary, section = f"| `{exp.id}` | - | - | cannot be evaluated: {type(e).__name__}: {e} |", []
            lines.append(summary)
            sections += section
    finally:
        store.close()
    path = Path(store.root) / "report.md"
    path.write_text("\n".join(lines + [""] + sections))
    return path


def _section(store: Store, exp, figdir: Path) -> tuple[str, list[str]]:
    """The summary-table line and the section (checks, figure) of one experiment."""
    import matplotlib.pyplot as plt  # here, not at import: listing experiments needs no matplotlib

    group = latest_group(store, exp)
    if group is None:
        return f"| `{exp.id}` | - | - | not run |", []
    tier, chash, cfg, runs, overridden = group
    results = Results(store.rows(runs), store.curves(runs))
    checks = list(exp.expect(results, cfg))
    verdict = "holds" if all(c.passed for c in checks) else "does not hold"
    seeds = ",".join(str(s) for s in sorted({r.seed for r in runs}))
    fig = exp.plot(results, cfg)
    fig.savefig(figdir / f"{exp.id}.png", dpi=120)
    plt.close(fig)
    wall = sum(r.wall_s or 0 for r in runs)
    if overridden:
        verdict += " (config overridden, not the tier's own)"
    return f"| [`{exp.id}`](#{exp.id}) | {tier} | {seeds} | {verdict} |", [
        f"## {exp.id}", "", f"**{exp.title}** — {exp.paper}", "", f"Claim: {exp.claim}", "",
        f"Tier `{tier}`, config `{chash}`, seeds {seeds}, {wall:.0f} s of compute, "
        f"code {runs[-1].code_version}, device {runs[-1].device}.", "",
        "| check | verdict | measured |", "|---|---|---|",
        *[f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.measured} |" for c in checks],
        "", f"![{exp.id}](figures/{exp.id}.png)", "",
    ]
