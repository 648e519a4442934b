"""Disentanglement at each level of a structured (slot) representation (Dang-Nhu 2022,
"Evaluating disentanglement of structured representations"), DCI-style.

An importance matrix R >= 0 relates latent dimensions (K slots x d) to factors (K objects
x P properties). A level groups the latent dimensions and the factors and sums R within
the groups; its disentanglement is DCI's (Eastwood & Williams 2018): for each latent group
g, p_g = its row of the aggregated matrix normalised to sum 1, D = sum_g rho_g (1 - H(p_g)
/ log |factor groups|), rho_g the group's share of the total importance.

- object level: latent groups the slots, factor groups the objects;
- property level: within each slot matched to an object, the slot's dimensions against
  that object's properties, summed over the matched pairs;
- flat: every latent dimension against every factor, no grouping (what a non-hierarchical
  metric sees).

Importances come from a probe. The permutation-invariant one (`match_slots`, then
`importance` of the slots in matched order) alternates a
per-scene assignment of objects to slots (the Hungarian method on the squared error of
predicting each object's properties from each slot) with refitting one linear regressor
shared by all slots; then, in each scene's matched slot order, a ridge regression from all
slots to all objects' properties gives R = |standardised coefficients|. `naive_probe` fits
the same regression in the slots' given order (a probe that ignores slot permutation).
"""

import numpy as np

from complab.probes.matching import linear_assignment

RIDGE = 1e-6


def dci_disentanglement(r: np.ndarray) -> float:
    """D of an importance matrix [latent groups, factor groups] (rows weighted by their mass)."""
    r = np.asarray(r, float)
    if r.shape[1] < 2:
        raise ValueError("disentanglement needs at least two factor groups")
    mass = r.sum(1)
    p = r / np.maximum(mass[:, None], 1e-300)
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(1) / np.log(r.shape[1])
    return float(((1 - entropy) * mass).sum() / max(mass.sum(), 1e-300))


def levels(r: np.ndarray, objects: int, dims: int, properties: int) -> dict[str, float]:
    """D at the object level, the property level and flat, from R [K*d, K*P] in matched order."""
    blocks = r.reshape(objects, dims, objects, properties)
    return {"object": dci_disentanglement(blocks.sum((1, 3))),
            "property": dci_disentanglement(np.einsum("kikp->ip", blocks)),
            "flat": dci_disentanglement(r)}


def _ridge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients [features, targets] of a ridge regression on standardised x and y."""
    xs = (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)
    ys = (y - y.mean(0)) / np.maximum(y.std(0), 1e-12)
    return np.linalg.solve(xs.T @ xs + RIDGE * len(x) * np.eye(x.shape[1]), xs.T @ ys)


def _shared_fit(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One affine map [d + 1, P] from a slot to its object's properties, by least squares."""
    x = np.concatenate([z, np.ones(z.shape[:-1] + (1,))], -1).reshape(-1, z.shape[-1] + 1)
    return np.linalg.lstsq(x, y.reshape(-1, y.shape[-1]), rcond=None)[0]


def match_slots(slots: np.ndarray, props: np.ndarray, iterations: int = 20) -> np.ndarray:
    """[N, K]: the slot matched to each object in each scene, alternating Hungarian
    assignment with refitting the shared regressor (started from every object-slot pair
    weighted alike)."""
    n, k, _ = slots.shape
    w = _shared_fit(np.repeat(slots, k, axis=1), np.tile(props, (1, k, 1)))
    assign = np.tile(np.arange(k), (n, 1))
    for it in range(iterations):
        pred = np.concatenate([slots, np.ones((n, k, 1))], -1) @ w  # [N, slots, P]
        cost = ((props[:, :, None] - pred[:, None]) ** 2).sum(-1)  # [N, objects, slots]
        new = np.stack([linear_assignment(c) for c in cost])
        if np.array_equal(new, assign) and it > 0:
            break
        assign = new
        w = _shared_fit(np.take_along_axis(slots, assign[..., None], axis=1), props)
    return assign


def importance(slots: np.ndarray, props: np.ndarray) -> np.ndarray:
    """R [K*d, K*P]: |standardised ridge coefficients| from all slots (in the given order) to all properties."""
    n = slots.shape[0]
    return np.abs(_ridge(slots.reshape(n, -1), props.reshape(n, -1)))


def naive_probe(slots: np.ndarray, props: np.ndarray) -> np.ndarray:
    """R from the slots in their given order: blind to slot permutation."""
    return importance(slots, props)
