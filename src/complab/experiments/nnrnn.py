"""Non-normal recurrent neural networks (Kerg, Goyette, Puelma Touzel, Gidel, Vorontsov,
Bengio, Lajoie, NeurIPS 2019, arXiv 1905.12080): parametrising the recurrent matrix by
its real Schur form V = P (Theta + T) P^T keeps the long memory of orthogonal RNNs
(P orthogonal, Theta rotations with moduli near 1) while the learned non-normal part T
adds transient dynamics.

Setup (the authors' copy task, specs section 5, scaled to this machine): the copy-memory
task of tasks/symbol_copy.py (10 symbols of 8, one-hot, recalled after a delay of 100:
length 120; cross-entropy over every step, whose memoryless baseline is 10 ln 8 / 120 =
0.173). Models (models/nnrnn.py), 64 units, modReLU: the nnRNN, the orthogonal RNN
(alpha = 1, T = 0) and a plain RNN (a free Glorot-normal V). The plain RNN uses modReLU
too (the authors' default nonlinearity), so the three differ only in V. RMSprop (alpha
0.99) at lr 5e-4, P's generator at lr_orth 1e-6 (a learning-rate group in place of the
authors' separate optimizer), penalties delta sum (alpha - 1)^2 with delta 1e-4 and 1e-6
||T||^2, batch 16, 2000 steps (the authors: batch 10, 128 units, delay 200, 1500 updates:
the paper tier).

Checks (each seed; final loss on 1024 fresh sequences):
1. the nnRNN and the orthogonal RNN learn the copy: loss < 0.3 x the memoryless baseline;
2. the plain RNN does not: its loss stays >= 0.7 x the baseline;
3. the nnRNN is at least as good as the orthogonal RNN: loss <= 1.1 x its loss;
4. the nnRNN uses its non-normal part: the departure from normality ||T||_F / ||Theta +
   T||_F >= 0.05 (T starts at 0 and is decayed towards it).
5. where computation over ongoing input is needed, the nnRNN beats the orthogonal RNN:
   on permuted sequential digits (the UCI 8 x 8 digits read one pixel at a time in a fixed
   random order, 64 steps: the paper's psMNIST, tasks/digit_classes.py) its test accuracy
   is higher in every seed (a paired win: 1 in 8 by chance for equal models), both having
   learned (>= 0.5). Settings there: the paper's supplementary psMNIST penalties (delta
   0.15, 1e-4 ||T||^2; the authors' README lists newer ones, delta 0.1) and lr_orth / lr =
   0.1, RMSprop at lr 1e-3, batch 100, 2000 steps, the same 64 units and initialisation as
   on the copy task (theirs: 512 units, lr 1.5e-4, Cayley init). The paper tier keeps the
   copy's 128 units for both tasks and the supplement's rates.
The thresholds of 1-4 are the spec's proposals. Character-level Penn Treebank, the
paper's other ongoing-input task, is not built here.

Measured at the cpu tier (3 seeds, 18 runs, 189 s of compute): the claim holds on the copy
task (checks 1-4) and in part on ongoing input (check 5). Copy, loss /
baseline: nnRNN 0.013 / 0.020 / 0.022, orthogonal 0.060 / 0.049 / 0.081, plain RNN 2.31 /
1.01 / 1.07; the nnRNN's loss is 2.5-4.5x below the orthogonal RNN's in every seed; its
departure from normality ended at 0.29-0.33. The plain RNN's modReLU states grow over the
120 steps from a Glorot V (seed 0 starts at a loss near 1e6 and ends at 2.3x the
baseline); it never learns the delay. Permuted sequential digits: test accuracy nnRNN
0.947 / 0.962 / 0.947 (mean 0.952), orthogonal 0.949 / 0.942 / 0.927 (0.939), plain RNN
0.744 / 0.873 / 0.873: the nnRNN wins in seeds 1 and 2 and loses seed 0 by one test image,
so the paired check fails.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import nnrnn
from complab.tasks import digit_classes as dc
from complab.tasks import symbol_copy as sc
from complab.training import linear_steps

LEARNED, STUCK, AS_GOOD, DEPARTURE, SEQ_LEARNED = 0.3, 0.7, 1.1, 0.05, 0.5
CURVE_POINTS = 11
CURVE_BATCH = 256  # the curve's evaluation batch (the final evaluation: eval_batch; smaller tiers share one)


@dataclass(frozen=True)
class Sequential:
    """The second task: permuted sequential digits (the paper's psMNIST), computation over ongoing input."""

    task: dc.Config = dc.Config(form="pixels", permute=True)
    lr: float = 1e-3
    lr_orth: float = 1e-4
    delta: float = 0.15
    t_decay: float = 1e-4
    steps: int = 2000
    batch_size: int = 100


@dataclass(frozen=True)
class Config:
    task: sc.Config
    hidden: int = 64
    lr: float = 5e-4
    lr_orth: float = 1e-6
    delta: float = 1e-4  # the penalty on the moduli alpha's distance from 1
    t_decay: float = 1e-6  # L2 on T
    steps: int = 2000
    batch_size: int = 16
    eval_batch: int = 1024
    digits: Sequential | None = Sequential()

    def __post_init__(self):
        require(self.task.loss_on == "all", "the nnRNN's copy task averages the loss over every step (loss_on all)")
        require(self.lr > 0 and self.lr_orth >= 0 and self.delta >= 0 and self.t_decay >= 0,
                f"lr must be > 0 and lr_orth, delta, t_decay >= 0; got {self}")
        require(self.steps >= 1 and self.batch_size >= 1 and self.eval_batch >= 1,
                f"steps, batch_size and eval_batch must be >= 1; got {self}")


def cells(cfg: Config) -> list[dict]:
    tasks = ("copy", "digits") if cfg.digits is not None else ("copy",)
    return [{"task": t, "model": k} for t in tasks for k in nnrnn.KINDS]


def _loss(task_loss, delta: float, t_decay: float):
    """The task's loss plus the nnRNN's penalties (a Partial: runs share the compiled step)."""
    return jax.tree_util.Partial(_penalised, supervised.per_example(task_loss), delta, t_decay)


def _penalised(base, delta, t_decay, model, batch, key):
    total = base(model, batch, key)
    if model.alpha is not None:
        total = total + delta * jnp.sum((model.alpha - 1) ** 2) + t_decay * jnp.sum(model.non_normal() ** 2)
    return total


def _evaluate(key, state, task, n):
    del key
    b = task.sample(jax.random.key(0), "test", n) if n else task.full("test")
    return task.metrics(jax.vmap(state.model)(b.x), b)


def departure(model: nnrnn.NonNormalRNN) -> float:
    """||T||_F / ||Theta + T||_F: how far V is from normal (0 for a normal matrix)."""
    t = model.non_normal()
    if model.theta is None:
        return 0.0
    alpha = model.alpha if model.alpha is not None else jnp.ones_like(model.theta)
    return float(jnp.linalg.norm(t) / jnp.linalg.norm(nnrnn.block_rotations(alpha, model.theta) + t))


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    kind, copy = cell["model"], cell.get("task", "copy") == "copy"
    k_init, k_train = rng.streams(key, "init", "train")
    arm = cfg if copy else cfg.digits
    task = sc.SymbolCopy(cfg.task) if copy else dc.DigitClasses(cfg.digits.task)
    model = nnrnn.NonNormalRNN(nnrnn.Config(kind=kind, hidden=cfg.hidden), *task.dims, key=k_init)
    groups = (optim.Group(r"\.s$", arm.lr_orth / arm.lr),) if kind != "rnn" else ()
    learner = supervised.Supervised(optim.Config(kind="rmsprop", lr=arm.lr, b2=0.99, steps=arm.steps, groups=groups),
                                    _loss(task.loss, arm.delta, arm.t_decay))
    evaluate = jax.tree_util.Partial(_evaluate, task=task, n=min(CURVE_BATCH, cfg.eval_batch) if copy else 0)
    state = ctx.fit("train", learner, learner.init(k_init, model), task, key=k_train, steps=arm.steps,
                    batch_size=arm.batch_size, evaluate=evaluate, eval_at=linear_steps(arm.steps, CURVE_POINTS))
    final = training.evaluation(jax.tree_util.Partial(_evaluate, task=task, n=cfg.eval_batch if copy else 0),
                                jax.random.key(0), state)
    m = state.model
    row = {"loss": float(final["loss"]), "departure": departure(m),
           "alpha_mean": float(m.alpha.mean()) if m.alpha is not None else 1.0}
    if copy:
        return [{**row, "recall_accuracy": float(final["recall_accuracy"]), "baseline": cfg.task.baseline}]
    return [{**row, "accuracy": float(final["accuracy"])}]


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    loss = {k: {s: rows[0]["loss"] for s, rows in results.by_seed(model=k, task="copy").items()} for k in nnrnn.KINDS}
    dep = {s: rows[0]["departure"] for s, rows in results.by_seed(model="nnrnn", task="copy").items()}
    full = bool(seeds) and all(len(loss[k]) == len(seeds) for k in nnrnn.KINDS)
    base = cfg.task.baseline

    def rel(k):
        return {s: v / base for s, v in loss[k].items()}

    ok1 = full and all(loss[k][s] < LEARNED * base for k in ("nnrnn", "orthogonal") for s in seeds)
    ok2 = full and all(loss["rnn"][s] >= STUCK * base for s in seeds)
    ok3 = full and all(loss["nnrnn"][s] <= AS_GOOD * loss["orthogonal"][s] for s in seeds)
    ok4 = full and all(dep[s] >= DEPARTURE for s in seeds)
    checks = [
        Check(f"the nnRNN and the orthogonal RNN learn the copy: loss < {LEARNED} x the memoryless baseline "
              f"({base:.4f})", ok1, "loss / baseline, nnRNN: " + per_seed(rel("nnrnn"), "{:.3f}") + "; orthogonal: "
              + per_seed(rel("orthogonal"), "{:.3f}")),
        Check(f"the plain RNN does not: its loss stays >= {STUCK} x the baseline", ok2,
              "loss / baseline: " + per_seed(rel("rnn"), "{:.3f}")),
        Check(f"the nnRNN is at least as good as the orthogonal RNN: loss <= {AS_GOOD} x its loss", ok3,
              "loss, nnRNN vs orthogonal: " + ", ".join(f"seed {s}: {loss['nnrnn'].get(s, np.nan):.4f} vs "
                                                        f"{loss['orthogonal'].get(s, np.nan):.4f}" for s in seeds)),
        Check(f"the nnRNN uses its non-normal part: ||T||_F / ||Theta + T||_F >= {DEPARTURE}", ok4,
              "departure from normality: " + per_seed(dep, "{:.3f}")),
    ]
    if cfg.digits is not None:
        acc = {k: {s: rows[0]["accuracy"] for s, rows in results.by_seed(model=k, task="digits").items()}
               for k in nnrnn.KINDS}
        both = bool(seeds) and all(len(acc[k]) == len(seeds) for k in ("nnrnn", "orthogonal"))
        mean = {k: float(np.mean(list(v.values()))) if v else np.nan for k, v in acc.items()}
        ok5 = both and all(acc[k][s] >= SEQ_LEARNED for k in ("nnrnn", "orthogonal") for s in seeds) and all(
            acc["nnrnn"][s] > acc["orthogonal"][s] for s in seeds)
        checks.append(Check(
            f"where computation over ongoing input is needed (permuted sequential digits) the nnRNN is better than "
            f"the orthogonal RNN: higher test accuracy in every seed, both having learned (>= {SEQ_LEARNED})", ok5,
            "; ".join(f"{k}: " + per_seed(acc[k], "{:.3f}") + f" (mean {mean[k]:.3f})" for k in nnrnn.KINDS)))
    return checks


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    for j, k in enumerate(nnrnn.KINDS):
        for s in results.seeds:
            label = k if s == results.seeds[0] else None
            try:
                steps, loss = results.curve("loss", seed=s, model=k, task="copy")
                ax0.plot(steps, loss, color=f"C{j}", alpha=0.8, label=label)
                steps, acc = results.curve("accuracy", seed=s, model=k, task="digits")
                ax1.plot(steps, acc, color=f"C{j}", alpha=0.8, label=label)
            except ValueError:
                continue
    ax0.axhline(cfg.task.baseline, color="k", ls=":", lw=1, label="memoryless baseline")
    ax0.set(yscale="log", xlabel="step", ylabel="test cross-entropy (every step)",
            title=f"copy after a delay of {cfg.task.delay}, {cfg.hidden} units")
    ax0.legend(fontsize=8)
    ax1.axhline(0.1, color="k", ls=":", lw=1, label="chance")
    ax1.set(xlabel="step", ylabel="test accuracy", ylim=(0, 1), title="permuted sequential digits")
    ax1.legend(fontsize=8)
    fig.suptitle("Non-normal RNN vs orthogonal RNN vs plain RNN")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="nnrnn",
    title="Non-normal RNNs keep an orthogonal RNN's memory and add transient dynamics",
    paper="Kerg, Goyette, Puelma Touzel, Gidel, Vorontsov, Bengio, Lajoie 2019, Non-normal recurrent neural network "
    "(nnRNN): learning long time dependencies while improving expressivity with transient dynamics",
    claim="On the copy task with a long delay, the nnRNN (V = P (Theta + T) P^T with a learned non-normal T) and the "
    "orthogonal RNN drive the loss far below the memoryless baseline where a plain RNN cannot, and the nnRNN is at "
    "least as good as the orthogonal RNN while learning a non-zero T; on permuted sequential digits, which need "
    "computation over ongoing input, it beats the orthogonal RNN.",
    tiers={
        "smoke": Config(task=sc.Config(symbols=3, alphabet=4, delay=10), hidden=8, steps=10, batch_size=4,
                        eval_batch=16, digits=Sequential(task=dc.Config(form="rows"), steps=10, batch_size=8)),
        "cpu": Config(task=sc.Config(symbols=10, alphabet=8, delay=100)),
        "paper": Config(task=sc.Config(symbols=10, alphabet=8, delay=200), hidden=128, steps=1500, batch_size=10,
                        digits=Sequential(lr=1.5e-4, lr_orth=1.5e-5, steps=50_000)),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=lambda cfg, cell: cfg.steps,
)
