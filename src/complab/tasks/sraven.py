"""Symbolic Raven progressive matrices, sRAVEN (Schug, Kobayashi, Akram, Sacramento,
Pascanu 2024, "Attention as a hypernetwork"; code smonsays/hypernetwork-attention,
hyla/data/raven.py).

A problem is a `grid` x `grid` matrix of panels (3 x 3), each panel `features` numbers
in 0..values-1 (4 features, 8 values). Each feature follows one rule along every row;
the rules (values V, a row's entries r_1..r_n, n = grid):
- constant: r_j = c (c drawn per row);
- progression +1, +2, -1, -2: r_j = (s + j d) mod V (s drawn per row);
- addition: r_n = (r_1 + ... + r_{n-1}) mod V; subtraction: r_n = (r_1 - r_2 - ... - r_{n-1})
  mod V (the others drawn per row);
- distribute-three: n distinct values, the same for every row, each row a permutation.
A problem's latent is the multiset of the features' rules (ascending rule indices):
C(8 + F - 1, F) of them (330 for 4 features); each problem assigns its multiset to the
features in a random order (the paper's code assigns it in ascending order; without
the feature permutation that would tie each rule to a feature position, so a held-out
multiset could put a rule where training never had it, e.g. distribute-three on
feature 0 only in [7, 7]; with the permutation on, both give the same distribution). A permutation
from `split_seed` holds out `frac_ood` of them ("ood": unseen rule combinations);
"train" and "test" draw from the others (test: fresh problems, the paper's "test").
With `permute_features`, each problem and panel column gets its own permutation of the
features, shared by the rows of that column: finding which features go together is
part of the problem.

Tokens: the first grid^2 - 1 panels row by row, one token per (panel, feature), a
one-hot over the V values; then `features` zero tokens, the queries (36 tokens for the
paper's sizes). Targets: the last panel's features, one-hot at the query tokens;
cross-entropy at the queries; accuracy = every feature of the last panel right.
`Batch.info`: "latent" ([F] rule indices, ascending), "rules" (the rule of feature
slot f in each column, [grid, F]) and "perms" (column c's slot f holds the problem's
feature perms[c, f], [grid, F]).
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
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy

RULES = ("constant", "progression+1", "progression+2", "progression-1", "progression-2", "addition", "subtraction",
         "distribute_three")


@dataclass(frozen=True)
class Config:
    features: int = 4
    values: int = 8
    grid: int = 3
    permute_features: bool = True
    frac_ood: float = 0.25
    split_seed: int = 2024

    def __post_init__(self):
        require(self.features >= 1 and self.grid >= 3 and self.values >= max(5, self.grid),
                f"sRAVEN needs features >= 1, grid >= 3 and values >= max(5, grid) (progressions +-1 and +-2 must "
                f"differ, distribute-three needs grid distinct values); got features={self.features}, "
                f"grid={self.grid}, values={self.values}")
        n = math.comb(len(RULES) + self.features - 1, self.features)
        require(0 < self.frac_ood < 1 and 1 <= int(n * self.frac_ood) < n,
                f"frac_ood={self.frac_ood} of {n} rule combinations must hold out at least one and leave one")

    @property
    def seq_len(self) -> int:
        return self.grid * self.grid * self.features


def rule_combinations(features: int) -> np.ndarray:
    """[count, F]: every multiset of rules, as ascending rule indices."""
    return np.array(list(itertools.combinations_with_replacement(range(len(RULES)), features)), dtype=np.int32)


def latent_splits(cfg: Config) -> dict[str, np.ndarray]:
    combos = rule_combinations(cfg.features)
    perm = np.random.default_rng(cfg.split_seed).permutation(len(combos))
    n_ood = int(len(combos) * cfg.frac_ood)
    ind = combos[np.sort(perm[n_ood:])]
    return {"train": ind, "test": ind, "ood": combos[np.sort(perm[:n_ood])]}



def per_feature_noise(grid: int, values: int) -> int:
    """How many uniform numbers one rule instance reads."""
    return 2 * grid * grid + values


def draws(noise: Float[Array, "... n"], grid: int, values: int) -> tuple[Array, Array, Array]:
    """A rule instance's randomness from its uniform noise: values in 0..values-1 [grid, grid], the
    noise ordering the distinct symbols [values] and the one permuting each row [grid, grid]."""
    lead, g2 = noise.shape[:-1], grid * grid
    u = jnp.floor(noise[..., :g2] * values).astype(jnp.int32).reshape(lead + (grid, grid))
    return u, noise[..., g2:g2 + values], noise[..., g2 + values:].reshape(lead + (grid, grid))


def apply_rule(rule: Int[Array, ""], u: Int[Array, "grid grid"], symbol_noise: Float[Array, " values"],
               perm_noise: Float[Array, "grid grid"]) -> Int[Array, "grid grid"]:
    """One feature's rows under `rule` (an index into RULES) from its draws: every rule is
    computed and the rule's one kept (elementwise work, quick to compile)."""
    grid, values = u.shape[0], symbol_noise.shape[0]
    cols = jnp.arange(grid)[None]
    first, free = u[:, :1], u[:, :-1]  # a per-row constant or start; the free entries of arithmetic
    symbols = jnp.argsort(symbol_noise)[:grid]  # distinct values, shared by the rows
    candidates = jnp.stack([
        jnp.broadcast_to(first, (grid, grid)),
        *[(first + step * cols) % values for step in (1, 2, -1, -2)],
        jnp.concatenate([free, free.sum(1, keepdims=True) % values], 1),
        jnp.concatenate([free, free.at[:, 1:].multiply(-1).sum(1, keepdims=True) % values], 1),
        symbols[jnp.argsort(perm_noise, axis=-1)],  # each row a permutation of them
    ])
    return candidates[rule].astype(jnp.int32)


