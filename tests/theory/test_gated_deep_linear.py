"""The neural race reduction against a simulated gated routing network, and its flow's
conserved quantities."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.models import gated_linear as gl
from complab.theory import gated_deep_linear as theory

Y = np.array([[6.0] * 4, [4, 4, 0, 0], [0, 0, 4, 4], *(3 * np.eye(4))])


def _simulate(modules, routes, lr, epochs, b0=0.3):
    u, s, vt = np.linalg.svd(Y)
    model = gl.decoupled(jax.random.PRNGKey(1), modules, u, vt.T, 8, b0)
    gate, x, y = jnp.asarray(gl.gate(modules, routes)), jnp.eye(4), jnp.asarray(Y, jnp.float32)

    def loss(m):
        return jnp.sum(gate * jnp.mean((y[None, None] - m(x)) ** 2, axis=(-2, -1)))

    @jax.jit
    def step(m):
        value, grad = eqx.filter_value_and_grad(loss)(m)
        return jax.tree.map(lambda a, g: a - lr * g, m, grad), value

    out = []
    for _ in range(epochs + 1):
        model, value = step(model)
        out.append(float(value))
    return np.array(out), s, int(gate.sum())


@pytest.mark.parametrize("modules, routes", [(3, 2), (5, 1), (4, 3)])
def test_the_reduction_is_the_network_from_a_decoupled_start(modules, routes):
    lr, epochs = 0.02, 300
    sim, s, pathways = _simulate(modules, routes, lr, epochs)
    b = theory.strengths(s, 0.3, (routes, pathways, routes), lr, 4, 7, epochs)
    pred = theory.loss(b, s, pathways, 4, 7)
    assert sim[-1] < 0.5 * sim[0]  # it learned: the comparison is not of two flat curves
    assert np.max(np.abs(sim - pred)) / sim[0] < 1e-5
    # a layer driven as if fewer pathways shared it is a different (slower) prediction
    slow = theory.loss(theory.strengths(s, 0.3, (routes, routes, routes), lr, 4, 7, epochs), s, pathways, 4, 7)
    assert np.max(np.abs(sim - slow)) / sim[0] > 0.05 or pathways == routes


def test_the_flow_conserves_the_layer_balances_and_gradient_descent_follows_it_for_small_steps():
    s = np.array([13.6, 6.4, 3.0])
    uses = (4, 28, 4)
    b = theory.strengths(s, np.array([[0.1, 0.2, 0.15]] * 3), uses, 0.02, 4, 7, 300, flow=True)
    for k, m in ((0, 1), (1, 2), (0, 2)):
        balance = b[..., k] ** 2 / uses[k] - b[..., m] ** 2 / uses[m]
        assert np.max(np.abs(balance - balance[0])) < 1e-8
    loss = theory.loss(b, s, 28, 4, 7)
    assert loss[-1] < 1e-3 * loss[0]
    lr = 0.002
    halves = [theory.half_time(theory.loss(theory.strengths(s, 0.08, uses, lr, 4, 7, 2000, flow=f, substeps=4), s,
                                           28, 4, 7)) for f in (False, True)]
    assert halves[0] == pytest.approx(halves[1], rel=0.01)  # O(lr): the same half-time at a small step


def test_the_gate_gives_every_module_its_routes_and_leaves_pathways_untrained():
    g = gl.gate(7, 4)
    assert (g.sum(0) == 4).all() and (g.sum(1) == 4).all() and g.sum() == 28
    assert (np.diag(g) == 1).all() and gl.gate(1, 1).tolist() == [[1.0]]


def test_a_decoupled_start_puts_every_pathway_on_the_targets_singular_vectors():
    u, s, vt = np.linalg.svd(Y)
    model = gl.decoupled(jax.random.PRNGKey(0), 5, u, vt.T, 16, 0.2)
    out = np.asarray(model(jnp.eye(4)))
    want = 0.2**3 * u[:, :4] @ vt
    assert np.abs(out - want).max() < 1e-5
    for w in (model.w_hidden, model.w_in[0], model.w_out[0]):  # balanced: every singular value b0
        assert np.allclose(np.linalg.svd(np.asarray(w), compute_uv=False), 0.2, atol=1e-5)
