"""Latent decoding: how linearly a model's internal code carries a task's ground-truth
latent (Schug et al. 2024, "Attention as a hypernetwork": ridge regression from the
attention scores of the last query to the fuzzy-logic terms; Schug et al. ICLR 2024:
from adapted task embeddings to the teacher's module embedding; the bottleneck
model's latent code in Kobayashi et al. 2024).

Ridge regression with an unpenalised intercept (features and targets centred on the
fitting set), penalty `l2` (1.0 in the paper's code, whose ridge appends a constant
column, penalises it with the weights and solves by 10 conjugate-gradient steps; here
the exact solution with a free intercept), fit on one set of codes and scored on
another by the coefficient of determination per target dimension,

    R^2_j = 1 - sum_i (y_ij - y^_ij)^2 / sum_i (y_ij - mean_i y_ij)^2,

averaged over the dimensions that vary in the scoring set (a constant one has no R^2).
Computed in float64 on the host.
"""

import numpy as np


def fit_ridge(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Weights [features, targets] and intercept [targets] minimising |y - x w - b|^2 + l2 |w|^2."""
    x, y = np.asarray(x, np.float64).reshape(len(x), -1), np.asarray(y, np.float64).reshape(len(y), -1)
    mx, my = x.mean(0), y.mean(0)
    xc = x - mx
    w = np.linalg.solve(xc.T @ xc + l2 * np.eye(x.shape[1]), xc.T @ (y - my))
    return w, my - mx @ w


def r_squared(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """R^2 per target dimension (nan where the target does not vary)."""
    y, pred = np.asarray(y, np.float64).reshape(len(y), -1), np.asarray(pred, np.float64).reshape(len(y), -1)
    total = ((y - y.mean(0)) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - ((y - pred) ** 2).sum(0) / total, np.nan)


def decode(x_fit: np.ndarray, y_fit: np.ndarray, x_score: np.ndarray, y_score: np.ndarray,
           l2: float = 1.0) -> float:
    """Mean R^2 of a ridge decoder fit on (x_fit, y_fit) and scored on (x_score, y_score)."""
    w, b = fit_ridge(x_fit, y_fit, l2)
    x_score = np.asarray(x_score, np.float64).reshape(len(x_score), -1)
    scores = r_squared(y_score, x_score @ w + b)
    if np.all(np.isnan(scores)):
        raise ValueError("no target dimension varies in the scoring set: R^2 is undefined")
    return float(np.nanmean(scores))
