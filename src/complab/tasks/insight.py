"""The perceptual task with a hidden shortcut of Löwe, Touzo, Muhle-Karbe, Saxe, Summerfield,
Schuck (PLoS Comp Biol 2024): decide a response r = +-1 from noisy motion evidence; from a
trial on, the dots' colour predicts r perfectly.

Inputs, signed so that the correct response is r:
- motion x_m = r gain c + N(0, 1) at a coherence c drawn uniformly from `coherences` (the
  task's five levels; `gain` turns coherence into evidence: with gain 10 the easiest level
  gives a d' of 2.4 and the hardest 0.1, near chance, as in the human task);
- colour x_c = +-1 at random before `onset`, x_c = r from `onset` on.

The learner sees the task through its moments (the expected loss of a linear readout
depends on nothing else), so each trial is one step on the expected gradient and the only
randomness is the learner's own (see learners/gated_readout.py). Responses are read out with
decision noise N(0, decision_noise^2) on y = beta . x, so the accuracy at coherence c is
Phi((beta_m gain c + beta_c [colour predictive]) / sqrt(beta_m^2 + decision_noise^2)) after
the onset, and averages over the colour's two values before it.
"""

from dataclasses import dataclass

from math import erf, sqrt

import numpy as np

from complab.config import require


@dataclass(frozen=True)
class Config:
    coherences: tuple[float, ...] = (0.01, 0.03, 0.06, 0.12, 0.24)
    gain: float = 10.0
    trials: int = 2400
    onset: int = 400
    decision_noise: float = 0.5

    def __post_init__(self):
        require(self.coherences and all(c >= 0 for c in self.coherences) and self.gain > 0,
                f"coherences must be >= 0 and gain > 0; got {self.coherences}, {self.gain}")
        require(0 < self.onset < self.trials and self.decision_noise > 0,
                f"the colour onset must fall inside the trials (0 < onset < trials) and decision_noise > 0; got "
                f"onset={self.onset}, trials={self.trials}, decision_noise={self.decision_noise}")


def moments(cfg: Config, predictive: bool) -> tuple[np.ndarray, np.ndarray]:
    """E[x x^T] and E[x r] for x = (motion, colour), before (False) or after (True) the onset."""
    c = np.asarray(cfg.coherences)
    mean, power, agree = cfg.gain * c.mean(), 1.0 + cfg.gain**2 * (c**2).mean(), float(predictive)
    return np.array([[power, mean * agree], [mean * agree, 1.0]]), np.array([mean, agree])


def accuracy(cfg: Config, beta_m: np.ndarray, beta_c: np.ndarray, coherence: float, predictive: bool) -> np.ndarray:
    """The probability of the correct response at one coherence, for readout weights beta."""
    spread = np.sqrt(beta_m**2 + cfg.decision_noise**2)
    signal = beta_m * cfg.gain * coherence

    def phi(x):
        return 0.5 * (1.0 + np.vectorize(erf)(np.asarray(x, np.float64) / sqrt(2.0)))

    if predictive:
        return phi((signal + beta_c) / spread)
    return 0.5 * (phi((signal + beta_c) / spread) + phi((signal - beta_c) / spread))
