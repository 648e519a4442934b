"""RNNs that attend to their own past states, with relevancy screening (Kerg, Kanuparthi,
Goyal, Goyette, Bengio, Lajoie, NeurIPS 2020, arXiv 2006.09471; the authors' MemoryNets
RNN.py), as fixed-size buffers inside one `lax.scan`.

    c_t = sum_i a_i m_i,  a = softmax_i(v . tanh(V_a s_{t-1} + U_a m_i)) over the memory m,
    s_t = (h_{t-1} + c_t) / 2,  h_t = tanh(U x_t + V s_t + b),  output W h_t + c.

- "rnn": no memory (s_t = h_{t-1}), the plain RNN.
- "memrnn": the memory is every past state (T slots, O(T) work per step).
- "relrnn": the memory is a short-term buffer of the last `k` states plus a relevant set
  of `nu` states. Each state adds up the attention it receives while in the buffer; when
  it leaves the buffer it enters the relevant set if there is room, else replaces the
  set's lowest-scoring member if its own score is higher (this bookkeeping carries no
  gradient). O(k + nu) work per step.

The memory's key projections U_a m_i are computed once, when a state is stored. `states`
takes optional additive perturbations of every h_t, so the gradient with respect to them
is dL/dh_t (the paper's gradient-propagation measurement). h_0 = s_0 = 0; the first step
has an empty memory and c_1 = 0. Initialisation: V orthogonal (Henaff's block rotations),
U, U_a, V_a Glorot-normal, v normal / sqrt(hidden).
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.config import require
from complab.models.base import AbstractModel
from complab.models.mlp import initial_weight
from complab.models.nnrnn import block_rotations

KINDS = ("rnn", "memrnn", "relrnn")


@dataclass(frozen=True)
class Config:
    kind: Literal["rnn", "memrnn", "relrnn"] = "relrnn"
    hidden: int = 64
    k: int = 10  # the short-term buffer
    nu: int = 15  # the relevant set

    def __post_init__(self):
        require(self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        require(self.hidden >= 2 and self.hidden % 2 == 0, f"hidden must be even and >= 2, got {self.hidden}")
        require(self.k >= 1 and self.nu >= 1, f"need k >= 1 and nu >= 1; got k={self.k}, nu={self.nu}")


class Memory(eqx.Module):
    states: Array  # [slots, hidden]
    keys: Array  # [slots, hidden]: U_a m_i
    score: Array  # [slots]: attention received in the buffer (relrnn)
    valid: Array  # [slots] bool


def _store_relrnn(mem: Memory, t: Array, h: Array, key: Array, k: int) -> Memory:
    """Write h_t into the ring buffer (slots 0..k-1), moving the state it evicts into the
    relevant set (slots k..) if there is room or it outscores the set's weakest member."""
    p = t % k
    old_state, old_key, old_score, old_valid = mem.states[p], mem.keys[p], mem.score[p], mem.valid[p]
    rel_valid, rel_score = mem.valid[k:], jnp.where(mem.valid[k:], mem.score[k:], -jnp.inf)
    has_room = ~rel_valid.all()
    target = jnp.where(has_room, jnp.argmin(rel_valid), jnp.argmin(rel_score))
    move = old_valid & (has_room | (old_score > rel_score[target]))
    j = k + target
    states = mem.states.at[j].set(jnp.where(move, old_state, mem.states[j]))
    keys = mem.keys.at[j].set(jnp.where(move, old_key, mem.keys[j]))
    score = mem.score.at[j].set(jnp.where(move, old_score, mem.score[j]))
    valid = mem.valid.at[j].set(jnp.where(move, True, mem.valid[j]))
    return Memory(states=states.at[p].set(h), keys=keys.at[p].set(key), score=score.at[p].set(0.0),
                  valid=valid.at[p].set(True))


class RelevancyRNN(AbstractModel):
    kind: str = eqx.field(static=True)
    k: int = eqx.field(static=True)
    nu: int = eqx.field(static=True)
    u: Array
    v: Array
    b: Array
    u_a: Array
    v_a: Array
    w_a: Array
    out: eqx.nn.Linear

    def __init__(self, cfg: Config, d_in: int, d_out: int, *, key: jax.Array):
        ku, kv, ka, kq, kw, ko = jax.random.split(key, 6)
        n, half = cfg.hidden, cfg.hidden // 2
        self.kind, self.k, self.nu = cfg.kind, cfg.k, cfg.nu
        self.u = initial_weight("xavier_normal", n, d_in, ku)
        self.v = block_rotations(jnp.ones(half), jax.random.uniform(kv, (half,), minval=-jnp.pi, maxval=jnp.pi))
        self.b = jnp.zeros(n)
        self.u_a = initial_weight("xavier_normal", n, n, ka)
        self.v_a = initial_weight("xavier_normal", n, n, kq)
        self.w_a = jax.random.normal(kw, (n,)) / n ** 0.5
        self.out = eqx.nn.Linear(n, d_out, key=ko)

    def slots(self, length: int) -> int:
        """The memory's size: what bounds one step's attention work."""
        return {"rnn": 0, "memrnn": length, "relrnn": self.k + self.nu}[self.kind]

    def states(self, x: Float[Array, "time d_in"], shifts: Array | None = None) -> tuple[Array, Array]:
        """(h [time, hidden], attention weights [time, slots]); `shifts` [time, hidden] is added to each h_t."""
        n, length = self.v.shape[0], x.shape[0]
        slots = self.slots(length)
        shifts = jnp.zeros((length, n)) if shifts is None else shifts
        drive = x @ self.u.T + self.b[None]
        mem = Memory(states=jnp.zeros((slots, n)), keys=jnp.zeros((slots, n)), score=jnp.zeros(slots),
                     valid=jnp.zeros(slots, bool))

        def step(carry, inputs):
            h, s, mem = carry
            t, z, shift = inputs
            if self.kind == "rnn":
                s_new, weights = h, jnp.zeros(0)
            else:
                e = jnp.tanh(mem.keys + (self.v_a @ s)[None]) @ self.w_a
                e = jnp.where(mem.valid, e, -jnp.inf)
                weights = jnp.where(mem.valid.any(), jax.nn.softmax(jnp.where(mem.valid.any(), e, 0.0)), 0.0)
                weights = jnp.where(mem.valid, weights, 0.0)
                s_new = 0.5 * (h + weights @ mem.states)
            h_new = jnp.tanh(z + self.v @ s_new) + shift
            if self.kind == "memrnn":
                mem = Memory(states=mem.states.at[t].set(h_new), keys=mem.keys.at[t].set(self.u_a @ h_new),
                             score=mem.score, valid=mem.valid.at[t].set(True))
            elif self.kind == "relrnn":
                in_buffer = jnp.arange(slots) < self.k
                mem = eqx.tree_at(lambda m: m.score, mem,
                                  mem.score + jnp.where(in_buffer, jax.lax.stop_gradient(weights), 0.0))
                mem = _store_relrnn(mem, t, h_new, self.u_a @ h_new, self.k)
            return (h_new, s_new, mem), (h_new, weights)

        _, (hs, weights) = jax.lax.scan(step, (jnp.zeros(n), jnp.zeros(n), mem),
                                        (jnp.arange(length), drive, shifts))
        return hs, weights

    def __call__(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> Array:
        del key, valid, train
        return jax.vmap(self.out)(self.states(x)[0])

    def trace(self, x: Float[Array, "time d_in"], *, key=None, valid=None, train=False) -> dict[str, Array]:
        hs, weights = self.states(x)
        return {"hidden": hs, "attention": weights, "out": jax.vmap(self.out)(hs)}
