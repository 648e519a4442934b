"""Model selection under domain shift (Irie, Schlag, Csordás, Schmidhuber, NeurIPS 2021
DistShift workshop, arXiv 2112.15550, "Improving baselines in the wild"; code
kazuki-irie/fork--wilds-public): on WILDS, (1) each evaluation metric needs its own
checkpoint selection, (2) out-of-distribution validation scores track the test scores
weakly, (3) small hyperparameter changes (a larger learning rate) move the baseline,
and (4) on iWildCam domains (camera locations) go with labels.

Setup (specs section 10, the cpu stand-in of the specs): tasks/domain_shift.py, 40
domains with their own backgrounds and Dirichlet(0.3) label priors over 20 long-tailed
classes; 30 train domains (with in-distribution validation and test held out of their
samples), 5 OOD-validation and 5 OOD-test domains; one data set for every seed (a
benchmark), the seed varies the initialisation and the batches. An MLP of two 128-unit
ReLU layers, Adam, batch 64, at learning rates 1e-4 (the default here: FMoW's) and
3x, 10x it, evaluated every 200 steps (the fork's `validate_every`, WILDS' checkpoints) on
all four evaluation splits: accuracy and WILDS' macro-F1 (over the classes present in
the split). A "domain-only" classifier (the same MLP on each sample's background alone,
default learning rate) measures how much the domain says about the label.

Checks (thresholds 1-2 and 4's V from the specs; choices marked):
1. Selecting the checkpoint by OOD-validation F1 gives a test F1 >= 1 point above the
   checkpoint selected by OOD-validation accuracy (mean over every run, all learning
   rates and seeds; the paper's tables show 3.4 and 0.6 F1 points).
1b. The mirror: selecting by accuracy gives a higher test accuracy than the F1-selected
   checkpoint (the paper's tables: 0.4 and 0.0 points, so no margin is asked; strictly
   higher, so that picks that always coincide, as an untrained model's, fail).
2. Over the checkpoints of the second half of training (where training has settled; our
   choice, the early ones are worse on everything), pooled over learning
   rates, Spearman's rank correlation of OOD-validation F1 with OOD-test F1 is below that
   of in-distribution validation with in-distribution test, in every seed.
3. The best learning rate (by mean OOD-validation F1 of the F1-selected checkpoints)
   beats the default by >= 2 points of OOD-test F1 (seed means).
4. Domains go with labels: Cramér's V(domain, label) on the training split >= 0.3, and
   the domain-only classifier is well above the majority-class guess in distribution
   (>= 10 points of accuracy, our threshold) but adds nothing to it out of distribution
   (at most 5 points above it; one-sided: below the guess is nothing too), every seed.

Choice of difficulty: class means of std 0.5 against unit noise and unit backgrounds,
chosen on the data set's first draw (whose label priors shared a NumPy stream with the
backgrounds; seed 0 at 0.25, 0.5 and 0.75): at 0.25 the model was below the majority
guess out of distribution (OOD accuracy 0.25, F1 0.13: no benchmark), at 0.75 nearly
solved (OOD accuracy 0.86, F1 0.78); 0.5 gave the iWildCam regime (in distribution 0.80
accuracy / 0.67 F1, out 0.61 / 0.49). Check 1 passed at 0.5 only in those runs (+0.5 and
+0.2 points at 0.25 and 0.75), so the choice favoured check 1; on the present draw it
fails anyway.

Measured at the cpu tier (3 seeds, 12 runs, 45 s of compute; the present data set, the
priors on their own stream): checks 1b and 2 hold; 1, 3 and 4 do not. In distribution
0.79-0.80 accuracy / 0.73 F1, out 0.48-0.54 / 0.31-0.35 (seed 0). Selecting by
OOD-validation F1 gains +0.25 points of OOD-test F1 over selecting by accuracy (9 runs;
short of 1), selecting by accuracy +0.16 points of test accuracy. Spearman over the late
checkpoints, OOD / ID: 0.19 / 0.47, 0.59 / 0.74, 0.62 / 0.83. OOD validation / test F1
by learning rate (seed means): 1e-4 31.0 / 34.0, 3e-4 34.5 / 35.6, 1e-3 34.8 / 35.8: the
best rate gains 1.8 points, short of 2. Cramér's V 0.33; the domain-only classifier is
19.9-20.4 points above the majority guess in distribution and 3.0, 7.1, 2.9 points above
it out of distribution (seed 1 fails). On the first draw the same code gave +3.09 (check
1 held), -0.84 (1b failed), Spearman 0.06 / 0.82, 0.57 / 0.69, 0.51 / 0.71, learning
rates 44.1 / 45.9 / 42.8, and the domain-only classifier 5.6-18.6 points below the guess
out of distribution: with five OOD-validation and five OOD-test domains, which checks
hold depends on the draw of the benchmark, as the paper warns of iWildCam's validation.
"""

