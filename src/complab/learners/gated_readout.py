"""Noisy gradient descent on a gated linear readout with L1-regularised gates (Löwe et al.,
PLoS Comp Biol 2024): y = sum_i g_i w_i x_i, loss 1/2 E[(r - y)^2] + lam sum_i |g_i|.

Each step follows the expected gradient (the task's moments, tasks/insight.py) plus
Gaussian noise N(0, sigma^2) on every parameter's gradient, theta <- theta - lr (grad + xi);
the L1 term is applied by its proximal step (soft thresholding by lr lam), so a gate whose
drive stays below lam sits at exactly zero and only the noise moves it. With `gated` False
the readout is y = w . x with the L1 penalty on the weights themselves (the no-gate
ablation). Many networks run side by side; NumPy, float64.
"""

import numpy as np

from complab.tasks import insight


def _shrink(v: np.ndarray, amount: float) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - amount, 0.0)


def simulate(task: insight.Config, lam: float, sigma: float, lr: float, nets: int, rng: np.random.Generator,
             gated: bool = True, init_w: float = 0.05, init_g: float = 0.5, jitter: float = 0.2
             ) -> tuple[np.ndarray, np.ndarray]:
    """Weights and gates after every trial: two arrays (trials, 2, nets), index 0 motion and
    1 colour. Each network starts at init_w and init_g times (1 + jitter N(0, 1)), so
    networks differ even without gradient noise. Without gates the gates are ones and the
    weights start at the gated network's starting readout g w."""
    w = init_w * (1 + jitter * rng.normal(size=(2, nets)))
    g = init_g * (1 + jitter * rng.normal(size=(2, nets)))
    w, g = (w * g, np.ones_like(g)) if not gated else (w, g)
    ws, gs = np.empty((task.trials, 2, nets)), np.empty((task.trials, 2, nets))
    phases = [insight.moments(task, False), insight.moments(task, True)]
    for t in range(task.trials):
        second, first = phases[int(t >= task.onset)]
        drive = second @ (g * w) - first[:, None]  # the expected loss's gradient in the readout g w
        if gated:
            noise_w, noise_g = rng.normal(0.0, sigma, (2, 2, nets)) if sigma else (0.0, 0.0)
            w, g = w - lr * (drive * g + noise_w), _shrink(g - lr * (drive * w + noise_g), lr * lam)
        else:
            w = _shrink(w - lr * (drive + (rng.normal(0.0, sigma, w.shape) if sigma else 0.0)), lr * lam)
        ws[t], gs[t] = w, g
    return ws, gs
