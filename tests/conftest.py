"""Shared fixtures. One smoke run of the flagship experiment is made per test session
and reused by the tests that only read results."""

import os

# Tests compile hundreds of small programs and run each for a few steps: XLA's backend
# optimisations cost more than they save there (about a fifth of a cold smoke tier's
# time). Set before JAX is imported, so the CLI subprocesses that tests start inherit it
# and compile the same programs as the test process.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA's CPU fusion emitters and its parallel code generation: the legacy emitters compile
# a test's programs in about half the CPU time (online_lru's smoke tier 68 -> 33 CPU-s, CoRelNet's
# 61 -> 25 s), and with two test workers on two cores the codegen threads only contend.
for _flag in ("--xla_cpu_use_fusion_emitters=false", "--xla_cpu_parallel_codegen_split_count=1"):
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_flag}".strip()

import jax  # noqa: E402
import pytest  # noqa: E402
from rich.console import Console  # noqa: E402

from complab import programs, runner  # noqa: E402

FLAGSHIP = "gated_rnn_discovers_attention"

# No silent rank broadcasting, as in Equinox's own tests. (Strict dtype promotion is
# not set: Optax's Adam mixes Python floats with int32 step counts.)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_disable_most_optimizations", os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] == "1")
programs.enable_compilation_cache()  # shared by the xdist workers: what one compiled, the other loads


@pytest.fixture(autouse=True)
def _programs_within_the_map_cap():
    """A worker runs hundreds of tests, each loading programs: release them between tests
    before they exhaust the process's memory maps (see `programs`)."""
    yield
    programs.release_near_map_limit()


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """(results dir, Outcome) of the flagship experiment's smoke tier, seed 0."""
    root = tmp_path_factory.mktemp("results")
    out = runner.run(FLAGSHIP, tier="smoke", seeds=[0], results=root, console=Console(quiet=True))
    return root, out


def pytest_terminal_summary(terminalreporter):
    """The reliability campaign's figures (tests record them as the property "campaign"),
    shown whether the tests passed or not, so that they can be quoted."""
    lines = [value for key in ("passed", "failed") for rep in terminalreporter.stats.get(key, [])
             for name, value in getattr(rep, "user_properties", []) if name == "campaign"]
    if lines:
        terminalreporter.section("reliability campaign")
        for line in sorted(lines):
            terminalreporter.write_line(line)
