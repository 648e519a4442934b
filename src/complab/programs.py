"""Compiled programs: JAX's persistent compilation cache, and the memory maps that the
programs loaded from it hold.

Every program compiles once per machine: the cache (`$COMPLAB_JAX_CACHE`, default
~/.cache/complab/jax) keeps programs of every size, since on a CPU small programs are
most of a short run's compile time.

A program loaded from the cache is linked into memory of its own: about 20 memory maps
on Linux (freshly compiled programs share pooled memory). Linux caps a process's maps
(`vm.max_map_count`, 65,530 by default) and XLA aborts the process when it cannot map
more. A long process (a sweep, a test worker) that keeps every program it ever loaded
reaches the cap after about 3,000 programs: the test suite did, crashing a worker.
`release_near_map_limit` drops JAX's in-memory caches when half the cap is used; the
programs then load again from the disk cache when next called (milliseconds each).
"""

import gc
import os
import warnings
from functools import lru_cache
from pathlib import Path

import jax

MAX_MAPS = Path("/proc/sys/vm/max_map_count")
OWN_MAPS = Path("/proc/self/maps")


def _atomic_cache_writes() -> None:
    """Make JAX's file cache write each entry to a temporary file and rename it into place.
    JAX writes an entry in place (`LRUCache.put`, unbounded cache) and never replaces an
    existing one: a process killed while writing (kill -9, a preempted job) would leave a
    truncated entry that every later process fails to decompress, warns about and
    recompiles, for good. A rename is atomic, so an entry is either whole or absent.
    Reaches into a private JAX module; where its shape differs, JAX's own writing is left
    as it is."""
    try:
        from jax._src import lru_cache as file_cache
    except ImportError:
        return
    cls = getattr(file_cache, "LRUCache", None)
    original = getattr(cls, "put", None)
    if original is None or getattr(original, "complab_atomic", False):
        return

    def put(self, key: str, value: bytes) -> None:
        if getattr(self, "eviction_enabled", True) or not key:
            return original(self, key, value)  # the bounded cache writes under JAX's own lock
        path = Path(str(self.path)) / f"{key}{file_cache._CACHE_SUFFIX}"
        if path.exists():
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(value)
        os.replace(tmp, path)

    put.complab_atomic = True
    cls.put = put


@lru_cache(maxsize=1)
def enable_compilation_cache() -> Path:
    """Turn on JAX's persistent compilation cache for every program; returns its folder."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "complab" / "jax"
    path = Path(os.environ.get("COMPLAB_JAX_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _atomic_cache_writes()
    return path


def map_use() -> tuple[int, int] | None:
    """(memory maps this process holds, the most it may hold), or None where the system
    does not say (not Linux)."""
    try:
        cap = int(MAX_MAPS.read_text())
        with OWN_MAPS.open("rb") as f:
            used = sum(1 for _ in f)
    except (OSError, ValueError):
        return None
    return used, cap


def release_near_map_limit(fraction: float = 0.5) -> bool:
    """Drop JAX's in-memory programs and traces when this process holds more than
    `fraction` of its memory-map cap; True when it did."""
    use = map_use()
    if use is None or use[0] <= fraction * use[1]:
        return False
    jax.clear_caches()
    gc.collect()
    after = map_use()
    if after is not None and after[0] > fraction * after[1]:
        warnings.warn(f"this process still holds {after[0]} of its {after[1]} memory maps after JAX's programs "
                      "were released: something else holds them, and the process may be stopped when it runs out",
                      stacklevel=2)
    return True
