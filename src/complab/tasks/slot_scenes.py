"""Synthetic slot representations of multi-object scenes with controlled entanglement
(for the disentanglement metric of Dang-Nhu 2022; specs systematicity-scale.md section 3).

A scene has K objects, each with P properties drawn uniformly in [0, 1] (by default x,
y, colour, shape, size). A representation gives K slots of d = P dimensions: slot k holds
object pi(k)'s properties, pi a fresh random permutation per scene (slot order carries no
meaning, as in object-centric models), through two controlled kinds of entanglement:

- within-slot mixing `theta`: a rotation by theta in each plane of consecutive property
  pairs (0, 1), (2, 3), ... (theta = pi / 4 mixes each pair evenly; a last odd property
  stays alone);
- object mixing `alpha`: z_k <- (1 - alpha) z_k + alpha mean_k' z_k' (every slot takes a
  share of every object).

alpha = theta = 0 is the perfectly structured representation. `noise` adds isotropic
Gaussian noise to the slots (the probe's regressions stay well posed).
"""

from dataclasses import dataclass

import numpy as np

from complab.config import require


@dataclass(frozen=True)
class Config:
    objects: int = 4
    properties: int = 5
    scenes: int = 2000
    noise: float = 0.01

    def __post_init__(self):
        require(self.objects >= 2 and self.properties >= 2 and self.scenes >= 10 and self.noise >= 0,
                f"need objects >= 2, properties >= 2, scenes >= 10 and noise >= 0; got {self}")


def rotation(properties: int, theta: float) -> np.ndarray:
    """[P, P]: rotations by theta in the planes (0, 1), (2, 3), ...; identity at theta = 0."""
    r = np.eye(properties)
    c, s = np.cos(theta), np.sin(theta)
    for i in range(0, properties - 1, 2):
        r[i:i + 2, i:i + 2] = [[c, -s], [s, c]]
    return r


def scenes(cfg: Config, seed: int, alpha: float, theta: float) -> dict[str, np.ndarray]:
    """{"properties": [N, K, P] in object order, "slots": [N, K, d], "order": [N, K] (the object
    each slot holds)}; the same seed gives the same scenes and permutations for any alpha, theta."""
    require(0 <= alpha < 1, f"alpha must be in [0, 1), got {alpha}")
    rng = np.random.default_rng(seed)
    n, k, p = cfg.scenes, cfg.objects, cfg.properties
    props = rng.random((n, k, p))
    order = np.argsort(rng.random((n, k)), axis=1)
    noise = rng.normal(size=(n, k, p))
    z = np.take_along_axis(props, order[..., None], axis=1) @ rotation(p, theta).T
    z = (1 - alpha) * z + alpha * z.mean(axis=1, keepdims=True)
    return {"properties": props, "slots": z + cfg.noise * noise, "order": order}
