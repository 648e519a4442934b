"""Named key derivation from one root key (DESIGN: Randomness).

Every random stream in complab is derived from the seed's root key by *names*,
never by position in a split, so adding a new consumer never shifts the streams of
the existing ones, and validation never replays training batches:

    >>> root = root_key(0)
    >>> k_init, k_data = named(root, "init"), named(root, "data")
    >>> k_test = named(k_data, "test")        # the test split's own stream

`named` folds a stable 32-bit digest of the name into the key (crc32, the same on
every platform and Python run, unlike `hash`).
"""

import zlib

import jax
import jax.numpy as jnp
import numpy as np


def root_key(seed: int) -> jax.Array:
    """The one root key of a seed."""
    return jax.random.key(seed)


def seed_of(key: jax.Array) -> int:
    """The integer a NumPy simulation seeds its generator from: the key's last data word
    (the seed itself for a root key)."""
    return int(np.asarray(jax.random.key_data(key)).ravel()[-1])


def name_id(name: str) -> int:
    """A stable 31-bit integer for a stream name."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def named(key: jax.Array, name: str) -> jax.Array:
    """The child key called `name`; the same name always gives the same key."""
    return jax.random.fold_in(key, name_id(name))


def streams(key: jax.Array, *names: str) -> tuple[jax.Array, ...]:
    """Several named children at once: `k_init, k_data = streams(root, "init", "data")`."""
    return tuple(named(key, n) for n in names)


def _mix(x: jax.Array) -> jax.Array:
    """lowbias32 (C. Wellons' integer hash): a well-mixed uint32 from a uint32."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def uniform(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """U[0, 1) values from a counter-based hash seeded by two threefry words of `key`:
    deterministic in the key like `jax.random.uniform`, but far cheaper to compile on a CPU
    (threefry over a large array costs seconds of XLA compilation, which a smoke tier pays).
    Use it for large per-example draws inside a task's `generate`; keys still come from `named`."""
    seed = jax.random.bits(key, (2,), jnp.uint32)
    count = jnp.arange(int(np.prod(shape)), dtype=jnp.uint32).reshape(shape)
    x = _mix(_mix(count ^ seed[0]) + seed[1])
    return (x >> 8).astype(jnp.float32) * (1.0 / (1 << 24))
