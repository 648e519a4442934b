"""`complab list | show | run | report | results`: a thin face over the Python API.

Bad input ends with one sentence on stderr naming what was wrong and what is
allowed, and exit code 2; `run --check` exits 1 when a claim check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sqlite3
import sys

from complab import interrupts
from complab.errors import ComplabError

# imported by `main` while Ctrl-C exits at once (see `interrupts`): this module imports
# nothing heavy, so that an interrupt almost never lands before that handler is set
api = cfgs = experiments = Console = Table = None


def _import_lab() -> None:
    global api, cfgs, experiments, Console, Table
    from rich.console import Console as Console_
    from rich.table import Table as Table_

    from complab import api as api_, config as cfgs_, experiments as experiments_

    api, cfgs, experiments, Console, Table = api_, cfgs_, experiments_, Console_, Table_


MAX_SEEDS = 10_000


def _seeds(args) -> list[int]:
    if args.seeds is not None:
        try:
            return [int(s) for s in args.seeds.split(",") if s.strip()]  # the runner checks them
        except ValueError:
            raise ComplabError(f"--seeds takes comma-separated integers (e.g. 0,1,2), not {args.seeds!r}") from None
    if not 1 <= args.num_seeds <= MAX_SEEDS:  # before building the list
        raise ComplabError(f"--num-seeds must be between 1 and {MAX_SEEDS}, got {args.num_seeds}")
    return list(range(args.num_seeds))


def _json_safe(v):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def cmd_list(args, console: Console) -> int:
    verdicts = api.last_verdicts(args.results)
    table = Table(show_lines=True)
    table.add_column("id", no_wrap=True)
    for col in ("paper", "claim", "tiers", "last verdict"):
        table.add_column(col)
    for eid in experiments.ids():
        exp = experiments.load(eid)
        v = verdicts[eid]
        verdict = "-"
        if v is not None:
            verdict = f"{'holds' if v['passed'] else 'does not hold'} ({v['tier']}, seeds {v['seeds']}{_marked(v)})"
        table.add_row(eid, exp.paper, exp.claim, ", ".join(exp.tiers), verdict)
    console.print(table)
    return 0


def _marked(verdict: dict) -> str:
    """A verdict made under overrides is marked as such: it is not the tier's own."""
    sets = verdict.get("overrides") or {}
    return f", with overrides {', '.join(f'{k}={v}' for k, v in sets.items())}" if sets else ""


def cmd_show(args, console: Console) -> int:
    exp = experiments.load(args.id)
    console.print(f"[bold]{exp.id}[/bold]: {exp.title}\n{exp.paper}\n\nClaim: {exp.claim}\n")
    for tier, cfg in exp.tiers.items():
        console.print(f"[bold]{tier}[/bold] (config {cfgs.config_hash(cfg)})")
        for k, v in cfgs.leaves(cfg).items():
            console.print(f"  {k} = {v}")
    v = api.last_verdicts(args.results)[exp.id]
    if v:
        console.print(f"\nLast verdict ({v['tier']}, seeds {v['seeds']}{_marked(v)}):")
        for c in v["checks"]:
            console.print(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['measured']}")
    return 0


def cmd_run(args, console: Console) -> int:
    if not (math.isfinite(args.checkpoint_s) and args.checkpoint_s >= 0):
        raise ComplabError(f"--checkpoint-s must be a finite number of seconds >= 0, got {args.checkpoint_s}")
    overrides = cfgs.parse_assignments(args.set or [])
    out = api.run(args.id, tier=args.tier, seeds=_seeds(args), overrides=overrides, results=args.results,
                  force=args.force, checkpoint_s=args.checkpoint_s, trackers=tuple(args.tracker or ()), jobs=args.jobs)
    seeds = sorted({r.seed for r in out.runs})
    console.print(f"\n[bold]{out.experiment.id}[/bold] ({out.tier}, seeds {seeds}, {len(out.runs)} runs, "
                  f"{sum(r.wall_s or 0 for r in out.runs):.1f} s of compute): {out.experiment.claim}")
    for c in out.checks:
        mark = "[green]PASS[/green]" if c.passed else "[red]FAIL[/red]"
        console.print(f"  {mark}  {c.name}\n        measured: {c.measured}")
    console.print(f"verdict: {'the claim holds' if out.passed else 'the claim does not hold'} at the {out.tier} tier"
                  + (" (with overrides)" if overrides else ""))
    for f in out.failures:
        print(f"complab: error: {f}", file=sys.stderr)
    if out.failures:
        return 2
    return 1 if args.check and not out.passed else 0


