"""Matching the hidden units of two networks (Benzing et al. 2022, "Random initialisations
performing above chance and how to find them"; the authors' permutation_utils.py).

`linear_assignment(cost)`: the permutation minimising the total cost, by the Hungarian
method with potentials (shortest augmenting paths, O(n^3); scipy's
linear_sum_assignment solves the same problem, and scipy is not a dependency here).
`match_units(a, b)`: activation matching, not weight matching: each unit's activations
over the same inputs, L2-normalised across the samples, compared by their uncentred
cosine similarity; `perm[i]` is the unit of b that unit i of a is matched with.
"""

import numpy as np


def linear_assignment(cost: np.ndarray) -> np.ndarray:
    """For a square cost matrix [n, n], the column assigned to each row (a permutation)
    minimising the summed cost."""
    cost = np.asarray(cost, dtype=float)
    n = cost.shape[0]
    if cost.shape != (n, n) or not np.isfinite(cost).all():
        raise ValueError(f"linear_assignment needs a finite square cost matrix, got shape {cost.shape}")
    u, v = np.zeros(n + 1), np.zeros(n + 1)  # row and column potentials (index 0: the virtual start)
    row_of = np.zeros(n + 1, dtype=int)  # row_of[j]: the row (1-based) assigned to column j; 0 = free
    for i in range(1, n + 1):
        row_of[0], j0 = i, 0
        slack = np.full(n + 1, np.inf)
        via = np.zeros(n + 1, dtype=int)
        used = np.zeros(n + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = row_of[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < slack[1:])
            slack[1:][better] = reduced[better]
            via[1:][better] = j0
            candidates = np.where(free, slack[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[row_of[used]] += delta
            v[used] -= delta
            slack[1:][free] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:  # augment along the path back to the start
            j1 = via[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    perm = np.zeros(n, dtype=int)
    perm[row_of[1:] - 1] = np.arange(n)
    return perm


def match_units(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a, b [samples, units]: post-activation values of two layers on the same inputs.
    Returns perm with b[:, perm] aligned to a (maximal summed cosine similarity)."""
    def unit(x):
        x = np.asarray(x, dtype=float)
        return x / np.maximum(np.linalg.norm(x, axis=0, keepdims=True), 1e-12)

    return linear_assignment(-(unit(a).T @ unit(b)))
