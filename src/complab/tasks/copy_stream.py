"""String memorisation as a stream with a curriculum (Benzing, Gauy, Mujika, Martinsson,
Steger 2019, after Mujika et al. 2018; their copy task), for learners that update at
every time step.

Symbols: 0 and 1 (the bits), 2 (start), 3 (filler). A sequence of length 2T + 2 reads
[2, b_1..b_T, 3 x (T + 1)] and must answer [3 x (T + 1), 2, b_1..b_T]: the string comes
back after the marker. Each of `batch` streams runs sequences back to back; a new
sequence draws T = max(1, T_cur - U{0..spread}) and fresh bits. The curriculum raises
T_cur by one when the running average of the loss (bits per character, all positions)
falls below `threshold` (0.15 in the paper); the score is the T_cur reached. The running
average is the authors' exponential one (weight `rate` = 0.001 on the newest loss),
restarted at `restart` = 0.3 bits after each raise; the authors test it when a stream
begins a sequence, here at every step.

Worked example (T = 2, bits 1 0): inputs 2 1 0 3 3 3, targets 3 3 3 2 1 0.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from complab.config import require

VOCAB = 4
START, FILLER = 2, 3


@dataclass(frozen=True)
class Config:
    max_length: int = 64  # the largest T a stream can hold
    spread: int = 4
    threshold: float = 0.15  # bits per character
    rate: float = 0.001  # the running average's weight on the newest loss
    restart: float = 0.3  # the running average after a raise

    def __post_init__(self):
        require(self.max_length >= 1 and self.spread >= 0 and self.threshold > 0 and 0 < self.rate <= 1
                and self.restart > self.threshold,
                f"the copy stream needs max_length >= 1, spread >= 0, threshold > 0, rate in (0, 1] and restart > "
                f"threshold; got {self}")


class Streams(eqx.Module):
    pos: Int[Array, " batch"]  # position within the current sequence
    length: Int[Array, " batch"]  # its T
    bits: Int[Array, "batch max_length"]


def start(cfg: Config, batch: int) -> Streams:
    """Streams about to begin their first sequence."""
    z = jnp.zeros(batch, jnp.int32)
    return Streams(z, jnp.ones(batch, jnp.int32), jnp.zeros((batch, cfg.max_length), jnp.int32))


def refresh(cfg: Config, key: jax.Array, s: Streams, t_cur: Array) -> Streams:
    """Draw a new length and string for every stream at the start of a sequence."""
    k_len, k_bits = jax.random.split(key)
    b = s.pos.shape[0]
    length = jnp.clip(t_cur - jax.random.randint(k_len, (b,), 0, cfg.spread + 1), 1, cfg.max_length)
    bits = jax.random.bernoulli(k_bits, 0.5, s.bits.shape).astype(jnp.int32)
    fresh = s.pos == 0
    return Streams(s.pos, jnp.where(fresh, length, s.length), jnp.where(fresh[:, None], bits, s.bits))


def symbols(s: Streams) -> tuple[Int[Array, " batch"], Int[Array, " batch"], Bool[Array, " batch"]]:
    """(input symbol, target symbol, whether the sequence starts here) of every stream."""
    p, t = s.pos, s.length
    at = lambda i: jnp.take_along_axis(s.bits, jnp.clip(i, 0, s.bits.shape[1] - 1)[:, None], 1)[:, 0]  # noqa: E731
    x = jnp.where(p == 0, START, jnp.where(p <= t, at(p - 1), FILLER))
    y = jnp.where(p <= t, FILLER, jnp.where(p == t + 1, START, at(p - t - 2)))
    return x, y, p == 0


def advance(s: Streams) -> Streams:
    nxt = s.pos + 1
    return Streams(jnp.where(nxt == 2 * s.length + 2, 0, nxt), s.length, s.bits)


def curriculum(cfg: Config, t_cur: Array, average: Array, loss_bits: Array) -> tuple[Array, Array]:
    """(T_cur, running average) after one step's mean loss in bits per character."""
    average = (1 - cfg.rate) * average + cfg.rate * loss_bits
    up = (average < cfg.threshold) & (t_cur < cfg.max_length)
    return jnp.where(up, t_cur + 1, t_cur), jnp.where(up, cfg.restart, average)
