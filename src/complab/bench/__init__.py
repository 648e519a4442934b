"""`complab bench [suite ...]`: speed and memory figures, stored in the results
database (table `bench`), shown in the report and compared with the last stored
ones (`--compare`). Speed is measured here, never asserted in tests.

Suites: `experiments` (every training of each experiment's tier: step, loop, FLOP/s
against the matmul peak), `reference` (a transformer against PyTorch eager, the
fuzzy-logic model against the paper's code), `seeds` (loop, vmap, processes),
`mixers` (each mixer form by length), `meta` (each meta-learner's memory and time by
inner steps). Every bench first measures the float32
matrix-multiply peak (suite `peak`), so fractions of it hold on a shared machine.
"""

from complab.bench.mixer_forms import Figure, mixers, zoo  # noqa: F401

SUITES = ("experiments", "reference", "seeds", "mixers", "meta")
DEFAULT = ("experiments", "reference", "seeds")
KEYS = {  # the fields that name a figure, to compare it with the same figure stored before
    "peak": ("n",),
    "experiments": ("experiment", "tier", "cell", "fit"),
    "reference": ("name", "reference"),
    "seeds": ("experiment", "fit", "way", "seeds", "steps"),
    "mixers": ("name", "form", "length", "width", "batch"),
    "meta": ("learner", "inner_steps"),
}
MAIN = {"peak": "gflops", "experiments": "loop_step_ms", "reference": "loop_step_ms", "seeds": "seeds_per_s",
        "mixers": "step_ms", "meta": "temp_mib"}  # the figure a comparison is about (higher is better only for rates)


def key(suite: str, row: dict) -> tuple:
    return tuple(row.get(k) for k in KEYS[suite])


def latest(rows: list[dict], suite: str, device: str | None = None) -> dict[tuple, dict]:
    """The last stored row of each figure of a suite (on `device`, if given)."""
    out: dict[tuple, dict] = {}
    for row in rows:  # in the order stored
        if device is None or row.get("device") == device:
            out[key(suite, row)] = row
    return out
