"""The Ray backend: each trial a Ray task on an existing cluster (`address`) or on a
local one started for the sweep and stopped after it. A task whose worker dies is
retried by Ray (`max_retries`), then reported as crashed; the others go on.

Every node must see the results directory at the same path (a shared file system):
the trials write their runs into its database themselves. On SLURM, start the
cluster with Ray's cluster launcher (or `ray start` in the job script) and pass its
address.
"""

import socket
from typing import Callable

from complab.errors import ComplabError
from complab.sweeps.trial import WORKER_ENV, Trial

CRASHED = -1  # the code reported for a trial whose worker died on every try


def _remote_trial(trial_json: str) -> tuple[int, list[str]]:
    from complab.sweeps.trial import Trial, run_inline

    return run_inline(Trial.from_json(trial_json))


def check(address: str | None) -> None:
    """Ray importable and the cluster's address reachable, else one sentence."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ComplabError("the ray backend needs Ray: pip install 'complab[ray]' (or pip install ray)") from None
    if address and address != "auto":
        _reachable(address)


def _reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        raise ComplabError(f"cannot reach the Ray cluster at {address!r} ({e}); pass the address `ray start --head` "
                           "printed (host:port), or leave out --address for a local cluster") from None


def run(trials: dict[object, Trial], address: str | None, workers: int, retries: int,
        on_event: Callable[[str, object, object], None]) -> dict:
    """Run the trials as Ray tasks; returns {key: exit code} (CRASHED for a dead worker).
    Events, with the trial's key: "start", "said" (the failures a trial returned), "crash"
    (with why), "end" (with the code)."""
    import ray

    check(address)
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False,
                                                       "object_store_memory": 80 * 2**20}
        ray.init(log_to_driver=False, runtime_env={"env_vars": WORKER_ENV}, **kwargs)
    task = ray.remote(num_cpus=1, max_retries=retries)(_remote_trial)
    pending = {}
    for key, trial in trials.items():
        pending[task.remote(trial.to_json())] = key
        on_event("start", key, None)
    codes = {}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            key = pending.pop(ready[0])
            try:
                codes[key], failures = ray.get(ready[0])
                if failures:
                    on_event("said", key, failures)
            except ray.exceptions.RayError as e:  # a dead worker or node, out of memory, a lost object...
                codes[key] = CRASHED
                on_event("crash", key, str(e).splitlines()[0] if str(e) else type(e).__name__)
            on_event("end", key, codes[key])
    except BaseException:
        for ref in pending:
            ray.cancel(ref)
        raise
    finally:
        if started:
            ray.shutdown()
    return codes
