"""Attention as a hypernetwork on symbolic Raven matrices (Schug, Kobayashi, Akram,
Sacramento, Pascanu 2024; code smonsays/hypernetwork-attention).

Claim: on sRAVEN (tasks/sraven.py) the accuracy on held-out rule combinations rises
with model size (and data), and HYLA generalises to them.

Setup (SPECS "HYLA"): tokens one-hot over the values, embedded by a dense layer; a
pre-LayerNorm stack of non-causal attention with a T5 relative bias (buckets = maximum
distance = the sequence length; bidirectional, where the paper's code uses one bucket
set for both directions) and GELU MLP
blocks (hidden 2 x width), a final LayerNorm and a dense readout; cross-entropy at the
query tokens; AdamW (1e-3, weight decay 0.1 on matrices, warmup then cosine to 0.1 x).
Cells: each model (HYLA; softmax attention for comparison) at each width of the sweep.
Accuracy = every feature of the last panel right, on `eval_batch` problems of
in-distribution rule combinations ("test": fresh problems) and of held-out ones ("ood").

Checks (HYLA; seed means with each seed shown):
1. The largest HYLA learned the in-distribution problems (test accuracy >= 10 x chance,
   chance = values^-features) and is above chance on held-out rule combinations
   (>= 2 x chance).
2. Held-out accuracy rises with size: seed means non-decreasing along the width sweep,
   and in every seed the largest above the smallest; precondition: the largest learned
   (as in 1), else untrained nets' noise could pass.

Choices: the thresholds (10x, 2x chance) are ours, the paper reports curves. The cpu
tier is reduced: 2 features (36 rule combinations, 9 held out), no feature
permutation, HYLA at widths 16 / 32 / 64, 2 layers, 4 heads, 3,000 steps of 128
problems (`--set models=hyla,softmax` adds softmax attention's cells). Measured at the
cpu tier (3 seeds, about 20 minutes on 2 cores): held-out accuracy 0.25 / 0.33 / 0.36
at widths 16 / 32 / 64 (chance 0.016), in-distribution 0.30 / 0.40 / 0.45. The
paper tier is the paper's task (4 features, permuted, 330 combinations) and widths up to
its 128 with 4 layers and 16 heads of 4 query / key / value dimensions (64 in total),
20M problems (156,250 steps of 128). The paper's
latent-code clustering (its Fig. 6) is not measured here yet.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import feedforward, sequence
from complab.models.mixers import hyla, softmax_attention
from complab.tasks import sraven
from complab.training import linear_steps

MODELS = ("hyla", "softmax")
LEARNED = 10.0  # x chance, in-distribution
ABOVE_CHANCE = 2.0  # x chance, held-out combinations
CURVE_POINTS = 11


@dataclass(frozen=True)
class Config:
    task: sraven.Config
    train: optim.Config
    models: tuple[str, ...] = MODELS
    widths: tuple[int, ...] = (32, 64, 128)
    heads: int = 16
    key_size: int = 0  # per head (queries, keys and values); 0: width / heads
    layers: int = 4
    batch_size: int = 128
    eval_batch: int = 4096

    def __post_init__(self):
        require("hyla" in self.models and set(self.models) <= set(MODELS) and len(set(self.models)) == len(self.models),
                f"models must be distinct names from {', '.join(MODELS)} and include hyla; got {self.models}")
        require(len(self.widths) >= 2 and len(set(self.widths)) == len(self.widths)
                and all(w >= self.heads and w % self.heads == 0 for w in self.widths),
                f"widths must list at least two distinct multiples of heads={self.heads} (the claim is about size); "
                f"got {self.widths}")
        require(min(self.layers, self.batch_size, self.eval_batch) >= 1,
                f"layers, batch_size and eval_batch must be >= 1, got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"model": m, "width": w} for m in cfg.models for w in cfg.widths]


def model_config(cfg: Config, name: str, width: int) -> sequence.Config:
    n = cfg.task.seq_len  # the relative bias's buckets and distance, as the paper's sRAVEN config
    attention = dict(heads=cfg.heads, key_size=cfg.key_size, value_size=cfg.key_size, causal=False, encoding="t5",
                     t5_buckets=n, t5_max_distance=n)
    mixer = hyla.Config(**attention) if name == "hyla" else softmax_attention.Config(**attention)
    return sequence.Config(mixer=mixer, layers=cfg.layers, d_model=width, norm="pre", ff=feedforward.MLPConfig(2.0))


@eqx.filter_jit
def _accuracy(model, batch, features):
    return sraven.accuracy(supervised.predict(model, batch), batch, features)


def _curve(key, state, test, ood, features):
    del key
    return {"test_accuracy": _accuracy(state.model, test, features), "ood_accuracy": _accuracy(state.model, ood,
                                                                                              features)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    name, width = cell["model"], cell["width"]
    task = sraven.SymbolicRaven(cfg.task)
    k_eval, k_curve, k_model = rng.streams(key, "eval", "curve", "model")
    k_init, k_learner, k_train = rng.streams(rng.named(k_model, f"{name}/{width}"), "init", "learner", "train")
    model = eqx.filter_jit(sequence.SequenceModel)(model_config(cfg, name, width), *task.dims, key=k_init)
    sample, n_curve, f = eqx.filter_jit(task.sample), min(cfg.eval_batch, 1024), cfg.task.features
    evaluate = jax.tree_util.Partial(_curve, test=sample(k_curve, "test", n_curve), ood=sample(k_curve, "ood", n_curve),
                                     features=f)
    learner = supervised.Supervised(cfg.train, supervised.per_example(task.loss))
    state = ctx.fit(name, learner, learner.init(k_learner, model), task, key=k_train, steps=cfg.train.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate, eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    return [{"metric": "accuracy", "split": s, "value": float(_accuracy(state.model, sample(k_eval, s, cfg.eval_batch),
                                                                         f))} for s in ("test", "ood")]


def chance(cfg: Config) -> float:
    return cfg.task.values ** -cfg.task.features


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds, widths = results.seeds, sorted(cfg.widths)

    def acc(split, width):
        return {s: results.value(seed=s, model="hyla", width=width, metric="accuracy", split=split) for s in seeds}

    big_test, big_ood = acc("test", widths[-1]), acc("ood", widths[-1])
    p = chance(cfg)
    learned = all(v >= LEARNED * p for v in big_test.values())
    pre = "" if learned else "precondition failed: the largest HYLA did not learn the training combinations; "
    means = [float(np.mean(list(acc("ood", w).values()))) for w in widths]
    small = acc("ood", widths[0])
    return [
        Check(f"the largest HYLA (width {widths[-1]}) learned (in-distribution accuracy >= {LEARNED:.0f} x chance "
              f"{p:.4f}) and is above chance on held-out rule combinations (>= {ABOVE_CHANCE:.0f} x)",
              learned and all(v >= ABOVE_CHANCE * p for v in big_ood.values()),
              f"in-distribution {per_seed(big_test, '{:.3f}')}; held-out {per_seed(big_ood, '{:.3f}')}"),
        Check("held-out accuracy rises with width: seed means non-decreasing, the largest above the smallest in "
              "every seed (the largest learned)",
              learned and all(b >= a for a, b in zip(means, means[1:])) and all(big_ood[s] > small[s] for s in seeds),
              pre + "seed means " + ", ".join(f"width {w}: {m:.3f}" for w, m in zip(widths, means))
              + f"; width {widths[0]}: {per_seed(small, '{:.3f}')}; width {widths[-1]}: {per_seed(big_ood, '{:.3f}')}"),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    seeds, widths = results.seeds, sorted(cfg.widths)
    fig, (ax_size, ax_curve) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, m in enumerate(cfg.models):
        for split, ls in (("test", "-"), ("ood", "--")):
            vals = np.array([[results.value(seed=s, model=m, width=w, metric="accuracy", split=split) for s in seeds]
                             for w in widths])
            ax_size.errorbar(widths, vals.mean(1), yerr=vals.std(1), color=f"C{i}", ls=ls, marker="o", capsize=3,
                             label=f"{m}, {'held-out' if split == 'ood' else 'in-distribution'} combinations")
    ax_size.axhline(chance(cfg), color="k", ls=":", lw=1, label="chance")
    ax_size.set_xscale("log", base=2)
    ax_size.set_xlabel("width")
    ax_size.set_ylabel("accuracy (all features of the last panel)")
    ax_size.legend(fontsize=7)
    for i, w in enumerate(widths):
        steps, y = results.curve("ood_accuracy", seed=seeds[0], model="hyla", width=w)
        ax_curve.plot(steps, y, color=plt.cm.viridis(i / max(len(widths) - 1, 1)), label=f"HYLA width {w}")
    ax_curve.set_xlabel(f"training step (seed {seeds[0]})")
    ax_curve.set_ylabel("held-out accuracy (1,024 problems)")
    ax_curve.legend(fontsize=7)
    t = cfg.task
    fig.suptitle(f"sRAVEN: {t.features} features, {t.values} values, permuted {t.permute_features} "
                 f"({len(seeds)} seeds)")
    fig.tight_layout()
    return fig


def _train(steps: int) -> optim.Config:
    return optim.Config(lr=1e-3, steps=steps, warmup=min(1000, steps // 10), final_lr_frac=0.1, weight_decay=0.1)


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps


EXPERIMENT = Experiment(
    id="hyla_sraven",
    title="Attention as a hypernetwork: symbolic Raven matrices",
    paper="Schug, Kobayashi, Akram, Sacramento, Pascanu 2024, Attention as a hypernetwork",
    claim="On symbolic Raven matrices the accuracy on held-out rule combinations rises with model size; HYLA "
    "generalises to them above chance.",
    tiers={
        "smoke": Config(task=sraven.Config(features=2, permute_features=False), train=_train(30), models=("hyla",),
                        widths=(8, 16),
                        heads=2, layers=1, batch_size=32, eval_batch=128),
        "cpu": Config(task=sraven.Config(features=2, permute_features=False), train=_train(3000), models=("hyla",),
                      widths=(16, 32, 64),
                      heads=4, layers=2, eval_batch=2048),
        "paper": Config(task=sraven.Config(), train=_train(156_250), key_size=4),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("models", "widths"),
    steps=steps,
)
