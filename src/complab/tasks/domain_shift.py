"""Synthetic domain shift with domain-label correlation: the cpu stand-in for the WILDS
data sets of Irie, Schlag, Csordás, Schmidhuber 2021 ("Improving baselines in the
wild", specs section 10), where each camera location (iWildCam) sees its own
background and its own few species.

`domains` domains, `classes` long-tailed classes. Domain d has a background
b_d ~ N(0, offset^2 I) added to every input it produces, a label prior
pi_d ∝ z * g_d with g_d ~ Dirichlet(alpha) and global frequencies z_c ∝ (c + 1)^-tail,
and a log-normal number of samples (mean `per_domain`, log-std `count_spread`). A
sample of class c in domain d is x = mu_c + b_d + noise * eps, class means
mu_c ~ N(0, separation^2 I) fixed per data set: the class is only partly readable
from x, so a model gains from the domain's prior, which it can read off b_d in the
domains it was trained on and not in new ones.

Splits (WILDS' layout): the domains are shuffled; the first `train_domains` give
"train", with `id_fraction` of their samples held out as "id_val" and "id_test" (half
each); the next `val_domains` are "ood_val"; the rest "ood_test". Every split has its
own samples; the OOD splits share no domain with training or with each other. The data
set is a function of `split_seed` alone (NumPy streams [split_seed, purpose]), so
seeds of a run vary the model, not the benchmark. `x` is [batch, 1, dim], `y` one-hot
[batch, 1, classes]; `info` has each sample's domain. With view="background" the input
is the sample's background alone (what a domain-only classifier sees).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.probes.statistics import macro_f1
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy

SPLITS = ("train", "id_val", "id_test", "ood_val", "ood_test")
EVAL_SPLITS = SPLITS[1:]
MEANS_STREAM, DOMAINS_STREAM, SAMPLES_STREAM, PRIORS_STREAM = 0, 1, 2, 3


@dataclass(frozen=True)
class Config:
    domains: int = 40
    train_domains: int = 30
    val_domains: int = 5  # OOD validation; the remaining domains are the OOD test
    classes: int = 20
    dim: int = 32
    per_domain: int = 400  # mean samples per domain
    count_spread: float = 0.75  # log-std of the samples per domain
    alpha: float = 0.3  # Dirichlet concentration of each domain's label prior
    tail: float = 1.0  # global class frequencies ∝ (c + 1)^-tail
    separation: float = 0.5  # std of the class means
    offset: float = 1.0  # std of the domain backgrounds
    noise: float = 1.0
    id_fraction: float = 0.2
    split_seed: int = 0

    def __post_init__(self):
        require(1 <= self.train_domains and 1 <= self.val_domains
                and self.train_domains + self.val_domains < self.domains,
                f"domains must leave at least one for each of train, OOD validation and OOD test; got "
                f"domains={self.domains}, train_domains={self.train_domains}, val_domains={self.val_domains}")
        require(self.classes >= 2 and self.dim >= 1 and self.per_domain >= 10,
                f"need classes >= 2, dim >= 1 and per_domain >= 10; got {self.classes}, {self.dim}, {self.per_domain}")
        require(0 < self.id_fraction < 1 and self.alpha > 0 and min(self.separation, self.offset, self.noise) >= 0,
                f"need 0 < id_fraction < 1, alpha > 0 and non-negative scales; got {self}")


def priors(cfg: Config) -> np.ndarray:
    """[domains, classes] label priors pi_d ∝ z * Dirichlet(alpha)."""
    r = np.random.default_rng([cfg.split_seed, PRIORS_STREAM])
    z = (np.arange(cfg.classes) + 1.0) ** -cfg.tail
    p = z * r.dirichlet(np.full(cfg.classes, cfg.alpha), cfg.domains)
    return p / p.sum(1, keepdims=True)


def build(cfg: Config) -> dict[str, dict[str, np.ndarray]]:
    """{split: {"x", "y", "domain", "background"}}, deterministic in `split_seed`."""
    means = np.random.default_rng([cfg.split_seed, MEANS_STREAM]).normal(0, cfg.separation, (cfg.classes, cfg.dim))
    r = np.random.default_rng([cfg.split_seed, DOMAINS_STREAM])
    backgrounds = r.normal(0, cfg.offset, (cfg.domains, cfg.dim))
    sigma = cfg.count_spread
    counts = np.maximum(10, np.round(cfg.per_domain * r.lognormal(-sigma**2 / 2, sigma, cfg.domains))).astype(int)
    order = r.permutation(cfg.domains)
    pi = priors(cfg)
    s = np.random.default_rng([cfg.split_seed, SAMPLES_STREAM])
    domain = np.repeat(np.arange(cfg.domains), counts)
    y = np.concatenate([s.choice(cfg.classes, n, p=pi[d]) for d, n in enumerate(counts)])
    x = means[y] + backgrounds[domain] + cfg.noise * s.normal(size=(len(y), cfg.dim))
    role = np.empty(cfg.domains, dtype=object)
    t, v = cfg.train_domains, cfg.train_domains + cfg.val_domains
    role[order[:t]], role[order[t:v]], role[order[v:]] = "train", "ood_val", "ood_test"
    split = role[domain].astype(object)
    held = np.flatnonzero(split == "train")
    held = s.permutation(held)[: int(round(cfg.id_fraction * len(held)))]
    split[held[: len(held) // 2]], split[held[len(held) // 2:]] = "id_val", "id_test"
    return {name: {"x": x[split == name].astype(np.float32), "y": y[split == name].astype(np.int32),
                   "domain": domain[split == name].astype(np.int32),
                   "background": backgrounds[domain[split == name]].astype(np.float32)} for name in SPLITS}


class DomainShift(AbstractTask):
    cfg: Config = eqx.field(static=True)
    data: dict[str, dict[str, Array]]
    view: str = eqx.field(static=True)
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config, view: str = "input"):
        require(view in ("input", "background"), f"a view is input or background, got {view!r}")
        self.cfg, self.splits, self.view = cfg, SPLITS, view
        self.data = {k: {f: jnp.asarray(a) for f, a in v.items()} for k, v in build(cfg).items()}

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.dim, self.cfg.classes

    def size(self, split: str) -> int:
        return int(self.data[split]["y"].shape[0])

    def batch(self, split: str, index: Int[Array, " batch"]) -> Batch:
        d = self.data[split]
        x = d["x" if self.view == "input" else "background"][index][:, None]
        return Batch(x=x, y=jax.nn.one_hot(d["y"][index], self.cfg.classes)[:, None],
                     mask=jnp.ones((index.shape[0], 1)), info={"domain": d["domain"][index]})

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        """Samples of `split` drawn uniformly with replacement."""
        return self.batch(split, jax.random.randint(key, (batch_size,), 0, self.size(split)))

    def whole(self, split: str) -> Batch:
        return self.batch(split, jnp.arange(self.size(split)))

    def loss(self, pred: Float[Array, "batch 1 classes"], batch: Batch) -> Float[Array, ""]:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Float[Array, "batch 1 classes"], batch: Batch) -> dict[str, Array]:
        """Accuracy and WILDS' macro-F1 (over the classes present in the batch)."""
        guess, true = pred[:, 0].argmax(-1), batch.y[:, 0].argmax(-1)
        return {"loss": self.loss(pred, batch), "accuracy": (guess == true).mean(),
                "f1": macro_f1(guess, true, self.cfg.classes)}
