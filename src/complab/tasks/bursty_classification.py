"""Few-shot classification sequences over synthetic class exemplars, with the
evaluators of Chan et al. 2022 / Singh et al. 2023 (icl-dynamics `samplers.py`).

Classes and exemplars: K class centroids mu_k ~ N(0, I/D) and, per class, E fixed
exemplars x_kj = (mu_k + eps eta_kj) / sqrt(1 + eps^2), eta_kj ~ N(0, I/D) (Reddy
2023's items; they stand in for the Omniglot ResNet features, which cannot ship).
Each centroid and exemplar is drawn from its own fold of the task's key, so nothing
of size K x E is stored and the same exemplar is the same vector in every batch.
Labels are the class index. Training classes are drawn uniformly or Zipf-distributed,
p(k) ~ (k + 1)^-alpha, evaluation classes uniformly (as the authors' evaluators do).
The query's class and the distractor's are distinct, drawn one after another without
replacement (the top of log p + Gumbel noise), as the authors' masked sampler does;
the rest of a training context is drawn independently from p (repeats allowed, the
query's class included, as theirs with `unique_rest` off).

A sequence is `context` (exemplar, label) pairs then the query exemplar, as tokens
of width D + K: exemplar tokens (x, 0), label tokens (0, one-hot label), query (x_q, 0);
the target is one-hot at the query and the loss (cross-entropy) reads it alone.

Splits (all over the training classes, as the paper evaluates):
- "train": bursty sequences: `burstiness` exemplars of the query's class, as many of
  one distractor class, the rest drawn from p, positions shuffled.
- "icl": half the context from the query's class, half from another, relabelled 0 / 1
  at random per sequence; the target is the query class's new label. Scored among
  the labels present in context (chance 1/2).
- "flip": the same two classes with their true labels swapped; the target is the
  swapped label, so a model that answers from its weights scores 0.
- "ciwl": no exemplar of the query's class in context; every context class distinct;
  the query's true label is attached to one context exemplar of another class.
- "iwl": the same without that label: the true label is absent from the context.
`metrics` gives the accuracy each evaluator is scored by and the in-context accuracy.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab import rng
from complab.config import require
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy

EVALUATORS = ("icl", "flip", "ciwl", "iwl")


@dataclass(frozen=True)
class Config:
    classes: int = 4096  # K
    exemplars: int = 20  # E per class
    dim: int = 64  # D
    noise: float = 0.1  # eps: within-class spread
    context: int = 2  # (exemplar, label) pairs before the query
    burstiness: int = 1  # training: exemplars of the query's class (and of one distractor)
    zipf_alpha: float = 0.0  # 0: uniform classes
    seed: int = 0  # the exemplars

    def __post_init__(self):
        require(self.classes >= self.context + 1 and self.exemplars >= 1 and self.dim >= 1 and self.noise >= 0,
                f"bursty classification needs classes >= context + 1, exemplars and dim >= 1 and noise >= 0; got "
                f"classes={self.classes}, context={self.context}, exemplars={self.exemplars}, dim={self.dim}, "
                f"noise={self.noise}")
        require(self.context >= 2 and self.context % 2 == 0 and 1 <= self.burstiness and 2 * self.burstiness
                <= self.context, f"context must be even and >= 2 and 1 <= burstiness <= context / 2; got "
                f"context={self.context}, burstiness={self.burstiness}")
        require(self.zipf_alpha >= 0, f"zipf_alpha must be >= 0, got {self.zipf_alpha}")


def _draw_classes(key: Array, log_p: Array, n: int) -> Array:
    """`n` distinct classes, drawn one after another without replacement from exp(log_p): the
    `n` largest of log_p + Gumbel noise, taken by repeated argmax (XLA's CPU top-k can turn
    into a full sort, 20x slower here)."""
    scores = log_p + jax.random.gumbel(key, log_p.shape)
    drawn = []
    for _ in range(n):
        drawn.append(jnp.argmax(scores).astype(jnp.int32))
        scores = scores.at[drawn[-1]].set(-jnp.inf)
    return jnp.stack(drawn)


class BurstyClassification(AbstractTask):
    cfg: Config
    log_p: Array  # log class frequencies [K]
    splits: tuple[str, ...] = ("train",) + EVALUATORS

    def __init__(self, cfg: Config):
        self.cfg = cfg
        w = np.arange(1, cfg.classes + 1, dtype=np.float64) ** -cfg.zipf_alpha
        self.log_p = jnp.asarray(np.log(w / w.sum()), jnp.float32)

    @property
    def dims(self) -> tuple[int, int]:
        return self.cfg.dim + self.cfg.classes, self.cfg.classes

    def exemplar(self, k: Array, j: Array) -> Array:
        """Exemplar j of class k (any shapes, broadcast): [..., D]."""
        c = self.cfg
        base = jax.random.key(c.seed)
        k_mu, k_eta = rng.named(base, "centroids"), rng.named(base, "exemplars")

        def one(k, j):
            mu = jax.random.normal(jax.random.fold_in(k_mu, k), (c.dim,))
            eta = jax.random.normal(jax.random.fold_in(jax.random.fold_in(k_eta, k), j), (c.dim,))
            return (mu + c.noise * eta) / jnp.sqrt(c.dim * (1.0 + c.noise**2))

        k, j = jnp.broadcast_arrays(k, j)
        return jax.vmap(one)(k.reshape(-1), j.reshape(-1)).reshape(k.shape + (c.dim,))

    def _sequence(self, key: Array, split: str) -> tuple[Array, Array, Array]:
        """One sequence's context classes [C], context labels [C] and query (class, target)."""
        c = self.cfg
        k_cls, k_order, k_lab = jax.random.split(key, 3)
        half, uniform = c.context // 2, jnp.zeros_like(self.log_p)
        if split == "train":
            drawn = _draw_classes(k_cls, self.log_p, 2)
            k_rest, others = jax.random.fold_in(k_cls, 1), c.context - 2 * c.burstiness
            rest = jax.random.categorical(k_rest, self.log_p, shape=(others,))
            ctx = jnp.concatenate([jnp.repeat(drawn, c.burstiness), rest.astype(jnp.int32)])
            labels, target = ctx, drawn[0]
        elif split in ("icl", "flip"):
            drawn = _draw_classes(k_cls, uniform, 2)
            ctx = jnp.repeat(drawn, half)
            if split == "icl":
                relabel = jax.random.permutation(k_lab, 2).astype(jnp.int32)
                labels, target = jnp.repeat(relabel, half), relabel[0]
            else:
                labels, target = jnp.repeat(drawn[::-1], half), drawn[1]
        else:  # ciwl, iwl: the query's class is absent from the context
            drawn = _draw_classes(k_cls, uniform, 1 + c.context)
            ctx = labels = drawn[1:]
            if split == "ciwl":
                labels = labels.at[jax.random.randint(k_lab, (), 0, c.context)].set(drawn[0])
            target = drawn[0]
        order = jax.random.permutation(k_order, c.context)
        return ctx[order], labels[order], jnp.stack([drawn[0], target])

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        c = self.cfg
        k_seq, k_ex = jax.random.split(key)
        ctx, labels, query = jax.vmap(lambda k: self._sequence(k, split))(jax.random.split(k_seq, batch_size))
        classes = jnp.concatenate([ctx, query[:, :1]], 1)
        x = self.exemplar(classes, jax.random.randint(k_ex, classes.shape, 0, c.exemplars))
        zeros = jnp.zeros((batch_size, c.context + 1, c.classes))
        items = jnp.concatenate([x, zeros], -1)
        label_tokens = jnp.concatenate([jnp.zeros((batch_size, c.context, c.dim)), jax.nn.one_hot(labels, c.classes)],
                                       -1)
        pairs = jnp.stack([items[:, :-1], label_tokens], 2).reshape(batch_size, 2 * c.context, -1)
        tokens = jnp.concatenate([pairs, items[:, -1:]], 1)
        t = 2 * c.context + 1
        y = jnp.zeros((batch_size, t, c.classes)).at[:, -1].set(jax.nn.one_hot(query[:, 1], c.classes))
        mask = jnp.zeros((batch_size, t)).at[:, -1].set(1.0)
        in_context = jax.nn.one_hot(labels, c.classes).max(1)
        return Batch(x=tokens, y=y, mask=mask, info={"query_class": query[:, 0], "target": query[:, 1],
                                                     "in_context": in_context})

    def loss(self, pred: Array, batch: Batch) -> Array:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Array, batch: Batch) -> dict[str, Array]:
        """Accuracy at the query over all labels and among the labels present in the context."""
        logits, target = pred[:, -1], batch.info["target"]
        inside = jnp.where(batch.info["in_context"] > 0, logits, -jnp.inf)
        return {"loss": self.loss(pred, batch), "accuracy": (logits.argmax(-1) == target).mean(),
                "in_context_accuracy": (inside.argmax(-1) == target).mean()}


def score(split: str, metrics: dict[str, Array]) -> Array:
    """The accuracy an evaluator is read by: ICL among the in-context labels (chance 1/2), the others over all."""
    return metrics["in_context_accuracy"] if split == "icl" else metrics["accuracy"]
