"""Token positions and the absolute position encodings added to the embedding.

Positions are 0..T-1 by default. The randomized scheme of Ruoss et al. 2023 replaces
them by a sorted sample without replacement from [0, L), drawn anew for every
sequence, at training and at test time, so a model trained on short sequences has
seen every position up to L. Relative schemes (RoPE, ALiBi, T5) use the same
positions inside attention (models/mixers/softmax_attention.py).

- "sincos" (Vaswani et al. 2017): PE[p, 2i] = sin(p / 10000^(2i/d)),
  PE[p, 2i+1] = cos(p / 10000^(2i/d));
- "learned": a trained table of `max_position` vectors (N(0, 0.02^2) at init).
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def random_positions(key: jax.Array, length: int, max_position: int,
                     valid: Int[Array, ""] | int | None = None) -> Int[Array, " length"]:
    """A sorted sample of distinct positions from [0, max_position) for the first `valid`
    tokens of a padded sequence of `length` (all of them when None); padding gets
    `max_position - 1`, after every real position."""
    perm = jax.random.permutation(key, max_position)[:length]
    if valid is not None:
        perm = jnp.where(jnp.arange(length) < valid, perm, max_position)
    return jnp.minimum(jnp.sort(perm), max_position - 1)


def sincos(positions: Int[Array, " time"], dim: int) -> Float[Array, "time dim"]:
    """The sinusoidal encoding of Vaswani et al. at the given positions."""
    half = (dim + 1) // 2
    angle = positions[:, None].astype(jnp.float32) * 10000.0 ** (-2.0 * jnp.arange(half) / dim)[None, :]
    return jnp.stack([jnp.sin(angle), jnp.cos(angle)], -1).reshape(positions.shape[0], 2 * half)[:, :dim]