def rule_instance(key: jax.Array, rule: Int[Array, ""], grid: int, values: int) -> Int[Array, "grid grid"]:
    """One feature's `grid` rows under `rule`."""
    return apply_rule(rule, *draws(jax.random.uniform(key, (per_feature_noise(grid, values),)), grid, values))


class SymbolicRaven(AbstractTask):
    cfg: Config
    latents: dict[str, Int[Array, "count features"]]
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.latents = {k: jnp.asarray(v) for k, v in latent_splits(cfg).items()}
        self.splits = ("train", "test", "ood")

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.values, self.cfg.values

    def problems(self, key: jax.Array, split: str, batch_size: int):
        """(panels [batch, grid*grid, F] values, latent [batch, F], rules and perms per column [batch, grid, F])."""
        c = self.cfg
        pool, per = self.latents[split], per_feature_noise(c.grid, c.values)
        # one uniform draw for the whole batch: a random call costs about a second of compilation
        noise = jax.random.uniform(key, (batch_size, 1 + c.features * per + (c.grid + 1) * c.features))
        latent = pool[jnp.minimum((noise[:, 0] * pool.shape[0]).astype(jnp.int32), pool.shape[0] - 1)]
        feature_noise = noise[:, 1:1 + c.features * per].reshape(batch_size, c.features, per)
        order_noise = noise[:, 1 + c.features * per:].reshape(batch_size, c.grid + 1, c.features)
        assigned = jnp.take_along_axis(latent, jnp.argsort(order_noise[:, 0], -1), axis=-1)  # rule of feature f
        inst = jax.vmap(jax.vmap(apply_rule))(assigned, *draws(feature_noise, c.grid, c.values))
        inst = jnp.moveaxis(inst, 1, 3)  # [batch, rows, cols, F]
        if c.permute_features:  # [batch, cols, F]
            perms = jnp.argsort(order_noise[:, 1:], -1)
        else:
            perms = jnp.broadcast_to(jnp.arange(c.features), (batch_size, c.grid, c.features))
        inst = jnp.take_along_axis(inst, perms[:, None], axis=-1)
        rules = jnp.take_along_axis(jnp.broadcast_to(assigned[:, None], perms.shape), perms, axis=-1)
        return inst.reshape(batch_size, c.grid * c.grid, c.features), latent, rules, perms

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        panels, latent, rules, perms = self.problems(key, split, batch_size)
        shown = jax.nn.one_hot(panels[:, :-1].reshape(batch_size, -1), c.values)
        x = jnp.concatenate([shown, jnp.zeros((batch_size, c.features, c.values))], 1)
        y = jnp.zeros_like(x).at[:, -c.features:].set(jax.nn.one_hot(panels[:, -1], c.values))
        mask = jnp.zeros((batch_size, c.seq_len)).at[:, -c.features:].set(1.0)
        return Batch(x=x, y=y, mask=mask, info={"latent": latent, "rules": rules, "perms": perms})

    def loss(self, pred: Float[Array, "batch time values"], batch: Batch) -> Float[Array, ""]:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Float[Array, "batch time values"], batch: Batch) -> dict[str, Array]:
        return {"loss": self.loss(pred, batch), "accuracy": accuracy(pred, batch, self.cfg.features)}


def accuracy(pred: Float[Array, "batch time values"], batch: Batch, features: int) -> Float[Array, ""]:
    """The fraction of problems whose every query feature is right."""
    right = pred[:, -features:].argmax(-1) == batch.y[:, -features:].argmax(-1)
    return jnp.mean(right.all(-1))
