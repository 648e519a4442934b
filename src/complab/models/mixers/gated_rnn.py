"""Gated diagonal linear RNN (Zucchet, Kobayashi, Akram et al. 2023, "Gated recurrent
neural networks discover attention", Sec. 3 and Fig. 1).

The layer is a linear diagonal recurrence between two multiplicative (GLU-type,
linear) gates. Inputs get a constant 1 appended, x~ = [x; 1], in place of biases
(the paper's Fig. 1: this lets the layer send queries through the recurrence):

    h_t = lambda * h_{t-1} + (W_in^m x~_t) * (W_in^x x~_t)        (input gating)
    y_t = D [ (W_out^m h_t) * (W_out^x h_t) ]                      (output gating)

with lambda in [0, 1] per neuron, parametrised as lambda = exp(-exp(nu)) (the LRU's
stable parametrisation, Orvieto et al. 2023, restricted to real values).

`from_attention` is the paper's construction: for every head of a linear
self-attention layer, d_v * d_k "memory" neurons with lambda = 1 integrate the
key-value products v_i k_j, and d_k "query" neurons with lambda = 0 hold q_j (the
constant 1 is the second factor of their input gate); the output gates multiply
memory (i, j) by query j and D sums over j and applies W_O. The result computes the
attention layer exactly.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.models.mixers.base import AbstractMixer, diagonal_scan, normal_init
from complab.models.mixers.linear_attention import LinearSelfAttention


@dataclass(frozen=True)
class Config:
    neurons: int = 64  # recurrent neurons n
    gates: int = 0  # output gating width; 0 means `neurons`
    init_scale: float = 1.0  # weights ~ N(0, init_scale^2 / fan_in)
    lambda_min: float = 0.0  # lambda is initialised uniform in [lambda_min, lambda_max]
    lambda_max: float = 1.0

    def build(self, dim: int, *, key: jax.Array) -> "GatedLinearRNN":
        return GatedLinearRNN(self, dim, key=key)


def _with_one(x: jax.Array) -> jax.Array:
    return jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], -1)


class GatedLinearRNN(AbstractMixer):
    w_in_m: Float[Array, "neurons dim_1"]
    w_in_x: Float[Array, "neurons dim_1"]
    nu: Float[Array, " neurons"]
    w_out_m: Float[Array, "gates neurons"]
    w_out_x: Float[Array, "gates neurons"]
    d: Float[Array, "dim gates"]

    def __init__(self, cfg: Config, dim: int, *, key: jax.Array):
        n, m = cfg.neurons, cfg.gates or cfg.neurons
        k = jax.random.split(key, 6)
        self.w_in_m = normal_init(k[0], (n, dim + 1), dim + 1, cfg.init_scale)
        self.w_in_x = normal_init(k[1], (n, dim + 1), dim + 1, cfg.init_scale)
        self.w_out_m = normal_init(k[2], (m, n), n, cfg.init_scale)
        self.w_out_x = normal_init(k[3], (m, n), n, cfg.init_scale)
        self.d = normal_init(k[4], (dim, m), m, cfg.init_scale)
        lam = jax.random.uniform(k[5], (n,), minval=cfg.lambda_min, maxval=cfg.lambda_max)
        self.nu = jnp.log(-jnp.log(jnp.clip(lam, 1e-6, 1 - 1e-6)))

    @property
    def lam(self) -> Float[Array, " neurons"]:
        return jnp.exp(-jnp.exp(self.nu))

    def gate_in(self, x: Float[Array, "... dim"]) -> Float[Array, "... neurons"]:
        x1 = _with_one(x)
        return (x1 @ self.w_in_m.T) * (x1 @ self.w_in_x.T)

    def readout(self, h: Float[Array, "... neurons"]) -> Float[Array, "... dim"]:
        return ((h @ self.w_out_m.T) * (h @ self.w_out_x.T)) @ self.d.T

    def hidden(self, x: Float[Array, "time dim"]) -> Float[Array, "time neurons"]:
        """All hidden states h_t by a parallel (associative) scan of the linear recurrence."""
        return diagonal_scan(self.lam, self.gate_in(x))

    def __call__(self, x: Float[Array, "time dim"]) -> Float[Array, "time dim"]:
        return self.readout(self.hidden(x))

    def last(self, x: Float[Array, "time dim"]) -> Float[Array, " dim"]:
        """The output gating at the last position only (the same scan, one readout)."""
        return self.readout(self.hidden(x)[-1])

    def trace(self, x: Float[Array, "time dim"]) -> dict[str, Array]:
        h = self.hidden(x)
        return {"hidden": h, "out": self.readout(h)}

    def init_state(self) -> Float[Array, " neurons"]:
        return jnp.zeros(self.nu.shape)

    def step(self, state, x_t):
        h = self.lam * state + self.gate_in(x_t)
        return h, self.readout(h)


def from_attention(lsa: LinearSelfAttention) -> GatedLinearRNN:
    """The gated RNN that computes `lsa` exactly (the paper's construction).

    Neurons per head h: memory (i, j) for i < d_v, j < d_k, then query j < d_k;
    n = H * (d_v * d_k + d_k) neurons and H * d_v * d_k output gates.
    """
    heads, dk, dim = lsa.w_q.shape
    dv = lsa.w_v.shape[1]
    zero_col = jnp.zeros((heads, dv * dk, 1))
    one_col = jnp.ones((heads, dk, 1))
    # memory neuron (h, i, j): input gate v_i * k_j
    mem_m = jnp.concatenate([jnp.repeat(lsa.w_v, dk, axis=1), zero_col], -1)
    mem_x = jnp.concatenate([jnp.tile(lsa.w_k, (1, dv, 1)), zero_col], -1)
    # query neuron (h, j): input gate 1 * q_j
    qry_m = jnp.concatenate([jnp.zeros((heads, dk, dim)), one_col], -1)
    qry_x = jnp.concatenate([lsa.w_q, jnp.zeros((heads, dk, 1))], -1)
    w_in_m = jnp.concatenate([mem_m, qry_m], 1).reshape(-1, dim + 1)
    w_in_x = jnp.concatenate([mem_x, qry_x], 1).reshape(-1, dim + 1)
    per_head = dv * dk + dk
    n, m = heads * per_head, heads * dv * dk
    gate = jnp.arange(m)
    head, ij = gate // (dv * dk), gate % (dv * dk)
    w_out_x = jnp.zeros((m, n)).at[gate, head * per_head + ij].set(1.0)  # memory (h, i, j)
    w_out_m = jnp.zeros((m, n)).at[gate, head * per_head + dv * dk + ij % dk].set(1.0)  # query (h, j)
    d = lsa.w_o[:, head * dv + ij // dk]  # sums over j and applies W_O
    # nu = -/+20 gives lambda = 1 and 0 exactly in float32, with finite gradients (unlike -/+inf)
    nu = jnp.concatenate([jnp.full((heads, dv * dk), -20.0), jnp.full((heads, dk), 20.0)], 1).reshape(-1)
    rnn = GatedLinearRNN(Config(neurons=n, gates=m), dim, key=jax.random.key(0))
    leaves = lambda r: (r.w_in_m, r.w_in_x, r.nu, r.w_out_m, r.w_out_x, r.d)  # noqa: E731
    return eqx.tree_at(leaves, rnn, (w_in_m, w_in_x, nu, w_out_m, w_out_x, d))