from dataclasses import dataclass

import jax
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import mlp
from complab.probes.statistics import cramers_v, spearman
from complab.tasks import domain_shift as ds

F1_GAIN, LR_GAIN, ASSOCIATION, ABOVE_ID, NEAR_OOD = 0.01, 0.02, 0.3, 0.10, 0.05
MODELS = ("mlp", "domain_only")


@dataclass(frozen=True)
class Config:
    task: ds.Config = ds.Config()
    hidden: tuple[int, ...] = (128, 128)
    lrs: tuple[float, ...] = (1e-4, 3e-4, 1e-3)
    default_lr: float = 1e-4
    steps: int = 4000
    eval_every: int = 200
    batch_size: int = 64

    def __post_init__(self):
        require(self.default_lr in self.lrs and len(self.lrs) >= 2,
                f"lrs must hold the default_lr {self.default_lr} and another; got {self.lrs}")
        require(1 <= self.eval_every <= self.steps // 2,
                f"eval_every must give at least two checkpoints in {self.steps} steps; got {self.eval_every}")


def cells(cfg: Config) -> list[dict]:
    return [{"model": "mlp", "lr": lr} for lr in cfg.lrs] + [{"model": "domain_only", "lr": cfg.default_lr}]


def _evaluate(key, state, task):
    del key
    out = {}
    for split in ds.EVAL_SPLITS:
        b = task.whole(split)
        m = task.metrics(supervised.predict(state.model, b), b)
        out[f"{split}_accuracy"], out[f"{split}_f1"] = m["accuracy"], m["f1"]
    return out


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    task = ds.DomainShift(cfg.task, view="background" if cell["model"] == "domain_only" else "input")
    k_init, k_train = rng.streams(key, "init", "train")
    model = mlp.MLP(mlp.Config(hidden=cfg.hidden), *task.dims, key=k_init)
    learner = supervised.Supervised(optim.Config(lr=cell["lr"], steps=cfg.steps), supervised.per_example(task.loss))
    evaluate = jax.tree_util.Partial(_evaluate, task=task)
    state = ctx.fit("train", learner, learner.init(k_init, model), task, key=k_train, steps=cfg.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate,
                    eval_at=tuple(range(cfg.eval_every, cfg.steps + 1, cfg.eval_every)))
    final = {k: float(v) for k, v in training.evaluation(evaluate, jax.random.key(0), state).items()}
    train = task.data["train"]
    majority = int(np.bincount(np.asarray(train["y"]), minlength=cfg.task.classes).argmax())
    chance = {f"{s}_majority": float(np.mean(np.asarray(task.data[s]["y"]) == majority)) for s in ds.EVAL_SPLITS}
    return [{**final, **chance, "cramers_v": cramers_v(np.asarray(train["domain"]), np.asarray(train["y"]))}]


def _curves(results: Results, seed: int, lr: float, model: str = "mlp") -> dict[str, np.ndarray]:
    out = {}
    for split in ds.EVAL_SPLITS:
        for metric in ("accuracy", "f1"):
            steps, out[f"{split}_{metric}"] = results.curve(f"{split}_{metric}", seed=seed, model=model, lr=lr)
    out["step"] = steps
    return out


