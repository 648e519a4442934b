"""Catastrophic Fisher explosion (Jastrzebski, Arpit, Åstrand, Kerg, Wang, Xiong, Socher,
Cho, Geras, ICML 2021, arXiv 2012.14193): with a small learning rate the trace of the
Fisher information reaches a large value early in training and the net generalises
worse; penalising the trace (the Fisher penalty) keeps it low and recovers the
generalisation; with noisy labels the penalty slows the memorisation of the corrupted
examples more than the learning of the clean ones.

No public code. Setup (specs section 8, scaled to this machine): an MLP 64-256-256-10
(ReLU, Kaiming-normal weights: models/mlp.py) on the UCI 8 x 8 digits that ship with
this package (tasks/digit_classes.py; the paper uses CIFAR with CNNs, which cannot be
downloaded here), plain SGD, batch 128, 8000 steps (about 760 epochs: every arm fits its
training set). Arms (cells): the small rate 0.01, the large rate 0.1, the small rate
with the Fisher penalty (alpha 0.1, on a sub-batch of 32, every step: learners/fisher.py),
and the small rate without and with the penalty when 20% of the training labels are
corrupted.

Tr F is estimated every 25 steps on 256 training images (one label sampled from the
model per image, per-example gradients). The early phase is the first 10% of training
(the value at initialisation excluded: it is the same for every arm).

Checks (each seed):
1. Fisher explosion: the small rate's largest early Tr F exceeds the large rate's by >=
   10% (beyond the noise of an estimate from 256 images and one sampled label each);
2. the small rate generalises worse: final test accuracy >= 1 point (4-5 of the 450 test
   images) below the large rate's;
3. the penalty lowers the small rate's early Tr F (its largest early value >= 1.1 x
   smaller);
4. and it closes >= 50% of the accuracy gap of check 2 (which must exist);
5. with noisy labels the penalty slows memorisation more than learning: it lowers the
   training accuracy on the corrupted examples (scored against their corrupted labels)
   by >= 2 points more than on the clean ones (about 5 of the 269 corrupted images),
   once the unpenalised net has learned the clean ones (>= 0.9) and begun to memorise
   (>= 3% of the corrupted examples fitted to their corrupted labels; an untrained net
   fits about 10% of them by chance, a trained one that has not memorised about 0%).
The 50% of check 4 is the spec's proposal; the 1 point of check 2, the 10% of checks 1
and 3 and the 2 points of check 5 are this lab's resolution of "lower" and "larger".

Measured at the cpu tier (3 seeds, 15 runs, 355 s of compute): the claim holds in part.
1 holds: the small rate's early max Tr F 160.5 / 134.6 / 155.9 vs the large rate's 130.1 /
121.9 / 131.1. 2 fails: both rates generalise alike on these digits, test accuracy 0.967
/ 0.964 / 0.964 (small) vs 0.967 / 0.969 / 0.973 (large), a gap of 0 to 0.9 points. 3
holds: with the penalty the early max is 114.6 / 91.2 / 104.5. 4 fails for want of a gap
to close (accuracy with the penalty 0.976 / 0.967 / 0.967). 5 holds: without the penalty
the net fits 0.987-0.992 of the clean examples and has memorised 0.059-0.089 of the
corrupted ones; the penalty lowers the latter by 0.045-0.063 and the former by -0.003 to
0.002. At convergence (8000 steps) the small rate's generalisation is not harmed here: a
two-layer MLP on 8 x 8 digits is a far easier problem than the paper's CNNs on CIFAR, and
the explosion it measures is modest (about 1.2x the large rate's peak).
"""

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.learners.fisher import fisher_penalty, fisher_trace
from complab.models import mlp
from complab.tasks import digit_classes as dc

ARMS = {  # arm -> (rate, penalised, noisy)
    "small": ("small", False, False),
    "large": ("large", False, False),
    "small_fp": ("small", True, False),
    "small_noisy": ("small", False, True),
    "small_fp_noisy": ("small", True, True),
}
GAP, CLOSED, MEMORISING, LEARNED, MARGIN, SLOWER = 0.01, 0.5, 0.03, 0.9, 1.1, 0.02


@dataclass(frozen=True)
class Config:
    task: dc.Config
    model: mlp.Config
    lr_small: float = 0.01
    lr_large: float = 0.1
    penalty: float = 0.1
    penalty_batch: int = 32
    label_noise: float = 0.2
    steps: int = 8000
    batch_size: int = 128
    fisher_every: int = 25
    fisher_images: int = 256
    early: float = 0.1  # the early phase, as a fraction of training

    def __post_init__(self):
        require(0 < self.lr_small < self.lr_large, f"need 0 < lr_small < lr_large; got {self}")
        require(self.penalty >= 0 and 1 <= self.penalty_batch <= self.batch_size,
                f"penalty must be >= 0 and penalty_batch in [1, batch_size]; got {self}")
        require(0 < self.label_noise < 1, f"label_noise must be in (0, 1), got {self.label_noise}")
        require(self.fisher_every >= 1 and self.steps * self.early >= self.fisher_every,
                f"the early phase ({self.early} x {self.steps} steps) must hold at least one Fisher estimate (every "
                f"{self.fisher_every} steps)")


