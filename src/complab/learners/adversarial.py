"""The relaxed worst-case objective of von Oswald, Kobayashi, Akram, Steger 2024 for a
model that takes a random seed r beside its input (an oblivious adversary picks the
input, not the seed):

    max_x E_r L(x, A(x, r))   relaxed to   ( E_x [ (1/m sum_{j=1..m} L(x, A(x, r_j)))^q ] )^(1/q)

with m seeds per input drawn afresh for every input. The seed average sits inside the
power, so a model is rewarded for spreading its failures over seeds; q = 1 is
average-case training, which gives no reason to use the seed; q -> infinity is the
maximum over inputs. Seeds are appended to every token of the input.

`seeded_loss` is a `loss(model, batch, key)` for learners/supervised.py (or an ES
objective); the model's output at the last position is compared with the batch's last
target by `example_loss(pred [..., d_out], target [..., d_out]) -> [...]`.
"""

from typing import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array


def with_seeds(x: Array, seeds: Array) -> Array:
    """Sequences x [B, T, d] under seeds [B, m, R]: [B, m, T, d + R], the seed in every token."""
    b, m, r = seeds.shape
    xs = jnp.broadcast_to(x[:, None], (b, m) + x.shape[1:])
    return jnp.concatenate([xs, jnp.broadcast_to(seeds[:, :, None], (b, m, x.shape[1], r))], -1)


def predict_seeded(model, x: Array, seeds: Array) -> Array:
    """The model's last-position outputs [B, m, d_out] for each sequence under each of its seeds."""
    return jax.vmap(jax.vmap(model.last))(with_seeds(x, seeds))


def q_norm(per_input: Array, q: float) -> Array:
    """(mean over inputs of loss^q)^(1/q); per-input losses are >= 0. Computed as
    s (mean((loss / s)^q))^(1/q) with s the largest loss (held constant for the
    gradient), so small losses neither underflow to 0 nor give NaN gradients."""
    scale = jax.lax.stop_gradient(jnp.max(per_input))
    scale = jnp.where(scale > 0, scale, 1.0)
    mean = jnp.mean((per_input / scale) ** q)
    return scale * jnp.where(mean > 0, jnp.where(mean > 0, mean, 1.0) ** (1.0 / q), 0.0)


def seeded_loss(example_loss: Callable, draw_seeds: Callable, q: float, m: int) -> Callable:
    """The relaxed objective as `loss(model, batch, key)`: `draw_seeds(key, (B, m))` gives the
    seeds [B, m, R] (a fixed seed for a deterministic model)."""

    def loss(model, batch, key):
        seeds = draw_seeds(key, (batch.x.shape[0], m))
        pred = predict_seeded(model, batch.x, seeds)
        per_input = example_loss(pred, batch.y[:, None, -1]).mean(1)
        return q_norm(per_input, q)

    return loss
