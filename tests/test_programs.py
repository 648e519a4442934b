"""Compiled programs: cache entries are whole or absent, and programs loaded from the
cache are released before they exhaust the process's memory maps."""

import pathlib

import jax
import jax.numpy as jnp
import pytest

from complab import programs


def test_compilation_cache_entries_are_whole_or_absent(tmp_path, monkeypatch):
    """A process killed while writing a compiled program must not leave a truncated entry
    for every later process to fail on: entries go to a temporary file, then are renamed."""
    from jax._src import lru_cache as file_cache

    programs.enable_compilation_cache()
    cache = file_cache.LRUCache(str(tmp_path), max_size=-1)
    cache.put("whole", b"program")
    assert cache.get("whole") == b"program"

    def killed(self, data):
        self.write_text("trunc")  # part of the entry reaches the disk, then the process dies
        raise OSError("killed while writing")

    monkeypatch.setattr(pathlib.Path, "write_bytes", killed)
    with pytest.raises(OSError):
        cache.put("torn", b"program")
    monkeypatch.undo()
    assert cache.get("torn") is None


@pytest.mark.skipif(programs.map_use() is None, reason="the system does not report memory maps")
def test_programs_loaded_from_the_cache_hold_maps_until_released():
    programs.enable_compilation_cache()
    fns = [jax.jit(lambda x, i=i: (jnp.tanh(x @ x.T + i) * jnp.cumsum(x, 1)).sum(0)) for i in range(40)]
    x = jnp.ones((8, 8))
    first = [f(x) for f in fns]  # compiled (or loaded) and written to the disk cache
    jax.clear_caches()
    before = programs.map_use()[0]
    for f in fns:
        f(x).block_until_ready()  # loaded from the disk cache: each linked into maps of its own
    loaded = programs.map_use()[0]
    assert loaded - before >= 40, f"{loaded - before} maps for 40 programs loaded from the cache"
    assert not programs.release_near_map_limit(fraction=1.0)  # far below the cap: nothing dropped
    with pytest.warns(UserWarning, match="something else holds them"):  # at fraction 0 some maps always remain
        assert programs.release_near_map_limit(fraction=0.0)
    assert programs.map_use()[0] <= before + 5, "the loaded programs' maps were not released"
    assert all(bool((f(x) == y).all()) for f, y in zip(fns, first))  # released programs load again
