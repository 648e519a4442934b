"""Statistics that several experiments read their claims with: rank correlation, the
association of two categorical variables, and the macro-averaged F1 of a classifier."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int


def ranks(x) -> np.ndarray:
    """Ranks 0..n-1 of `x`, ties given the mean of the ranks they span."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, r) / counts)[inverse]


def spearman(a, b) -> float:
    """Spearman's rank correlation over the pairs where both are finite (ties share their
    mean rank); nan when either side is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    ra, rb = ranks(a[keep]), ranks(b[keep])
    if keep.sum() < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def cramers_v(a, b) -> float:
    """Cramér's V of two categorical samples: sqrt(chi^2 / (n (min(r, c) - 1))) of their
    contingency table (0: independent, 1: each determines the other)."""
    _, ia = np.unique(np.asarray(a), return_inverse=True)
    _, ib = np.unique(np.asarray(b), return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    k = min(table.shape) - 1
    return float(np.sqrt(chi2 / (n * k))) if k > 0 else 0.0


def macro_f1(predicted: Int[Array, " n"], true: Int[Array, " n"], classes: int) -> Array:
    """Unweighted mean over the classes present in `true` of each class's F1 =
    2 TP / (2 TP + FP + FN), the WILDS metric (sklearn's f1_score, average="macro",
    labels = the true labels' classes); jittable."""
    hit = jnp.arange(classes)[:, None]
    p, t = predicted[None, :] == hit, true[None, :] == hit
    tp, fp, fn = (p & t).sum(1), (p & ~t).sum(1), (~p & t).sum(1)
    present = t.any(1)
    f1 = jnp.where(present, 2 * tp / jnp.maximum(2 * tp + fp + fn, 1), 0.0)
    return f1.sum() / present.sum()