def cmd_sweep(args, console: Console) -> int:
    from complab.sweeps import driver, grid

    if not (math.isfinite(args.checkpoint_s) and args.checkpoint_s >= 0):
        raise ComplabError(f"--checkpoint-s must be a finite number of seconds >= 0, got {args.checkpoint_s}")
    if args.grid is not None and not args.grid:
        raise ComplabError("--grid needs key.path=v1,v2")
    outs = driver.sweep(args.id, tier=args.tier, seeds=_seeds(args), grid=grid.parse(args.grid or []),
                        overrides=cfgs.parse_assignments(args.set or []), results=args.results,
                        backend=args.backend, address=args.address, workers=args.workers, retries=args.retries,
                        checkpoint_s=args.checkpoint_s, trackers=tuple(args.tracker or ()), console=console)
    table = Table("grid point", "runs done", "checks passed", "verdict", title=f"sweep of {args.id} ({args.tier})")
    for o in outs:
        done = sum(r.status == "done" for r in o.outcome.runs)
        table.add_row(grid.label(o.point), f"{done}", f"{sum(c.passed for c in o.outcome.checks)}/"
                      f"{len(o.outcome.checks)}", "holds" if o.passed else "does not hold")
    console.print(table)
    for o in outs:
        for f in o.outcome.failures:
            print(f"complab: error: {grid.label(o.point)}: {f}", file=sys.stderr)
    if any(o.outcome.failures for o in outs):
        return 2
    return 1 if args.check and not all(o.passed for o in outs) else 0


def cmd_report(args, console: Console) -> int:
    if args.port is not None and not 0 <= args.port < 65536:
        raise ComplabError(f"--port must be in [0, 65536), got {args.port}")
    html = args.html is not None or args.serve
    if args.out and html:
        raise ComplabError("--out is where the Markdown report goes; the site goes to --html DIR")
    path = api.report(args.ids or None, args.results, args.out or args.html, html=html)
    console.print(f"report written to {path}")
    if args.serve:
        from complab import reporting_html

        reporting_html.serve(path.parent, args.port or 8000)
    return 0


