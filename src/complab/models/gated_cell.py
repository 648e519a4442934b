"""The one-layer gated recurrent cell of Benzing, Gauy, Mujika, Martinsson, Steger 2019
("Optimal Kronecker-sum approximation of real time recurrent learning"; their
`OK_rank_r_unbiased.py`), with the Jacobians that real-time recurrent learning needs.

    hat_h_t = [x_t, h_{t-1}, 1]                        (A = d_in + n + 1 entries)
    [z_c, z_f] = hat_h_t W,  W in R^{A x 2n}           (init N(0, 0.01^2))
    c = 2 sigmoid(z_c) - 1,   f = sigmoid(z_f)
    h_t = f * h_{t-1} + (1 - f) * c
    logits_t = [h_t, 1] W_out

The sensitivity G_t = dh_t / dW, an [n, A, 2n] tensor, obeys G_t = H_t G_{t-1} + F_t with

    H_t = dh_t / dh_{t-1} = diag(f) + diag((1 - f) c') W_{h,c}^T + diag((h_{t-1} - c) f') W_{h,f}^T
    F_t = hat_h_t (x) D_t,  D_t = [diag((1 - f) c'), diag((h_{t-1} - c) f')]   ([n, 2n])

(F[k, a, j] = hat_h[a] D[k, j]): the immediate influence has Kronecker form, which the
approximations of learners/rtrl.py exploit.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

INIT_STD = 0.01


class GatedCell(eqx.Module):
    w: Float[Array, "A two_n"]
    w_out: Float[Array, "n_plus_1 d_out"]

    def __init__(self, n: int, d_in: int, d_out: int, *, key: jax.Array):
        k_w, k_out = jax.random.split(key)
        self.w = INIT_STD * jax.random.normal(k_w, (d_in + n + 1, 2 * n))
        self.w_out = INIT_STD * jax.random.normal(k_out, (n + 1, d_out))

    @property
    def n(self) -> int:
        return self.w.shape[1] // 2

    def init_state(self) -> Float[Array, " n"]:
        return jnp.zeros(self.n, self.w.dtype)

    def step(self, h: Float[Array, " n"], x: Float[Array, " d_in"]) -> Float[Array, " n"]:
        return self.jacobians(h, x)[0]

    def jacobians(self, h: Float[Array, " n"], x: Float[Array, " d_in"]):
        """(h_t, H_t [n, n], D_t [n, 2n], hat_h_t [A]) at one step."""
        n = self.n
        hat = jnp.concatenate([x, h, jnp.ones(1, h.dtype)])
        z = hat @ self.w
        s_c, f = jax.nn.sigmoid(z[:n]), jax.nn.sigmoid(z[n:])
        c = 2 * s_c - 1
        dc, df = 2 * s_c * (1 - s_c), f * (1 - f)
        gc, gf = (1 - f) * dc, (h - c) * df
        rows = slice(x.shape[0], x.shape[0] + n)
        big_h = jnp.diag(f) + gc[:, None] * self.w[rows, :n].T + gf[:, None] * self.w[rows, n:].T
        d = jnp.concatenate([jnp.diag(gc), jnp.diag(gf)], 1)
        return f * h + (1 - f) * c, big_h, d, hat

    def logits(self, h: Float[Array, " n"]) -> Float[Array, " d_out"]:
        return jnp.concatenate([h, jnp.ones(1, h.dtype)]) @ self.w_out

    def trace(self, x: Float[Array, "time d_in"]) -> dict[str, Array]:
        """The hidden states (`hidden`) and logits (`out`) at every step of a sequence."""
        def body(h, x_t):
            h = self.step(h, x_t)
            return h, (h, self.logits(h))

        hidden, out = jax.lax.scan(body, self.init_state(), x)[1]
        return {"hidden": hidden, "out": out}

    def __call__(self, x: Float[Array, "time d_in"]) -> Float[Array, "time d_out"]:
        """Logits at every step of a sequence (the forward pass BPTT differentiates)."""
        return self.trace(x)["out"]
