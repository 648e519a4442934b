"""The Python API: everything the CLI does, as plain functions for notebooks."""

from pathlib import Path
from typing import Any

from complab import experiments
from complab import runner
from complab.store import Store


def list_experiments() -> list[str]:
    """The ids of all experiments."""
    return experiments.ids()


def run(experiment_id: str, tier: str = "cpu", seeds: list[int] | tuple[int, ...] = (0,),
        overrides: dict[str, Any] | None = None, results: str | Path | None = None, force: bool = False,
        checkpoint_s: float = 30.0, trackers: tuple[str, ...] = (), jobs: int = 1) -> runner.Outcome:
    """Run (or reuse) an experiment over seeds and evaluate its claim; see `runner.run`."""
    return runner.run(experiment_id, tier=tier, seeds=seeds, overrides=overrides, results=results, force=force,
                      checkpoint_s=checkpoint_s, trackers=trackers, jobs=jobs)


def sweep(experiment_id: str, grid: dict[str, list], tier: str = "cpu", seeds: list[int] | tuple[int, ...] = (0,),
          **kwargs):
    """Run an experiment over the product of `grid` ({key: values}) and seeds, in parallel;
    one `PointOutcome` (point, outcome) per grid point. See `sweeps.driver.sweep`."""
    from complab.sweeps import driver

    return driver.sweep(experiment_id, tier=tier, seeds=seeds,
                        grid={k: [_grid_value(v) for v in vs] for k, vs in grid.items()}, **kwargs)


def _grid_value(v) -> str:
    """A grid value as the command line writes it: a tuple or list as `2,8`."""
    return ",".join(str(x) for x in v) if isinstance(v, (tuple, list)) else str(v)


class Rows(list):
    """Stored rows (a list of dicts); `.to_pandas()` when pandas is installed."""

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(list(self))


def results(experiment_id: str, results: str | Path | None = None, include_unfinished: bool = False) -> Rows:
    """The final rows of an experiment's finished runs, each with seed, tier and config hash."""
    experiments.load(experiment_id)
    out = Rows()
    store = Store.existing(results, readonly=True)
    if store is None:
        return out
    try:
        for run in store.runs(experiment_id):
            if run.status == "done" or include_unfinished:
                out.extend({"tier": run.tier, "config_hash": run.config_hash, **r} for r in store.rows([run]))
        return out
    finally:
        store.close()


def last_verdicts(results: str | Path | None = None) -> dict[str, dict | None]:
    """Each experiment's most recent claim verdict in this results directory (None if never run)."""
    store = Store.existing(results, readonly=True)
    try:
        return {eid: store.last_verdict(eid) if store else None for eid in experiments.ids()}
    finally:
        if store:
            store.close()


def report(experiment_ids: list[str] | None = None, results: str | Path | None = None,
           out: str | Path | None = None, html: bool = False) -> Path:
    """Write the report of every experiment (or those named) from the results database:
    Markdown and one figure each (`report.md`), or with `html` a static site
    (`index.html` and a page each); into `out` (default: the results directory, or
    its `site/` for HTML). Returns the report's (or index's) path."""
    from complab import reporting, reporting_html  # matplotlib only when a report is made

    return (reporting_html if html else reporting).write(experiment_ids, results, out)