def cmd_results(args, console: Console) -> int:
    rows = api.results(args.id, args.results)
    if args.format == "json":
        print(json.dumps(_json_safe(list(rows)), indent=1, allow_nan=False))
        return 0
    cols = list(dict.fromkeys(k for r in rows for k in r))
    if args.format == "csv":
        writer = csv.DictWriter(sys.stdout, cols)
        writer.writeheader()
        writer.writerows(rows)
        return 0
    table = Table(*cols)
    for r in rows:
        table.add_row(*(f"{r[c]:.6g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols))
    console.print(table if rows else f"no finished runs of {args.id} in this results directory")
    return 0


def cmd_bench(args, console: Console) -> int:
    from complab.bench import command

    return command.run(args, console)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="complab", description="Reproduce claims about how neural networks learn.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--results", help="results directory (default: $COMPLAB_RESULTS or ./results)")
        sp.set_defaults(fn=fn)
        return sp

    add("list", cmd_list, "list experiments with their last verdict")
    add("show", cmd_show, "show an experiment's claim, tier configs and last results").add_argument("id")
    def run_options(sp):
        sp.add_argument("id")
        sp.add_argument("--tier", default="cpu", help="smoke, cpu (default) or paper")
        seeds = sp.add_mutually_exclusive_group()
        seeds.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
        seeds.add_argument("--num-seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. lsa.lr=1e-3")
        sp.add_argument("--check", action="store_true", help="exit with 1 when a claim check fails")
        sp.add_argument("--checkpoint-s", type=float, default=30.0, help="seconds between checkpoints (default 30)")
        sp.add_argument("--tracker", action="append", metavar="NAME", help="also send metrics to tensorboard, "
                        "wandb (offline) or mlflow (local files), under <results>/trackers; repeatable")

    r = add("run", cmd_run, "run an experiment and check its claim")
    run_options(r)
    r.add_argument("--force", action="store_true", help="recompute finished runs")
    r.add_argument("--jobs", type=int, default=1, help="worker processes training the runs, each on its share of "
                   "the CPU cores (default 1: this process; see complab.workers)")
    sw = add("sweep", cmd_sweep, "run an experiment over a grid of config values x seeds, in parallel")
    run_options(sw)
    sw.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                    help="a config key and its values (tuple values in brackets: lrs=[0.03,0.3],[0.1,1.0]); repeatable")
    sw.add_argument("--backend", choices=("local", "ray"), default="local",
                    help="local: worker processes on this machine (default); ray: a Ray cluster")
    sw.add_argument("--address", help="the Ray cluster's address (host:port); default: start a local one")
    sw.add_argument("--workers", type=int, help="trials at once (default: the number of CPU cores)")
    sw.add_argument("--retries", type=int, default=2, help="tries more for a trial whose worker dies (default 2)")
    rep = add("report", cmd_report, "write the report: Markdown, or a static site with --html")
    rep.add_argument("ids", nargs="*")
    rep.add_argument("--html", metavar="DIR", help="write a static site (index.html, a page per experiment) to DIR")
    rep.add_argument("--serve", action="store_true", help="write the site (to --html DIR, default <results>/site) "
                     "and serve it on http://127.0.0.1:PORT")
    rep.add_argument("--port", type=int, help="the port for --serve (default 8000; 0 picks a free one)")
    rep.add_argument("--out", metavar="DIR", help="where the Markdown report goes (default: the results directory)")
    res = add("results", cmd_results, "print the stored rows of an experiment")
    res.add_argument("id")
    res.add_argument("--format", choices=("table", "csv", "json"), default="table")
    b = add("bench", cmd_bench, "speed and memory figures of experiments, references, seeds, mixers and "
            "meta-learners (stored in the results database)")
    b.add_argument("suite", nargs="*", help="experiments, reference, seeds, mixers, meta (default: the first three)")
    b.add_argument("--experiments", help="comma-separated experiment ids (default: all; seeds: the first)")
    b.add_argument("--tier", default="cpu", help="the tier whose configs are measured (default cpu)")
    b.add_argument("--compare", action="store_true", help="show each figure beside the last one stored")
    b.add_argument("--num-seeds", type=int, default=4, help="seeds: how many (default 4)")
    b.add_argument("--steps", type=int, default=200, help="seeds: steps per seed (default 200)")
    b.add_argument("--lengths", default="64,256,1024", help="sequence lengths (default 64,256,1024)")
    b.add_argument("--widths", default="64", help="model widths (default 64)")
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--only", help="comma-separated mixer names (default: all)")
    return p


def main(argv: list[str] | None = None) -> int:
    with interrupts.starting_up():
        args = parser().parse_args(argv)
        _import_lab()
    console = Console()
    try:
        with interrupts.handled():
            code = args.fn(args, console)
            interrupts.check()  # one swallowed on its way still ends the command as interrupted
            return code
    except ComplabError as e:
        print(f"complab: error: {e}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as e:
        if isinstance(e, sqlite3.OperationalError) and "malformed" not in str(e):  # locked, busy, disk: not damage
            print(f"complab: error: the results database could not be used ({e}); what was stored is kept, and "
                  "the same command goes on from it", file=sys.stderr)
        else:
            print(f"complab: error: the results database is damaged or unreadable ({e}); move it away (a new one "
                  "starts there) or pass another directory with --results", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("complab: interrupted; what was stored is kept, and the same command resumes from the last "
              "checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
