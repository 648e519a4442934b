"""One trial of a sweep: every cell of one experiment for one grid point and one seed.

`python -m complab.sweeps.trial '<json>'` runs it in a process of its own (the local
backend); `run_inline` runs it in the calling process (a Ray worker). Exit codes:
0 every cell finished, 3 a cell failed or the trial was refused (stored, or said:
retrying would repeat it), 130 interrupted; anything else (a crash, kill -9, an
uncaught exception) is the pool's to retry.
"""

import json
import sys
from dataclasses import asdict, dataclass, field

DONE, FAILED, INTERRUPTED = 0, 3, 130
WORKER_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}  # workers may share an accelerator: none takes 75% of it


@dataclass(frozen=True)
class Trial:
    experiment: str
    tier: str
    seed: int
    overrides: dict = field(default_factory=dict)
    results: str | None = None
    checkpoint_s: float = 30.0
    trackers: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Trial":
        d = json.loads(text)
        return cls(**{**d, "trackers": tuple(d.get("trackers", ()))})


def run_inline(trial: Trial) -> tuple[int, list[str]]:
    """(exit code, failures) of the trial, run in this process."""
    from complab import runner
    from complab.errors import ComplabError

    try:
        failures = runner.execute(trial.experiment, trial.tier, [trial.seed], trial.overrides, trial.results,
                                  trial.checkpoint_s, trackers=trial.trackers)
    except KeyboardInterrupt:
        return INTERRUPTED, ["interrupted"]
    except ComplabError as e:
        return FAILED, [str(e)]
    return (FAILED if failures else DONE), failures


def main(argv: list[str]) -> int:
    trial = Trial.from_json(argv[0])
    print(f"trial {trial.experiment} {trial.tier} seed {trial.seed} {trial.overrides}", flush=True)
    code, failures = run_inline(trial)
    for f in failures:
        print(f"failed: {f}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
