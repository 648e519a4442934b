"""Linearly solvable MDPs (Todorov 2006), their multitask form (Saxe, Earle, Rosman 2017) and
subtask discovery by non-negative factorisation (Earle, Saxe, Rosman 2018, arXiv 1708.00463).

An LMDP has interior states I and absorbing boundary states B, passive dynamics P(s'|s)
and state rewards r. With desirability z = exp(V / lambda) and q = exp(r / lambda) the
Bellman equation is linear on the interior:

    z_I = M (P_II z_I + P_IB z_B),   M = diag(q_I),   so   z_I = (I - M P_II)^{-1} M P_IB z_B,

and the optimal policy is a(s'|s) ∝ P(s'|s) z(s'). Rows of P index the current state.
The multitask LMDP solves one basis task per boundary state (that state desirable, q = 1;
the others forbidden, z = 0): the basis Z has one column per task, and any task whose
boundary desirability is a combination z_B = Q_B w is solved exactly by z_I = Z w.

Subtasks are a low-rank non-negative factorisation Z ≈ D W (D, W >= 0): the columns of D
are desirability patterns over states that the tasks are built from. Here the factorisation
is the Frobenius-norm one by Lee & Seung's multiplicative updates, best of several starts.
Everything is float64 NumPy: the matrices are small and the solves exact.
"""

import numpy as np


def passive(neighbours: list[list[int]], self_weight: float = 2.0, exit_prob: float = 0.05
            ) -> tuple[np.ndarray, np.ndarray]:
    """The random walk on a grid (weight `self_weight` to stay, 1 to each open neighbour),
    each cell leaving to its own boundary state with probability `exit_prob`: (P_II, P_IB)."""
    n = len(neighbours)
    walk = np.eye(n) * self_weight
    for s, nb in enumerate(neighbours):
        walk[s, nb] += 1.0
    walk /= walk.sum(1, keepdims=True)
    return (1 - exit_prob) * walk, exit_prob * np.eye(n)


def solve(p_ii: np.ndarray, p_ib: np.ndarray, q_i: np.ndarray, z_b: np.ndarray) -> np.ndarray:
    """The interior desirability for boundary desirabilities z_b (a vector, or one task per column)."""
    m = q_i[:, None] * np.eye(len(q_i))
    return np.linalg.solve(np.eye(len(q_i)) - m @ p_ii, m @ p_ib @ z_b)


def basis(p_ii: np.ndarray, p_ib: np.ndarray, reward: float = -1.0, lam: float = 1.0) -> np.ndarray:
    """The multitask basis Z (interior states x boundary tasks): task j makes boundary state
    j desirable and the others forbidden; every interior state has reward `reward`."""
    q_i = np.full(len(p_ii), np.exp(reward / lam))
    return solve(p_ii, p_ib, q_i, np.eye(p_ib.shape[1]))


def policy(p_ii: np.ndarray, p_ib: np.ndarray, z_i: np.ndarray, z_b: np.ndarray) -> np.ndarray:
    """The optimal controlled dynamics a(s'|s) ∝ P(s'|s) z(s') over [interior, boundary] states."""
    a = np.concatenate([p_ii, p_ib], 1) * np.concatenate([z_i, z_b])[None, :]
    return a / a.sum(1, keepdims=True)


def nmf(z: np.ndarray, k: int, rng: np.random.Generator, iters: int = 3000, restarts: int = 4, every: int = 0
        ) -> tuple[np.ndarray, np.ndarray, float, list[tuple[int, float]]]:
    """Z ≈ D W with D, W >= 0, minimising ||Z - D W||_F by multiplicative updates; the best of
    `restarts` random starts. Returns (D, W, ||Z - D W||_F / ||Z||_F, trace) with D's columns
    scaled to unit maximum (the scale moves into W); with `every` > 0 the trace holds the
    kept start's (iteration, relative error) every `every` iterations."""
    best, tiny, scale, norm = None, 1e-12, np.sqrt(z.mean() / k), np.linalg.norm(z)
    for _ in range(restarts):
        d = rng.uniform(0.1, 1.0, (z.shape[0], k)) * scale
        w = rng.uniform(0.1, 1.0, (k, z.shape[1])) * scale
        trace = []
        for i in range(iters):
            if every and i % every == 0:
                trace.append((i, float(np.linalg.norm(z - d @ w) / norm)))
            w *= (d.T @ z) / (d.T @ d @ w + tiny)
            d *= (z @ w.T) / (d @ (w @ w.T) + tiny)
        err = float(np.linalg.norm(z - d @ w) / norm)
        if best is None or err < best[2]:
            best = (d, w, err, trace + ([(iters, err)] if every else []))
    d, w, err, trace = best
    peak = d.max(0) + tiny
    return d / peak, w * peak[:, None], err, trace


def svd_error(z: np.ndarray, k: int) -> float:
    """The relative Frobenius error of the best rank-k approximation (no sign constraint)."""
    s = np.linalg.svd(z, compute_uv=False)
    return float(np.sqrt((s[k:] ** 2).sum() / (s ** 2).sum()))


def room_mass(d: np.ndarray, room: np.ndarray, rooms: int) -> np.ndarray:
    """Each factor's share of its mass in each room (factors x rooms); doorway cells
    (room -1) count toward the total only."""
    mass = np.stack([d[room == r].sum(0) for r in range(rooms)], 1)
    return mass / d.sum(0)[:, None]


def purity(d: np.ndarray, room: np.ndarray) -> float:
    """Cluster purity of the cells (doorways left out) when each cell joins its largest
    factor: the fraction of cells in their cluster's most common room."""
    cells = room >= 0
    cluster, label = d[cells].argmax(1), room[cells]
    return float(sum(np.bincount(label[cluster == c]).max() for c in np.unique(cluster)) / cells.sum())


def abstract(p_ii: np.ndarray, d: np.ndarray, exit_prob: float = 0.05) -> np.ndarray:
    """The passive dynamics one level up, among the k subtask states: from subtask t the
    walk enters the interior where D's column t places it, and then moves by the interior
    walk, leaving into subtask t' from state s with probability exit_prob D[s, t'] / max D.
    Returns H (k x k, rows sum to 1): where it leaves next."""
    walk = p_ii / p_ii.sum(1, keepdims=True)
    leave = exit_prob * d / d.max()
    stay = 1.0 - leave.sum(1)
    absorb = np.linalg.solve(np.eye(len(walk)) - stay[:, None] * walk, leave)
    start = d / d.sum(0)
    return start.T @ absorb
