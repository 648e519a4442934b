"""Policy-gradient estimators with counterfactual contribution coefficients (Meulemans,
Schug, Kobayashi, Daw, Wayne 2023, COCOA; their `contribution/causal.py` and
`agents/policy_gradient.py`), for a tabular softmax policy.

For a visited state s_t and *every* action a (the "advantage" form):

    A(s_t, a) = 1[a = a_t] r_t / pi(a_t | s_t) + sum_{k > t} (w(s_t, a, u_k) - 1) r_k

and the gradient estimate is the gradient of sum_t sum_a pi_theta(a | s_t) A(s_t, a)
with A held fixed. The hindsight object u_k is the reward object seen at step k
(`cocoa`: COCOA-reward) or the state s_k (`hca`: HCA+, state-based); `reinforce` is
A(s_t, a) = 1[a = a_t] / pi(a_t | s_t) sum_{k >= t} r_k, i.e. grad log pi(a_t | s_t) times
the return. The coefficients w come from theory/tabular_mdp.py (the ground-truth "_gt"
variants of the paper). The policy is pi = (1 - eps) softmax(theta[row(s)]) + eps / A: a
table of logits whose row for each state is `rows[s]` (the state itself, or a feature of
it such as the position, shared by several states).
"""

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from complab.learners import optim
from complab.learners.base import AbstractLearner
from complab.theory import tabular_mdp

Method = Literal["reinforce", "hca", "cocoa"]
METHODS: tuple[str, ...] = ("reinforce", "hca", "cocoa")


def policy(theta: Float[Array, "R A"], rows: Array, eps: float) -> Float[Array, "S A"]:
    """Action probabilities of every state."""
    return (1 - eps) * jax.nn.softmax(theta[rows], -1) + eps / theta.shape[-1]


def advantages(method: Method, pi, w, states, actions, objects, rewards) -> Float[Array, "T A"]:
    """A(s_t, a) for every step t of one episode and every action a. `w` is [S, A, U] with
    U the reward objects (cocoa) or the states (hca); unused by reinforce."""
    t = states.shape[0]
    taken = jax.nn.one_hot(actions, pi.shape[1], dtype=pi.dtype) / pi[states, actions][:, None]  # [T, A]
    if method == "reinforce":
        returns = jnp.cumsum(rewards[::-1])[::-1]
        return taken * returns[:, None]
    hindsight = objects if method == "cocoa" else states
    later = jnp.arange(t)[None, :] > jnp.arange(t)[:, None]  # [t, k]: k > t
    coef = w[states][:, :, hindsight] - 1.0  # [t, A, k]
    future = jnp.einsum("tak,tk,k->ta", coef, later.astype(pi.dtype), rewards)
    return taken * rewards[:, None] + future


def coefficients(method: Method, pi, next_state, reward_probs, last, horizon: int) -> Array | None:
    """The exact contribution coefficients w of `method` under `pi` in a tabular MDP: over
    the reward objects (cocoa, [S, A, U]) or the states (hca, [S, A, S]); None for REINFORCE."""
    if method == "reinforce":
        return None
    s = next_state.shape[0]
    objects = reward_probs if method == "cocoa" else \
        jnp.broadcast_to(jnp.eye(s, dtype=pi.dtype)[:, None, :], (s, pi.shape[1], s))
    return tabular_mdp.contributions(pi, next_state, objects, last, horizon)


def estimate(method: Method, theta, rows, eps: float, w, states, actions, objects, rewards) -> Float[Array, "R A"]:
    """One episode's policy-gradient estimate with respect to theta."""
    adv = jax.lax.stop_gradient(advantages(method, policy(theta, rows, eps), w, states, actions, objects, rewards))
    return jax.grad(lambda th: jnp.sum(policy(th, rows, eps)[states] * adv))(theta)


class State(eqx.Module):
    theta: Array
    opt_state: Any


class PolicyGradient(AbstractLearner):
    """Gradient ascent on the expected return of a tabular policy in a tabular MDP with one
    estimator, from `episodes` fresh episodes a step (the learner makes its own data), plus
    `entropy` times the policy's entropy at the visited states. The contribution
    coefficients are recomputed by dynamic programming for the current policy each step."""

    cfg: optim.Config = eqx.field(static=True)
    method: str = eqx.field(static=True)
    env: Any  # a tabular MDP with `rollout`, `next_state`, `reward_probs`, `states`
    rows: Array
    last: Array
    horizon: int = eqx.field(static=True)
    eps: float = eqx.field(static=True, default=0.05)
    entropy: float = eqx.field(static=True, default=0.01)
    episodes: int = eqx.field(static=True, default=8)

    def init(self, key: jax.Array, model: Array) -> State:
        del key
        return State(model, optim.start(self.cfg, model))

    def params(self, state: State) -> Array:
        return state.theta

    def coefficients(self, pi: Array) -> Array | None:
        """w for this learner's method under `pi` (None for REINFORCE)."""
        return coefficients(self.method, pi, self.env.next_state, self.env.reward_probs, self.last, self.horizon)

    def step(self, key: jax.Array, state: State, batch: None) -> tuple[State, dict]:
        del batch
        pi = policy(state.theta, self.rows, self.eps)
        w = self.coefficients(pi)
        s, a, u, r = jax.vmap(lambda k: self.env.rollout(k, pi))(jax.random.split(key, self.episodes))
        g = jax.vmap(lambda *e: estimate(self.method, state.theta, self.rows, self.eps, w, *e))(s, a, u, r).mean(0)

        def entropy(th):
            p = policy(th, self.rows, self.eps)[s]
            return -jnp.sum(p * jnp.log(p)) / self.episodes

        ascent = g + self.entropy * jax.grad(entropy)(state.theta)
        theta, opt_state = optim.descend(self.cfg, -ascent, state.opt_state, state.theta, state.theta)
        return State(theta, opt_state), {"loss": -r.sum(1).mean()}
