"""Fuzzy-logic functions in context (Schug, Kobayashi, Akram, Sacramento, Pascanu 2024,
"Attention as a hypernetwork"; code smonsays/hypernetwork-attention, hyla/data/logic.py).

Over `variables` = n inputs x in [0, 1]^n there are 2^n conjunctions, one per sign
pattern s in {0, 1}^n (in `itertools.product` order: conjunction i's pattern is the
binary digits of i, most significant first). A literal is x_j where s_j = 1 and 1 - x_j
where s_j = 0; AND is min (Zadeh). A task is the OR (max) of `terms` distinct
conjunctions:

    f(x) = max_t min_j (s_tj x_j + (1 - s_tj)(1 - x_j)).

Combinations and their splits, all fixed by the task's own `split_seed`:
- the last floor(frac_ood * 2^n) conjunctions by index are out-of-distribution (OOD);
- in-distribution combinations are the sorted `terms`-subsets of the others; a
  permutation drawn from `split_seed` puts floor(frac_test * count) of them in "test",
  the rest in "train" (held-out combinations of seen conjunctions);
- "ood": the `terms`-subsets of the OOD conjunctions (unseen conjunctions).
E.g. 4 variables, 2 terms, frac_test 0.5: 16 conjunctions, 4 OOD, 66 in-distribution
pairs split 33 / 33, 6 OOD pairs.

A sequence draws one combination uniformly from its split and `seq_len` inputs
x_i ~ U[0, 1]^n; tokens are concat(x_i, f(x_i)), the last token's f zeroed (the query).
Targets are f at every position; only the query carries the loss, the squared error
(not halved, as in the paper's code). R^2 is the paper's: per sequence
1 - squared error / (variance of that sequence's `seq_len` targets), averaged.
`Batch.info` carries the ground truth: "terms" (conjunction indices, ascending) and
"latent" (their sign patterns, [terms, n]).
"""

import itertools
import math
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.tasks.base import AbstractTask, Batch, masked_mean

MAX_COMBINATIONS = 2_000_000


@dataclass(frozen=True)
class Config:
    variables: int = 4
    terms: int = 2
    seq_len: int = 32
    frac_test: float = 0.5  # of in-distribution combinations, held out
    frac_ood: float = 0.25  # of conjunctions (the last ones by index), never seen in training
    split_seed: int = 2024

    def __post_init__(self):
        require(1 <= self.variables <= 12 and self.terms >= 1 and self.seq_len >= 2,
                f"fuzzy logic needs 1 <= variables <= 12, terms >= 1 and seq_len >= 2 (context and query); got "
                f"variables={self.variables}, terms={self.terms}, seq_len={self.seq_len}")
        require(0 < self.frac_test < 1 and 0 <= self.frac_ood < 1,
                f"fuzzy logic needs 0 < frac_test < 1 and 0 <= frac_ood < 1; got frac_test={self.frac_test}, "
                f"frac_ood={self.frac_ood}")
        n_conj = 2**self.variables
        n_ood = int(n_conj * self.frac_ood)
        n_ind = math.comb(n_conj - n_ood, self.terms)
        require(n_ind + math.comb(n_ood, self.terms) <= MAX_COMBINATIONS,
                f"{self.variables} variables and {self.terms} terms make {n_ind} combinations, more than the "
                f"{MAX_COMBINATIONS} this task enumerates")
        n_test = int(n_ind * self.frac_test)
        require(n_test >= 1 and n_ind - n_test >= 1,
                f"{self.variables} variables, {self.terms} terms and frac_ood={self.frac_ood} leave {n_ind} "
                f"in-distribution combinations; frac_test={self.frac_test} would hold out {n_test}: train and test "
                "must both be non-empty")
        require(self.frac_ood == 0 or n_ood >= self.terms,
                f"frac_ood={self.frac_ood} makes {n_ood} OOD conjunctions of {n_conj}, fewer than terms={self.terms}: "
                "the OOD split would be empty (use frac_ood=0 for no OOD split)")

    @property
    def conjunctions(self) -> int:
        return 2**self.variables

    @property
    def ood_conjunctions(self) -> int:
        return int(self.conjunctions * self.frac_ood)


def sign_patterns(variables: int) -> np.ndarray:
    """[2^n, n] 0/1: conjunction i's sign pattern (itertools.product order)."""
    return np.array(list(itertools.product([0, 1], repeat=variables)), dtype=np.int32).reshape(-1, variables)


def combination_splits(cfg: Config) -> dict[str, np.ndarray]:
    """Each split's combinations as [count, terms] conjunction indices (ascending in a row)."""
    n_in = cfg.conjunctions - cfg.ood_conjunctions
    ind = np.array(list(itertools.combinations(range(n_in), cfg.terms)), dtype=np.int32)
    ind = ind[np.random.default_rng(cfg.split_seed).permutation(len(ind))]
    n_test = int(len(ind) * cfg.frac_test)
    out = {"train": ind[n_test:], "test": ind[:n_test]}
    if cfg.frac_ood > 0:
        out["ood"] = np.array(list(itertools.combinations(range(n_in, cfg.conjunctions), cfg.terms)),
                              dtype=np.int32).reshape(-1, cfg.terms)
    return out


def evaluate(latent: Int[Array, "... terms n"], x: Float[Array, "... n"]) -> Float[Array, "..."]:
    """The OR of Zadeh ANDs: max over terms of min over literals."""
    literals = jnp.where(latent.astype(bool), x[..., None, :], 1.0 - x[..., None, :])
    return literals.min(-1).max(-1)


class FuzzyLogic(AbstractTask):
    cfg: Config
    patterns: Int[Array, "conjunctions n"]
    combinations: dict[str, Int[Array, "count terms"]]
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.patterns = jnp.asarray(sign_patterns(cfg.variables))
        combos = combination_splits(cfg)
        self.combinations = {k: jnp.asarray(v) for k, v in combos.items()}
        self.splits = tuple(combos)

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.variables + 1, 1

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        combos = self.combinations[split]
        k_task, k_x = jax.random.split(key)
        terms = combos[jax.random.randint(k_task, (batch_size,), 0, combos.shape[0])]
        latent = self.patterns[terms]  # [batch, terms, n]
        x = jax.random.uniform(k_x, (batch_size, self.cfg.seq_len, self.cfg.variables))
        y = evaluate(latent[:, None], x)[..., None]
        tokens = jnp.concatenate([x, y], -1).at[:, -1, -1].set(0.0)
        mask = jnp.zeros((batch_size, self.cfg.seq_len)).at[:, -1].set(1.0)
        return Batch(x=tokens, y=y, mask=mask, info={"terms": terms, "latent": latent})

    def loss(self, pred: Float[Array, "batch time 1"], batch: Batch) -> Float[Array, ""]:
        return masked_mean(((pred - batch.y) ** 2).sum(-1), batch.mask)

    def metrics(self, pred: Float[Array, "batch time 1"], batch: Batch) -> dict[str, Array]:
        return {"loss": self.loss(pred, batch), "r2": r_squared(pred, batch)}


def r_squared(pred: Float[Array, "batch time 1"], batch: Batch) -> Float[Array, ""]:
    """The paper's R^2: per sequence 1 - (query error)^2 / var(sequence targets), averaged."""
    y = batch.y[..., 0]
    error = (((pred[..., 0] - y) ** 2) * batch.mask).sum(-1) / batch.mask.sum(-1)
    return jnp.mean(1.0 - error / jnp.var(y, axis=-1))
