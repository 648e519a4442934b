"""The `complab bench` command: runs the suites, stores each figure as it comes, and
prints it (with `--compare`, beside the same figure stored before on this device)."""

import math

from rich.console import Console

from complab import bench, experiments, runner
from complab.bench import measure
from complab.errors import ComplabError
from complab.store import Store


def run(args, console: Console) -> int:
    suites = tuple(args.suite) or bench.DEFAULT
    unknown = [s for s in suites if s not in bench.SUITES]
    if unknown:
        raise ComplabError(f"unknown bench suites {unknown}; suites are: {', '.join(bench.SUITES)}")
    ids = args.experiments.split(",") if args.experiments else experiments.ids()
    for eid in ids:
        experiments.load(eid)  # an unknown id is one sentence, before anything runs
    mixer_args = _mixer_args(args) if "mixers" in suites else None
    if args.num_seeds < 1 or args.steps < 1:
        raise ComplabError(f"--num-seeds and --steps must be >= 1, got {args.num_seeds} and {args.steps}")
    meta = runner.run_meta()
    store = Store(args.results)
    previous = {s: bench.latest(store.bench(s), s, meta["device"]) for s in ("peak", *suites)}

    def record(suite: str, row: dict, text: str) -> None:
        store.log_bench(suite, [row], meta["device"], meta["code_version"])
        before = previous[suite].get(bench.key(suite, row)) if args.compare else None
        console.print(text + (_versus(suite, row, before) if args.compare else ""), soft_wrap=True)

    try:
        console.print(f"[bold]complab bench[/bold] on {meta['device']}, code {meta['code_version']}")
        peak = measure.matmul_peak()
        record("peak", {"n": 1024, "gflops": peak}, f"float32 matmul peak (1024^3): {peak:.1f} GFLOP/s")
        for suite in suites:
            console.print(f"\n[bold]{suite}[/bold]")
            if suite == "experiments":
                from complab.bench import experiments as suite_experiments

                for eid in ids:
                    suite_experiments.bench(eid, args.tier, peak, on_figure=lambda f: record(
                        "experiments", f.to_row(),
                        f"{f.experiment:34s} {f.cell[:28]:28s} {f.fit[:12]:12s} compile {f.compile_s:5.1f} s  step "
                        f"{f.step_ms:8.2f} ms  loop {f.loop_step_ms:8.2f} ms ({f.loop_overhead:+.0%})  "
                        f"{f.gflops:6.1f} GFLOP/s ({f.gflops / peak:.1%} of peak)  temp {f.temp_mib:.1f} MiB"))
            elif suite == "reference":
                from complab.bench import reference

                reference.reference(on_figure=lambda f: record(
                    "reference", f.to_row(),
                    f"{f.name:14s} compile {f.compile_s:4.1f} s  step {f.step_ms:7.2f} ms  loop "
                    f"{f.loop_step_ms:7.2f} ms  vs {f.reference}: {f.reference_ms:7.2f} ms  (loop / reference "
                    f"{f.loop_step_ms / f.reference_ms:.2f})"))
            elif suite == "seeds":
                from complab.bench import seeds

                seeds.seeds(ids[0] if args.experiments else "gated_rnn_discovers_attention", args.tier,
                            args.num_seeds, args.steps, on_figure=lambda f: record(
                                "seeds", f.to_row(), f"{f.experiment} {f.fit}: {f.seeds} seeds x {f.steps} steps by "
                                f"{f.way:9s} {f.seeds_per_s:6.2f} seeds/s (compile {f.compile_s:.1f} s)"))
            elif suite == "meta":
                from complab.bench.meta import meta_memory

                meta_memory(on_figure=lambda f: record(
                    "meta", f.to_row(), f"{f.learner:20s} {f.inner_steps:5d} inner steps  memory "
                    f"{f.temp_mib:8.2f} MiB  step {f.step_ms:8.2f} ms  (compile {f.compile_s:.1f} s)"))
            else:
                bench.mixers(*mixer_args, on_figure=lambda f: record(
                    "mixers", f.to_row(), f"{f.name:24s} {f.form:9s} L={f.length:5d} W={f.width:4d}  " + (
                        f"{f.step_ms:9.2f} ms  {f.temp_mib:8.1f} MiB  (compile {f.compile_s:.1f} s)" if not f.error
                        else f.error)))
    finally:
        store.close()
    return 0


def _versus(suite: str, row: dict, before: dict | None) -> str:
    name = bench.MAIN[suite]
    if before is None or not isinstance(before.get(name), (int, float)) or not math.isfinite(before[name] or math.nan):
        return "  [dim](nothing stored before)[/dim]"
    now, then = row.get(name), before[name]
    change = now / then - 1 if then else math.nan
    better = change > 0 if name in ("gflops", "seeds_per_s") else change < 0
    colour = "green" if better else "red"
    return f"  [{colour}]{change:+.1%}[/{colour}] vs {then:.4g} ({before.get('code_version')})"


def _mixer_args(args) -> tuple:
    try:
        lengths, widths = (tuple(int(v) for v in a.split(",")) for a in (args.lengths, args.widths))
    except ValueError:
        raise ComplabError(f"lengths and widths are comma-separated integers, got {args.lengths!r} and "
                           f"{args.widths!r}") from None
    if min(lengths) < 1 or min(widths) < 1 or args.batch < 1:
        raise ComplabError(f"lengths, widths and batch must be >= 1, got {args.lengths}, {args.widths}, {args.batch}")
    known = tuple(bench.zoo(1))
    names = tuple(args.only.split(",")) if args.only else None
    unknown = [n for n in names or () if n not in known]
    if unknown:
        raise ComplabError(f"unknown mixers {unknown}; known: {', '.join(known)}")
    return lengths, widths, args.batch, args.repeats, names
