"""Linearly solvable MDPs: the solution satisfies the linear Bellman equation and the
Bellman optimality equation it comes from, the basis composes new tasks exactly, NMF is a
non-negative descent, and the level-up dynamics are a proper transition matrix."""

import numpy as np

from complab.tasks.rooms import four_rooms
from complab.theory import lmdp

WORLD = four_rooms()
P_II, P_IB = lmdp.passive(WORLD.neighbours())


def test_passive_dynamics_are_a_walk_with_a_fixed_exit():
    rows = np.concatenate([P_II, P_IB], 1).sum(1)
    assert np.allclose(rows, 1.0) and np.allclose(P_IB.sum(1), 0.05)
    corner = WORLD.cells.index((1, 1))  # two open neighbours: 2 / (2 + 2) to stay
    assert np.isclose(P_II[corner, corner], 0.95 * 0.5)


def test_the_solution_satisfies_the_linear_bellman_equation_and_the_kl_control_optimality():
    lam, rng = 5.0, np.random.default_rng(0)
    q = np.exp(rng.uniform(-1.0, 0.0, len(P_II)) / lam)
    z_b = rng.uniform(0.0, 1.0, P_IB.shape[1])
    z = lmdp.solve(P_II, P_IB, q, z_b)
    assert np.allclose(z, q * (P_II @ z + P_IB @ z_b))
    # Todorov's Bellman equation: v(s) = r(s) + max_a [sum a v - lam KL(a || p)], maximised by a ∝ p z
    v, v_b = lam * np.log(z), lam * np.log(z_b)
    a = lmdp.policy(P_II, P_IB, z, z_b)
    p = np.concatenate([P_II, P_IB], 1)
    nxt = np.concatenate([v, v_b])
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.nansum(np.where(a > 0, a * np.log(a / p), 0.0), 1)
    assert np.allclose(v, lam * np.log(q) + a @ nxt - lam * kl, atol=1e-9)
    other = p * rng.uniform(0.5, 1.5, p.shape)  # any other controlled dynamics does worse
    other /= other.sum(1, keepdims=True)
    kl_other = np.sum(np.where(other > 0, other * np.log(np.where(other > 0, other, 1) / np.where(p > 0, p, 1)), 0), 1)
    assert np.all(other @ nxt - lam * kl_other <= a @ nxt - lam * kl + 1e-12)


def test_the_basis_solves_any_combination_of_its_tasks_exactly():
    z = lmdp.basis(P_II, P_IB, reward=-1.0, lam=5.0)
    w = np.random.default_rng(1).uniform(0, 1, z.shape[1])
    direct = lmdp.solve(P_II, P_IB, np.full(len(P_II), np.exp(-1.0 / 5.0)), w)
    assert np.allclose(z @ w, direct, rtol=1e-12)


def test_nmf_is_non_negative_and_at_least_as_close_as_its_start_and_never_beats_svd():
    z = lmdp.basis(P_II, P_IB, lam=20.0)
    d, w, err, trace = lmdp.nmf(z, 4, np.random.default_rng(0), iters=200, restarts=2, every=10)
    assert (d >= 0).all() and (w >= 0).all() and np.isclose(d.max(0), 1.0).all()
    assert np.isclose(err, np.linalg.norm(z - d @ w) / np.linalg.norm(z))
    errors = [e for _, e in trace]  # Lee & Seung's updates never increase the error
    assert trace[-1] == (200, err) and all(b <= a + 1e-12 for a, b in zip(errors, errors[1:]))
    assert lmdp.svd_error(z, 4) <= err < errors[0]


def test_purity_and_room_mass_read_the_labels():
    room = np.array([0, 0, 1, 1, -1])
    d = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.2, 0.8], [0.5, 0.5]])
    assert lmdp.purity(d, room) == 1.0 and lmdp.purity(d[:, ::-1], room) == 1.0
    assert lmdp.purity(np.array([[1.0, 0], [0, 1], [1, 0], [0, 1], [1, 0]]), room) == 0.5
    assert np.allclose(lmdp.room_mass(d, room, 2), [[1.9 / 2.6, 0.2 / 2.6], [0.1 / 2.4, 1.8 / 2.4]])


def test_the_level_up_dynamics_are_a_transition_matrix_that_follows_the_doorways():
    d = lmdp.nmf(lmdp.basis(P_II, P_IB, lam=20.0), 4, np.random.default_rng(0), iters=500, restarts=1)[0]
    h = lmdp.abstract(P_II, d)
    assert (h >= 0).all() and np.allclose(h.sum(1), 1.0)
    dominant = lmdp.room_mass(d, WORLD.room, 4).argmax(1)
    joined = WORLD.adjacent_rooms()
    link = {(a, b): h[a, b] + h[b, a] for a in range(4) for b in range(a + 1, 4)}
    near = [v for (a, b), v in link.items() if frozenset((dominant[a], dominant[b])) in joined]
    far = [v for (a, b), v in link.items() if frozenset((dominant[a], dominant[b])) not in joined]
    assert len(near) == 4 and len(far) == 2 and min(near) > 5 * max(far)
