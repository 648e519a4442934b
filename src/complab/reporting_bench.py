"""The bench figures of the report: for each suite, the last stored figure of each
kind on each device, with the columns worth reading (all are in the database)."""

import time

from complab import bench
from complab.store import Store

COLUMNS = {
    "peak": ("device", "n", "gflops"),
    "experiments": ("experiment", "cell", "fit", "compile_s", "step_ms", "loop_step_ms", "loop_overhead", "gflops",
                    "peak_fraction", "temp_mib"),
    "reference": ("name", "compile_s", "step_ms", "loop_step_ms", "reference", "reference_ms", "ratio"),
    "seeds": ("experiment", "fit", "way", "seeds", "steps", "seeds_per_s", "compile_s"),
    "mixers": ("name", "form", "length", "width", "batch", "compile_s", "step_ms", "temp_mib", "error"),
    "meta": ("learner", "inner_steps", "temp_mib", "step_ms", "compile_s"),
}


def tables(store: Store) -> list[tuple[str, tuple[str, ...], list[dict]]]:
    """(suite, columns, rows) of every suite with stored figures."""
    out = []
    for suite in ("peak", *bench.SUITES):
        rows = store.bench(suite)
        if not rows:
            continue
        last = {}
        for row in rows:
            last[(row.get("device"), *bench.key(suite, row))] = row
        cols = COLUMNS[suite] + ("device", "code_version", "date")
        shown = [{**r, "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"]))} for r in last.values()]
        out.append((suite, tuple(dict.fromkeys(cols)), shown))
    return out


def cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.4g}"
    return "" if v is None else str(v)
