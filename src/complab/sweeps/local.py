"""The local backend: a pool of worker processes on this machine, one process per
job, at most `workers` at a time. A job whose process ends with an exit code
outside `final` (a crash, kill -9) is started again, at most `retries` more times,
then reported as crashed; the other jobs go on."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass
class Job:
    key: object
    argv: list[str]
    log: Path
    tries: int = 0
    env: dict | None = None  # this job's own variables, over the pool's


def run(jobs: list[Job], workers: int, retries: int, final: tuple[int, ...],
        on_event: Callable[[str, Job, int | None], None], poll_s: float = 0.1, env: dict | None = None,
        on_poll: Callable[[], None] | None = None) -> dict:
    """Run the jobs; returns {key: exit code} (the last try's). Events: "start", "end"
    (with the exit code), "retry" (with the exit code that caused it); `on_poll` is called
    at every poll. Ctrl-C or SIGTERM stop every running job with SIGTERM (they store what
    they did) and re-raise: each job runs in a session of its own, so a terminal's Ctrl-C
    reaches the pool alone, and each job gets that one signal."""
    queue, running, codes = list(jobs), {}, {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                job = queue.pop(0)
                job.tries += 1
                job.log.parent.mkdir(parents=True, exist_ok=True)
                with open(job.log, "a") as log:
                    log.write(f"--- try {job.tries}: {' '.join(job.argv)}\n")
                    log.flush()
                    running[job.key] = (subprocess.Popen(job.argv, stdout=log, stderr=subprocess.STDOUT,
                                                         env={**os.environ, **(env or {}), **(job.env or {})},
                                                         start_new_session=True), job)
                on_event("start", job, None)
            for key, (proc, job) in list(running.items()):
                code = proc.poll()
                if code is None:
                    continue
                del running[key]
                if code not in final and job.tries <= retries:
                    on_event("retry", job, code)
                    queue.insert(0, job)
                else:
                    codes[key] = code
                    on_event("end", job, code)
            if on_poll is not None:
                on_poll()
            time.sleep(poll_s)
    except BaseException:
        _stop([proc for proc, _ in running.values()])
        raise
    return codes


def _stop(procs: list[subprocess.Popen], grace_s: float = 60.0) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
