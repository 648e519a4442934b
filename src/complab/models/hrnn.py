"""A two-level hierarchical RNN whose upward gradient can be cut and replaced by a local
loss (Mujika, Weissenberger, Steger 2019, "Decoupling hierarchical recurrent neural
networks with locally computable losses"; no public code: the form below is this lab's
reading of the paper's description, see experiments/hrnn_local_losses.py).

    lower (every step):    h1_t = GRU_1([x_t, h2], h1_{t-1})     (h2: the upper state, top-down)
    upper (every k steps): h2 = GRU_2(h1 at the block's last step, h2)
    output at each step:   R [h1_t, h2]

With `cut`, the lower level learns only from what it can compute within its own block of
k steps: its summary enters the upper level without gradient (no path from the upper
level's losses down), the top-down input enters without gradient, and its state is held
fixed at each block's start (truncated BPTT over one block). `local_loss` is the paper's
replacement for the cut path: a linear decoder reconstructs the k inputs the block saw
from the summary it passes up.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require


@dataclass(frozen=True)
class Config:
    lower: int = 64
    upper: int = 64
    k: int = 16  # lower steps per upper step

    def __post_init__(self):
        require(min(self.lower, self.upper, self.k) >= 1, f"an HRNN needs sizes and k >= 1; got {self}")


class HRNN(eqx.Module):
    cfg: Config = eqx.field(static=True)
    cell1: eqx.nn.GRUCell
    cell2: eqx.nn.GRUCell
    readout: eqx.nn.Linear
    decoder: eqx.nn.Linear  # summary -> k x d_in logits (the local loss)

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.cfg = cfg
        self.cell1 = eqx.nn.GRUCell(d_in + cfg.upper, cfg.lower, key=k1)
        self.cell2 = eqx.nn.GRUCell(cfg.lower, cfg.upper, key=k2)
        self.readout = eqx.nn.Linear(cfg.lower + cfg.upper, d_out, key=k3)
        self.decoder = eqx.nn.Linear(cfg.lower, cfg.k * d_in, key=k4)

    def trace(self, x: Float[Array, "time d_in"], cut: bool = False) -> dict[str, Array]:
        """`out` (logits [time, d_out]), `lower` (h1 [time, lower]) and `summaries` (h1 at each
        block's end, what it passes up [blocks, lower]); time must be a multiple of k."""
        blocks = x.reshape(-1, self.cfg.k, x.shape[-1])
        sg = jax.lax.stop_gradient if cut else (lambda a: a)

        def block(carry, xb):
            h1, h2 = carry
            lower, logits = self.lower_block(sg(h1), sg(h2), h2, xb)
            h1 = lower[-1]
            return (h1, self.cell2(sg(h1), h2)), (logits, lower, h1)

        init = (jnp.zeros(self.cfg.lower), jnp.zeros(self.cfg.upper))
        _, (logits, lower, summaries) = jax.lax.scan(block, init, blocks)
        return {"out": logits.reshape(-1, logits.shape[-1]), "lower": lower.reshape(-1, lower.shape[-1]),
                "summaries": summaries}

    def lower_block(self, h1: Array, top: Array, h2: Array, xb: Float[Array, "k d_in"]) -> tuple[Array, Array]:
        """The lower level over one block from state h1 with top-down input `top`: its states
        [k, lower] and the outputs read out beside the upper state h2 [k, d_out] (`trace`
        passes h2 as both, the cut stopping the gradient of `top` only)."""

        def step(h, x_t):
            h = self.cell1(jnp.concatenate([x_t, top]), h)
            return h, (h, self.readout(jnp.concatenate([h, h2])))

        return jax.lax.scan(step, h1, xb)[1]

    def __call__(self, x: Float[Array, "time d_in"], cut: bool = False) -> Float[Array, "time d_out"]:
        return self.trace(x, cut)["out"]

    def local_loss(self, x: Float[Array, "time d_in"], summaries: Float[Array, "blocks lower"]) -> Array:
        """Mean cross-entropy of reconstructing each block's one-hot inputs from its summary."""
        d_in = x.shape[-1]
        logits = jax.vmap(self.decoder)(summaries).reshape(-1, d_in)
        return -jnp.mean(jnp.sum(x * jax.nn.log_softmax(logits, -1), -1))
