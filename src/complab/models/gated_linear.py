"""A gated deep linear routing network (Saxe, Sodhani, Lewallen 2022): input modules ->
one shared layer -> output modules, linear, no biases. Every (input, output) pair of
modules is a pathway W3_j W2 W1_i; a binary gate says which pathways train.

`orthogonal` draws every matrix (semi-)orthogonal times a gain, as the authors' code
does; `decoupled` starts every pathway at the product b0^3 U I V^T aligned with the
targets' singular vectors (Y = U S V^T), balanced across the three layers, each full
matrix with all singular values b0 (the exact-reduction start).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


class RoutingNetwork(eqx.Module):
    w_in: Float[Array, "m_in hidden d_in"]
    w_hidden: Float[Array, "hidden hidden"]
    w_out: Float[Array, "m_out d_out hidden"]

    def hidden(self, x: Float[Array, "d_in n"]) -> Float[Array, "m_in hidden n"]:
        """Each input module's representation of the items after the shared layer."""
        return jnp.einsum("gh,mhn->mgn", self.w_hidden, jnp.einsum("mhd,dn->mhn", self.w_in, x))

    def __call__(self, x: Float[Array, "d_in n"]) -> Float[Array, "m_in m_out d_out n"]:
        """Every pathway's outputs: [input module, output module, output, item]."""
        return jnp.einsum("koh,mhn->mkon", self.w_out, self.hidden(x))


def gate(modules: int, routes: int) -> np.ndarray:
    """[inputs, outputs]: input module i trains with the `routes` output modules (i + j) mod M
    for j = -1, 0, 1, ... (the neighbouring outputs, cyclic; with one route, i with i)."""
    g = np.zeros((modules, modules))
    first = -1 if routes > 1 else 0
    for i in range(modules):
        for j in range(first, first + routes):
            g[i, (i + j) % modules] = 1.0
    return g


def orthogonal(key: jax.Array, modules: int, d_in: int, hidden: int, d_out: int, gain: float) -> RoutingNetwork:
    ki, kh, ko = jax.random.split(key, 3)
    init = jax.nn.initializers.orthogonal(gain)
    w_in = jax.vmap(lambda k: init(k, (hidden, d_in)))(jax.random.split(ki, modules))
    w_out = jax.vmap(lambda k: init(k, (d_out, hidden)))(jax.random.split(ko, modules))
    return RoutingNetwork(w_in, init(kh, (hidden, hidden)), w_out)


def decoupled(key: jax.Array, modules: int, u: np.ndarray, v: np.ndarray, hidden: int, b0: float) -> RoutingNetwork:
    """W1_i = b0 A V^T, W2 = b0 Q, W3_j = b0 U (Q B)^T with A, B the first columns of one random
    orthogonal frame O1 and Q another: every pathway's product is b0^3 U I V^T."""
    d_out, d_in = u.shape[0], v.shape[0]
    if hidden < max(d_in, d_out):
        raise ValueError(f"a decoupled start needs hidden >= inputs and outputs ({max(d_in, d_out)}), got {hidden}")
    k1, k2 = jax.random.split(key)
    o1 = np.linalg.qr(np.asarray(jax.random.normal(k1, (hidden, hidden))))[0]
    q = np.linalg.qr(np.asarray(jax.random.normal(k2, (hidden, hidden))))[0]
    w_in = b0 * o1[:, :d_in] @ v.T
    w_out = b0 * u @ (q @ o1[:, :d_out]).T
    return RoutingNetwork(jnp.asarray(np.broadcast_to(w_in, (modules,) + w_in.shape), jnp.float32),
                          jnp.asarray(b0 * q, jnp.float32),
                          jnp.asarray(np.broadcast_to(w_out, (modules,) + w_out.shape), jnp.float32))


def pathway_errors(model: RoutingNetwork, x: Array, y: Array) -> Array:
    """[inputs, outputs]: each pathway's error (1/2) |Y - Y^|_F^2."""
    return 0.5 * jnp.sum((y[None, None] - model(x)) ** 2, axis=(-2, -1))
