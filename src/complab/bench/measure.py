"""Timing, memory and FLOP counts of one compiled program, and the machine's
matrix-multiply peak measured in the same process (so ratios hold on a noisy,
shared machine)."""

import time
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Timing:
    compile_s: float
    ms: float  # median wall time of one call
    flops: float  # XLA's count of the program's floating-point operations (nan if unknown)
    temp_mib: float  # temporary memory XLA plans for one call
    args_mib: float  # its inputs


def repeat(call: Callable[[], object], min_s: float = 0.5, min_calls: int = 5, max_calls: int = 200) -> float:
    """The median seconds of `call()` (which blocks until its result is ready) after one warm-up."""
    call()
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or (time.perf_counter() - start < min_s and len(times) < max_calls):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def compiled(fn: Callable, args: tuple, min_s: float = 0.5, min_calls: int = 5) -> Timing:
    """Compile `fn` for `args` (timed), then time calls of it."""
    t0 = time.perf_counter()
    program = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    memory = program.memory_analysis()
    temp = float(getattr(memory, "temp_size_in_bytes", 0) or 0) / 2**20 if memory is not None else float("nan")
    inputs = float(getattr(memory, "argument_size_in_bytes", 0) or 0) / 2**20 if memory is not None else float("nan")
    seconds = repeat(lambda: jax.block_until_ready(program(*args)), min_s, min_calls)
    return Timing(compile_s, 1000 * seconds, flops(program), temp, inputs)


def flops(program) -> float:
    try:
        cost = program.cost_analysis()
    except Exception:  # noqa: BLE001 - a backend without cost analysis
        return float("nan")
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float((cost or {}).get("flops", float("nan")))


def matmul_peak(n: int = 1024) -> float:
    """float32 GFLOP/s of an n x n matrix product, on the default device."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    product = jax.jit(lambda x, y: x @ y).lower(a, b).compile()
    seconds = repeat(lambda: product(a, b).block_until_ready(), min_s=1.0)
    return 2 * n**3 / seconds / 1e9
