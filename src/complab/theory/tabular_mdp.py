"""Exact quantities of a finite-horizon tabular MDP by dynamic programming: the expected
return, its policy gradient (the ground truth estimators are compared with), and the
contribution coefficients of Meulemans et al. 2023 (COCOA):

    w(s, a, u) = sum_{k>=1} P(U_{t+k} = u | s_t = s, a_t = a) / sum_{k>=1} P(U_{t+k} = u | s_t = s)

for hindsight objects u: reward objects (COCOA-reward) or the states themselves (HCA+,
state-based). The MDP is deterministic in its transitions (`next_state [S, A]`), with a
distribution over reward objects per (s, a) (`reward_probs [S, A, U]`, values
`values [U]`) and an episode of `horizon` steps from state 0; the recursions run
`horizon` times, exact for any acyclic MDP of that depth (the corridor's states carry
their position). `last [S]` marks the states whose step ends the episode.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def _continue(next_state, last, table):
    """table[next(s, a)] for every (s, a), zero after a last state."""
    return jnp.where(last[:, None, None], 0.0, table[next_state]) if table.ndim == 2 \
        else jnp.where(last[:, None], 0.0, table[next_state])


def expected_return(policy: Float[Array, "S A"], next_state, reward_probs, values, last, horizon: int) -> Array:
    """J = E[sum_t r_t] from state 0 under `policy`."""
    r = reward_probs @ values  # [S, A]

    def body(v, _):
        return jnp.sum(policy * (r + _continue(next_state, last, v)), 1), None

    v, _ = jax.lax.scan(body, jnp.zeros(policy.shape[0], r.dtype), None, length=horizon)
    return v[0]


def occupancy(policy, next_state, objects: Float[Array, "S A U"], last, horizon: int) -> Float[Array, "S U"]:
    """N[s, u] = sum_{k>=0} P(U_{t+k} = u | s_t = s), where `objects[s, a]` is the
    distribution of the object seen at a step taken from s with a."""
    q = jnp.einsum("sa,sau->su", policy, objects)

    def body(n, _):
        return q + jnp.einsum("sa,sau->su", policy, _continue(next_state, last, n)), None

    n, _ = jax.lax.scan(body, jnp.zeros_like(q), None, length=horizon)
    return n


def contributions(policy, next_state, objects, last, horizon: int) -> Float[Array, "S A U"]:
    """w(s, a, u) (1 where u never follows s: its terms then carry no reward difference)."""
    n = occupancy(policy, next_state, objects, last, horizon)
    after = _continue(next_state, last, n)  # [S, A, U]: sum over k >= 1 given (s, a)
    marginal = jnp.einsum("sa,sau->su", policy, after)
    return jnp.where(marginal[:, None, :] > 1e-12, after / jnp.maximum(marginal[:, None, :], 1e-12), 1.0)
