"""Exact learning dynamics of a two-layer linear network (Saxe, McClelland, Ganguli 2014,
2019, "A mathematical theory of semantic development in deep neural networks").

A network y^ = W2 W1 x trained by gradient flow, tau dW1/dt = W2^T (S31 - W2 W1 S11),
tau dW2/dt = (S31 - W2 W1 S11) W1^T, on whitened inputs (S11 = E[x x^T] = I) with the
input-output correlation S31 = E[y x^T] = U S V^T. From decoupled, balanced initial
weights W1 = R sqrt(A0) V^T, W2 = U sqrt(A0) R^T (R orthogonal), the product stays
W2 W1 = U A(t) V^T and each mode's strength follows

    a(t) = s e^{2 s t / tau} / (e^{2 s t / tau} - 1 + s / a0),

a sigmoid from a0 to s whose half-time (a = s / 2) is t_half = tau / (2 s) ln(s / a0 - 1):
stronger modes are learned first.
"""

import numpy as np


def mode_strength(t: np.ndarray, s: float, a0: float, tau: float = 1.0) -> np.ndarray:
    """a(t) of a mode of singular value s from strength a0 (0 < a0 < s)."""
    e = np.exp(2 * s * np.asarray(t, np.float64) / tau)
    return s * e / (e - 1 + s / a0)


def half_time(s: float, a0: float, tau: float = 1.0) -> float:
    """The time a mode takes from a0 to s / 2."""
    return tau / (2 * s) * np.log(s / a0 - 1)


def hierarchy(levels: int) -> np.ndarray:
    """Features [nodes, items] of a balanced binary tree over 2^(levels - 1) items: an item has
    the feature of every node on its path from the root (the root, then one node per level)."""
    items = 2 ** (levels - 1)
    rows = []
    for depth in range(levels):
        width = items // 2**depth
        for node in range(2**depth):
            row = np.zeros(items)
            row[node * width:(node + 1) * width] = 1.0
            rows.append(row)
    return np.array(rows)
