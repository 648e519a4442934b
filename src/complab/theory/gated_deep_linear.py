"""The neural race reduction of gated deep linear networks (Saxe, Sodhani, Lewallen 2022,
"The neural race reduction: dynamics of abstraction in gated networks", ICML).

A gated routing network has input modules W1_i, a shared layer W2 and output modules
W3_j; a binary gate trains a set of pathways (i, j), each mapping the items X = I to the
same targets Y with the product W3_j W2 W1_i. The loss is the sum over trained pathways
of the mean squared error over the P items and D outputs. From decoupled, balanced
weights (every pathway's product U diag(b1 b2 b3) V^T with Y X^T = U S V^T, the same
strengths in every module of a layer) each singular mode keeps its own three strengths,
and one full-batch gradient step of rate lr changes them by

    b1 += c n1 b2 b3 (s - b1 b2 b3),  b2 += c n2 b1 b3 (s - b1 b2 b3),  b3 += c n3 b1 b2 (s - b1 b2 b3),

with c = 2 lr / (P D) and n the number of trained pathways through one module of the
layer: n1 = routes per input module, n2 = every trained pathway (the shared layer),
n3 = routes per output module. A layer that more pathways use is driven harder: the
race the shared layer wins. The loss is (pathways / (P D)) sum_modes (s - b1 b2 b3)^2.
`strengths` steps this map once per epoch, which is exact for gradient descent from a
decoupled start, or integrates its gradient flow (`flow=True`, RK4, `substeps` per
epoch), which gradient descent follows up to O(lr): the flow's quantities
b_k^2 / n_k - b_l^2 / n_l are conserved (tested).
"""

import numpy as np


def _rates(b: np.ndarray, s: np.ndarray, drive: np.ndarray) -> np.ndarray:
    """d(b1, b2, b3)/d epoch for modes s; b [modes, 3], drive = c * (n1, n2, n3)."""
    others = np.stack([b[:, 1] * b[:, 2], b[:, 0] * b[:, 2], b[:, 0] * b[:, 1]], -1)
    return drive * others * (s - b.prod(-1))[:, None]


def strengths(s, b0, uses: tuple[int, int, int], lr: float, items: int, outputs: int, epochs: int,
              flow: bool = False, substeps: int = 20) -> np.ndarray:
    """[epochs + 1, modes, 3]: each mode's layer strengths (b1, b2, b3) after each epoch of
    gradient descent at rate `lr` (or of its gradient flow); `b0` a number (every layer and
    mode) or [modes, 3]."""
    s = np.asarray(s, np.float64)
    b = np.broadcast_to(np.asarray(b0, np.float64), (len(s), 3)).copy()
    drive = 2 * lr / (items * outputs) * np.asarray(uses, np.float64)
    h = 1.0 / substeps
    out = [b.copy()]
    for _ in range(epochs):
        if not flow:
            b = b + _rates(b, s, drive)
            out.append(b.copy())
            continue
        for _ in range(substeps):
            k1 = _rates(b, s, drive)
            k2 = _rates(b + h / 2 * k1, s, drive)
            k3 = _rates(b + h / 2 * k2, s, drive)
            k4 = _rates(b + h * k3, s, drive)
            b = b + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(b.copy())
    return np.array(out)


def loss(b: np.ndarray, s, pathways: int, items: int, outputs: int) -> np.ndarray:
    """The summed pathway loss for strengths b [..., modes, 3]."""
    return pathways / (items * outputs) * ((np.asarray(s) - b.prod(-1)) ** 2).sum(-1)


def half_time(curve: np.ndarray) -> float:
    """The first index (epoch) at which a decreasing curve falls to half its start (by linear
    interpolation; nan if it never does)."""
    curve = np.asarray(curve, np.float64)
    below = np.flatnonzero(curve <= curve[0] / 2)
    if not len(below):
        return float("nan")
    k = below[0]
    if k == 0:
        return 0.0
    a, b = curve[k - 1], curve[k]
    return float(k - 1 + (a - curve[0] / 2) / (a - b))