def cells(cfg: Config) -> list[dict]:
    return [{"arm": a} for a in ARMS]


def _logits(model: mlp.MLP, x):
    return jax.vmap(model.logits)(x)


def _loss(task: dc.DigitClasses, cfg: Config, penalised: bool):
    """The task's loss, plus the Fisher penalty where `penalised` (a Partial: runs share the compiled step)."""
    return jax.tree_util.Partial(_fisher_loss, supervised.per_example(task.loss), cfg, penalised)


def _fisher_loss(base, cfg, penalised, model, batch, key):
    total = base(model, batch, key)
    if penalised:
        total = total + cfg.penalty * fisher_penalty(_logits, model, batch.x[:cfg.penalty_batch, -1], key)
    return total


def _evaluate(key, state, task, n):
    train, test = task.full("train"), task.full("test")
    model = state.model
    fitted = _logits(model, train.x[:, 0]).argmax(-1) == train.info["label"]
    bad = train.info["corrupted"]
    return {"fisher_trace": fisher_trace(_logits, model, train.x[:n, 0], key),
            "test_accuracy": (_logits(model, test.x[:, 0]).argmax(-1) == test.info["label"]).mean(),
            "train_clean_accuracy": jnp.where(bad, 0.0, fitted).sum() / jnp.maximum((~bad).sum(), 1),
            "train_corrupted_accuracy": jnp.where(bad, fitted, 0.0).sum() / jnp.maximum(bad.sum(), 1)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    rate, penalised, noisy = ARMS[cell["arm"]]
    task = dc.DigitClasses(replace(cfg.task, label_noise=cfg.label_noise) if noisy else cfg.task)
    k_init, k_train = rng.streams(key, "init", "train")
    model = mlp.MLP(cfg.model, *task.dims, key=k_init)  # the same initialisation in every arm
    lr = cfg.lr_small if rate == "small" else cfg.lr_large
    learner = supervised.Supervised(optim.Config(kind="sgd", lr=lr, steps=cfg.steps), _loss(task, cfg, penalised))
    evaluate = jax.tree_util.Partial(_evaluate, task=task, n=cfg.fisher_images)
    points = tuple(range(0, cfg.steps + 1, cfg.fisher_every))
    state = ctx.fit("train", learner, learner.init(k_init, model), task, key=k_train, steps=cfg.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate, eval_at=points)
    final = training.evaluation(evaluate, jax.random.key(0), state)
    return [{k: float(v) for k, v in final.items()}]


def _early_max(results: Results, arm: str, seed: int, cfg: Config) -> float:
    steps, trace = results.curve("fisher_trace", seed=seed, arm=arm)
    window = (steps > 0) & (steps <= cfg.early * cfg.steps)
    return float(trace[window].max()) if window.any() else np.nan


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    final = {a: {s: rows[0] for s, rows in results.by_seed(arm=a).items()} for a in ARMS}
    full = bool(seeds) and all(len(final[a]) == len(seeds) for a in ARMS)
    if not full:
        return [Check(n, False, "missing runs: " + ("; ".join(results.failures) or "no rows"))
                for n in ("Fisher explosion", "generalisation", "Fisher penalty: trace", "Fisher penalty: accuracy",
                          "noisy labels")]
    early = {a: {s: _early_max(results, a, s, cfg) for s in seeds} for a in ("small", "large", "small_fp")}
    acc = {a: {s: final[a][s]["test_accuracy"] for s in seeds} for a in ("small", "large", "small_fp")}
    gap = {s: acc["large"][s] - acc["small"][s] for s in seeds}
    closed = {s: (acc["small_fp"][s] - acc["small"][s]) / gap[s] if gap[s] > 0 else np.nan for s in seeds}
    drop = {kind: {s: final["small_noisy"][s][f"train_{kind}_accuracy"] - final["small_fp_noisy"][s][
        f"train_{kind}_accuracy"] for s in seeds} for kind in ("clean", "corrupted")}
    memorised = {s: final["small_noisy"][s]["train_corrupted_accuracy"] for s in seeds}
    ok1 = all(early["small"][s] >= MARGIN * early["large"][s] for s in seeds)
    ok2 = all(gap[s] >= GAP for s in seeds)
    ok3 = all(MARGIN * early["small_fp"][s] <= early["small"][s] for s in seeds)
    ok3b = all(gap[s] >= GAP and closed[s] >= CLOSED for s in seeds)
    clean = {s: final["small_noisy"][s]["train_clean_accuracy"] for s in seeds}
    ok4 = all(clean[s] >= LEARNED and memorised[s] >= MEMORISING and drop["corrupted"][s] >= drop["clean"][s] + SLOWER
              for s in seeds)
    return [
        Check(f"Fisher explosion: the small learning rate's largest early Tr F exceeds the large rate's by >= "
              f"{MARGIN - 1:.0%}", ok1,
              "early max Tr F, small vs large: " + ", ".join(f"seed {s}: {early['small'][s]:.1f} vs "
                                                             f"{early['large'][s]:.1f}" for s in seeds)),
        Check(f"the small rate generalises worse: final test accuracy >= {GAP:.0%} below the large rate's", ok2,
              "test accuracy, small vs large: " + ", ".join(f"seed {s}: {acc['small'][s]:.3f} vs "
                                                            f"{acc['large'][s]:.3f}" for s in seeds)),
        Check(f"the Fisher penalty lowers the small rate's early Tr F (by a factor >= {MARGIN})", ok3,
              "early max Tr F, with vs without the penalty: " + ", ".join(
                  f"seed {s}: {early['small_fp'][s]:.1f} vs {early['small'][s]:.1f}" for s in seeds)),
        Check(f"the Fisher penalty closes >= {CLOSED:.0%} of the small rate's accuracy gap (itself >= {GAP:.0%})",
              ok3b, "test accuracy with the penalty: " + per_seed(acc["small_fp"], "{:.3f}") + "; gap (large - small): "
              + per_seed(gap, "{:+.3f}") + "; closed: " + per_seed(closed, "{:.0%}")),
        Check(f"with {cfg.label_noise:.0%} noisy labels the penalty lowers the training accuracy on corrupted examples "
              f"by >= {SLOWER:.0%} more than on clean ones (once, without it, the clean ones are learned, >= "
              f"{LEARNED}, and >= {MEMORISING:.0%} of the corrupted memorised)", ok4,
              "without the penalty, clean fitted: " + per_seed(clean, "{:.3f}") + "; corrupted fitted: "
              + per_seed(memorised, "{:.3f}") + "; the penalty's drop, "
              "corrupted: " + per_seed(drop["corrupted"], "{:+.3f}") + "; clean: "
              + per_seed(drop["clean"], "{:+.3f}")),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    for j, arm in enumerate(ARMS):
        for s in results.seeds:
            try:
                steps, trace = results.curve("fisher_trace", seed=s, arm=arm)
                _, bad = results.curve("train_corrupted_accuracy", seed=s, arm=arm)
            except ValueError:
                continue
            first = s == results.seeds[0]
            if not ARMS[arm][2]:
                ax0.plot(steps[1:], trace[1:], color=f"C{j}", alpha=0.7, lw=0.8, label=arm if first else None)
            else:
                ax1.plot(steps, bad, color=f"C{j}", alpha=0.8, label=f"{arm}: corrupted fitted" if first else None)
                _, clean = results.curve("train_clean_accuracy", seed=s, arm=arm)
                ax1.plot(steps, clean, color=f"C{j}", ls="--", alpha=0.8, label=f"{arm}: clean" if first else None)
    ax0.axvline(cfg.early * cfg.steps, color="k", ls=":", lw=1, label="end of the early phase")
    ax0.set(xscale="log", yscale="log", xlabel="step", ylabel="Tr F (sampled labels)", title="trace of the Fisher")
    ax0.legend(fontsize=7)
    ax1.set(xlabel="step", ylabel="training accuracy", ylim=(0, 1.02),
            title=f"{cfg.label_noise:.0%} corrupted labels: memorisation")
    ax1.legend(fontsize=7)
    fig.suptitle("Catastrophic Fisher explosion: small vs large learning rate, and the Fisher penalty")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="fisher_explosion",
    title="A small learning rate's early Fisher explosion, and the Fisher penalty",
    paper="Jastrzebski, Arpit, Åstrand, Kerg, Wang, Xiong, Socher, Cho, Geras 2021, Catastrophic Fisher explosion: "
    "early phase Fisher matrix impacts generalization",
    claim="With a small learning rate the trace of the Fisher reaches a larger value early in training and the net "
    "generalises worse; the Fisher penalty keeps the trace low, recovers generalisation, and slows the memorisation of "
    "noisy labels more than the learning of clean ones.",
    tiers={
        "smoke": Config(task=dc.Config(), model=mlp.Config(hidden=(16,), init="kaiming_normal"), steps=40,
                        batch_size=16, penalty_batch=8, fisher_every=4, fisher_images=16),
        "cpu": Config(task=dc.Config(), model=mlp.Config(hidden=(256, 256), init="kaiming_normal")),
        "paper": Config(task=dc.Config(), model=mlp.Config(hidden=(1024, 1024), init="kaiming_normal"),
                        steps=30_000),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=lambda cfg, cell: cfg.steps,
)