def selections(results: Results, cfg: Config) -> dict[tuple[int, float], dict[str, float]]:
    """Per (seed, lr): OOD-test F1 and accuracy of the checkpoints selected by OOD-validation F1 and by
    OOD-validation accuracy (the first best), and OOD-validation F1 of the F1-selected one."""
    out = {}
    for s in results.seeds:
        for lr in cfg.lrs:
            try:
                c = _curves(results, s, lr)
            except ValueError:
                continue
            by_f1, by_acc = int(np.argmax(c["ood_val_f1"])), int(np.argmax(c["ood_val_accuracy"]))
            out[(s, lr)] = {"f1_by_f1": c["ood_test_f1"][by_f1], "f1_by_acc": c["ood_test_f1"][by_acc],
                            "acc_by_acc": c["ood_test_accuracy"][by_acc], "acc_by_f1": c["ood_test_accuracy"][by_f1],
                            "val_f1": c["ood_val_f1"][by_f1]}
    return out


def correlations(results: Results, cfg: Config) -> dict[int, tuple[float, float]]:
    """Per seed: (Spearman OOD val/test F1, Spearman ID val/test F1) over the second half's checkpoints of
    every learning rate."""
    out = {}
    for s in results.seeds:
        pooled = {k: [] for k in ("ood_val_f1", "ood_test_f1", "id_val_f1", "id_test_f1")}
        for lr in cfg.lrs:
            try:
                c = _curves(results, s, lr)
            except ValueError:
                continue
            late = c["step"] > cfg.steps / 2
            for k in pooled:
                pooled[k] += list(c[k][late])
        if pooled["ood_val_f1"]:
            out[s] = (spearman(pooled["ood_val_f1"], pooled["ood_test_f1"]),
                      spearman(pooled["id_val_f1"], pooled["id_test_f1"]))
    return out


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    sel = selections(results, cfg)
    full = bool(seeds) and len(sel) == len(seeds) * len(cfg.lrs)
    gain_f1 = float(np.mean([v["f1_by_f1"] - v["f1_by_acc"] for v in sel.values()])) if sel else np.nan
    gain_acc = float(np.mean([v["acc_by_acc"] - v["acc_by_f1"] for v in sel.values()])) if sel else np.nan
    corr = correlations(results, cfg)
    ok2 = full and len(corr) == len(seeds) and all(o < i for o, i in corr.values())

    def mean_over_seeds(lr, k):
        vals = [sel[(s, lr)][k] for s in seeds if (s, lr) in sel]
        return float(np.mean(vals)) if vals else np.nan

    val = {lr: mean_over_seeds(lr, "val_f1") for lr in cfg.lrs}
    test = {lr: mean_over_seeds(lr, "f1_by_f1") for lr in cfg.lrs}
    best = max(cfg.lrs, key=lambda lr: -np.inf if np.isnan(val[lr]) else val[lr])
    dom = {s: rows[0] for s, rows in results.by_seed(model="domain_only").items()}
    v = {s: rows[0]["cramers_v"] for s, rows in results.by_seed(model="mlp", lr=cfg.default_lr).items()}
    id_gap = {s: r["id_test_accuracy"] - r["id_test_majority"] for s, r in dom.items()}
    ood_gap = {s: r["ood_test_accuracy"] - r["ood_test_majority"] for s, r in dom.items()}
    ok4 = (bool(seeds) and len(dom) == len(seeds) and len(v) == len(seeds) and all(x >= ASSOCIATION for x in v.values())
           and all(id_gap[s] >= ABOVE_ID and ood_gap[s] <= NEAR_OOD for s in dom))
    return [
        Check(f"selecting by OOD-validation F1 gives >= {F1_GAIN * 100:.0f} point more OOD-test F1 than selecting "
              "by OOD-validation accuracy (mean over every run)", full and gain_f1 >= F1_GAIN,
              f"test F1, F1-selected minus accuracy-selected: {gain_f1 * 100:+.2f} points ({len(sel)} runs)"),
        Check("and the mirror: selecting by OOD-validation accuracy gives more OOD-test accuracy than selecting by "
              "F1 (mean over every run)", full and gain_acc > 0,
              f"test accuracy, accuracy-selected minus F1-selected: {gain_acc * 100:+.2f} points ({len(sel)} runs)"),
        Check("OOD validation F1 ranks the late checkpoints' OOD test F1 worse than ID validation ranks ID test "
              "(Spearman, every seed)", ok2,
              "; ".join(f"seed {s}: OOD {o:.2f}, ID {i:.2f}" for s, (o, i) in corr.items()) or "no curves"),
        Check(f"the best learning rate beats the default {cfg.default_lr:g} by >= {LR_GAIN * 100:.0f} points of OOD "
              "test F1 (seed means, checkpoints selected by OOD-validation F1)",
              full and best != cfg.default_lr and test[best] - test[cfg.default_lr] >= LR_GAIN,
              "OOD val / test F1 by learning rate: " + ", ".join(
                  f"{lr:g}: {val[lr] * 100:.1f} / {test[lr] * 100:.1f}" for lr in cfg.lrs) + f"; best {best:g}"),
        Check(f"domains go with labels: Cramér's V >= {ASSOCIATION}; a domain-only classifier is >= "
              f"{ABOVE_ID * 100:.0f} points above the majority guess in distribution and adds nothing out of "
              f"distribution (<= {NEAR_OOD * 100:.0f} points above the guess; each seed)", ok4,
              f"V {per_seed(v, '{:.2f}')}; domain-only minus majority accuracy, ID test {per_seed(id_gap)}, "
              f"OOD test {per_seed(ood_gap)}"),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    s0 = results.seeds[0] if results.seeds else None
    for j, lr in enumerate(cfg.lrs):
        try:
            c = _curves(results, s0, lr)
        except ValueError:
            continue
        for split, ls in (("ood_val", "-"), ("ood_test", "--")):
            axes[0].plot(c["step"], c[f"{split}_f1"], color=f"C{j}", ls=ls, label=f"lr {lr:g} {split}")
        axes[1].scatter(c["ood_val_f1"], c["ood_test_f1"], color=f"C{j}", s=10, label=f"lr {lr:g} OOD")
        axes[1].scatter(c["id_val_f1"], c["id_test_f1"], color=f"C{j}", s=10, marker="x", label=f"lr {lr:g} ID")
    axes[0].set(xlabel="step", ylabel="macro-F1", title=f"OOD validation and test F1 (seed {s0})")
    axes[1].set(xlabel="validation F1", ylabel="test F1", title=f"checkpoints: validation vs test (seed {s0})")
    sel = selections(results, cfg)
    for j, lr in enumerate(cfg.lrs):
        runs = [v for (s, r), v in sel.items() if r == lr]
        axes[2].bar(np.arange(2) + 0.25 * j, [np.mean([v["f1_by_f1"] for v in runs]) if runs else 0,
                                              np.mean([v["f1_by_acc"] for v in runs]) if runs else 0],
                    width=0.25, color=f"C{j}", label=f"lr {lr:g}")
    axes[2].set(xticks=[0.25, 1.25], xticklabels=["selected by val F1", "selected by val accuracy"],
                ylabel="OOD test F1", title="checkpoint selection per metric")
    for ax in axes:
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="wilds_model_selection",
    title="Model selection under domain shift: per-metric checkpoints, weak OOD validation, the learning rate",
    paper="Irie, Schlag, Csordás, Schmidhuber 2021, Improving baselines in the wild",
    claim="Under domain shift each metric needs its own checkpoint selection, OOD validation tracks the test "
    "weakly, a larger learning rate moves the baseline, and domains go with labels.",
    tiers={
        "smoke": Config(task=ds.Config(domains=8, train_domains=4, val_domains=2, classes=5, dim=8, per_domain=40),
                        hidden=(16,), lrs=(1e-3, 3e-3), default_lr=1e-3, steps=20, eval_every=5, batch_size=16),
        "cpu": Config(),
        "paper": Config(task=ds.Config(domains=300, train_domains=240, val_domains=30, classes=180, dim=128,
                                       per_domain=700), hidden=(512, 512), lrs=(3e-5, 1e-4, 3e-4, 1e-3),
                        default_lr=3e-5, steps=60_000, eval_every=1000, batch_size=128),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("lrs",),
    steps=lambda cfg, cell: cfg.steps,
)
