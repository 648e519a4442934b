"""The dual form of neural networks revisited (Irie, Csordás, Schmidhuber, ICML 2022,
arXiv 2202.05798): every linear layer of a net trained by gradient descent is, exactly,
its initial weights plus unnormalised dot attention over all the training inputs it
saw (keys) and their error signals (values): W_T q = W_0 q + sum_t e_t (x_t . q).

Setup (the authors' MNIST runs, specs section 10, scaled to this machine): an MLP
64-256-256-10 (ReLU, Xavier-normal weights, zero biases: learners/dual_form.py,
models/mlp.py) classifies the UCI 8 x 8 digits that ship with this package
(tasks/digit_classes.py; MNIST cannot be downloaded here), batch 64, 600 steps (about 29
epochs of the 1,347 training images), in float64. Cells: plain SGD at lr 0.03, and the
authors' SGD with momentum 0.9 at lr 3e-3 (the same effective rate). Each step stores
every layer's inputs and error signals; the dual form then answers for 100 test images.

Checks (every seed, every layer; relative error ||dual - W_T q - b_T|| / ||W_T q + b_T||,
the worst of the 100 test images):
1. the identity holds for SGD: error < 1e-10, while the initial-weights term alone errs
   by >= 1e-3 (the stored attention carries the training) and the net has learned
   (test accuracy >= 0.9);
2. with momentum, the same identity holds once each stored error is rescaled by
   sum_k beta^k over the steps after it (< 1e-10), and ignoring the rescaling errs by
   >= 1e-3.
The error bound is float64's, for an identity; 1e-3 only says the ablations visibly fail.

Described, not checked (the paper presents them as visualisations, with no number to
reproduce): per layer, the share of the 100 top-scoring stored patterns (score |x_t . q|,
as the authors' code ranks them) whose label is the test image's, and how often the
"vote" (the class with the largest total score) matches the net's output and the target.
The authors' continual MNIST -> Fashion-MNIST run is not built here. The paper tier
(800-unit layers, batch 128, 5000 steps) stores about 17 GB of patterns: a GPU's memory.

Measured at the cpu tier (3 seeds, 6 runs, 69 s of compute): the claim holds. Worst
relative error over the layers 1.1e-15 to 1.7e-15 for both optimizers; the initial-weights
term alone errs by 0.59-0.66 (SGD) and ignoring momentum's rescaling by 0.53-0.59 (the
best layer of each seed);
test accuracy 0.938-0.951. The weights moved by 28%, 18% and 57% (layers 0, 1, 2, relative
Frobenius norm). SGD and momentum at the same effective rate end within 0.01 of each other.
Described: of the 100 top-scoring stored patterns, 69-70% (layer 0), 48-61% (layer 1) and
69-72% (layer 2) share the test image's class (chance 10%); the vote matches the output
for 82-89%, 70-79% and 67-84% of the test images.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import dual_form as df
from complab.models import mlp
from complab.tasks import digit_classes as dc
from complab.training import linear_steps

OPTIMIZERS = {"sgd": 0.0, "momentum": 0.9}
EXACT, VISIBLE, LEARNED = 1e-10, 1e-3, 0.9
TOP = 100
DESCRIBED = (("same_class_top", f"top {TOP} scores: same class"), ("vote_matches_output", "vote = output"),
             ("vote_matches_target", "vote = target"))
CURVE_POINTS = 11


@dataclass(frozen=True)
class Config:
    task: dc.Config
    model: mlp.Config
    lr_sgd: float = 0.03
    lr_momentum: float = 3e-3
    steps: int = 600
    batch_size: int = 64
    test_inputs: int = 100

    def __post_init__(self):
        require(self.lr_sgd > 0 and self.lr_momentum > 0, f"learning rates must be > 0; got {self}")
        require(self.steps >= 1 and self.batch_size >= 1 and 1 <= self.test_inputs <= 450,
                f"steps and batch_size must be >= 1 and test_inputs in [1, 450]; got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"optimizer": o} for o in OPTIMIZERS]


def _evaluate(key, state, task):
    del key
    b = task.full("test")
    return task.metrics(jax.vmap(state.model)(b.x.astype(state.model.weights[0].dtype)), b)


def _relative(a, b):
    return float(jnp.max(jnp.linalg.norm(a - b, axis=1) / jnp.linalg.norm(b, axis=1)))


def _layer_rows(state: df.State, layer: int, q, labels, outputs, momentum: float, steps: int) -> dict:
    model = state.model
    exact = q @ model.weights[layer].T + (0.0 if model.biases is None else model.biases[layer][None])
    dual = df.dual_output(state, layer, q, df.momentum_scale(steps, momentum))
    unscaled = df.dual_output(state, layer, q, jnp.ones(steps))
    zero = df.dual_output(state, layer, q, jnp.zeros(steps))
    s = df.scores(state, layer, q)
    stored = state.memory.labels.reshape(-1)
    top = jnp.argsort(-s, axis=1)[:, :TOP]
    totals = jnp.stack([jnp.where(stored[None] == c, s, 0.0).sum(1) for c in range(dc.CLASSES)], 1)
    vote = totals.argmax(1)
    return {"layer": layer, "identity_error": _relative(dual, exact), "unscaled_error": _relative(unscaled, exact),
            "initial_only_error": _relative(zero, exact),
            "same_class_top": float((stored[top] == labels[:, None]).mean()),
            "vote_matches_output": float((vote == outputs).mean()),
            "vote_matches_target": float((vote == labels).mean())}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    optimizer = cell["optimizer"]
    k_init, k_train = rng.streams(key, "init", "train")
    task = dc.DigitClasses(cfg.task)
    model = mlp.MLP(cfg.model, *task.dims, key=k_init)
    learner = df.RecordingSGD(lr=cfg.lr_sgd if optimizer == "sgd" else cfg.lr_momentum,
                              momentum=OPTIMIZERS[optimizer], capacity=cfg.steps, batch_size=cfg.batch_size,
                              loss=task.loss)
    evaluate = jax.tree_util.Partial(_evaluate, task=task)
    state = ctx.fit("train", learner, learner.init(k_init, model), task, key=k_train, steps=cfg.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate, eval_at=linear_steps(cfg.steps, CURVE_POINTS),
                    checkpoint=False)
    final = training.evaluation(evaluate, jax.random.key(0), state)
    test = task.full("test")
    x = test.x[:cfg.test_inputs, 0].astype(state.model.weights[0].dtype)
    labels = test.info["label"][:cfg.test_inputs]
    outputs = jax.vmap(state.model.logits)(x).argmax(-1)
    inputs = jax.vmap(state.model.inputs)(x)
    moved = [float(jnp.linalg.norm(w - w0) / jnp.linalg.norm(w0))
             for w, w0 in zip(state.model.weights, state.initial.weights)]
    return [{**_layer_rows(state, i, inputs[i], labels, outputs, OPTIMIZERS[optimizer], cfg.steps),
             "accuracy": float(final["accuracy"]), "weight_change": moved[i]} for i in range(len(inputs))]


def _worst(results: Results, optimizer: str, column: str, best=max) -> dict[int, float]:
    return {s: best(r[column] for r in rows) for s, rows in results.by_seed(optimizer=optimizer).items()}


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    checks = []
    for optimizer, ablation, what in (("sgd", "initial_only_error", "the initial-weights term alone"),
                                      ("momentum", "unscaled_error", "ignoring momentum's rescaling")):
        err, off = _worst(results, optimizer, "identity_error"), _worst(results, optimizer, ablation, min)
        acc = _worst(results, optimizer, "accuracy", min)
        ok = bool(seeds) and all(s in err and err[s] < EXACT and off[s] >= VISIBLE and acc[s] >= LEARNED
                                 for s in seeds)
        name = ("the trained MLP's every layer equals its initial weights plus attention over the stored inputs and "
                f"errors (plain SGD): relative error < {EXACT:g}, while {what} errs by >= {VISIBLE:g}, and the net "
                f"has learned (test accuracy >= {LEARNED})") if optimizer == "sgd" else (
                f"with momentum the identity holds once each stored error is rescaled by the momentum series (< "
                f"{EXACT:g}), while {what} errs by >= {VISIBLE:g}, and the net has learned (>= {LEARNED})")
        checks.append(Check(name, ok, "worst layer: " + per_seed(err, "{:.1e}") + f"; {what}, best layer: "
                            + per_seed(off, "{:.1e}") + "; test accuracy: " + per_seed(acc, "{:.3f}")))
    return checks


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    columns = (("identity_error", "dual form"), ("unscaled_error", "no momentum rescaling"),
               ("initial_only_error", "initial weights only"))
    for j, optimizer in enumerate(OPTIMIZERS):
        for k, (column, label) in enumerate(columns):
            rows = results.select(optimizer=optimizer)
            if rows and not (optimizer == "sgd" and column == "unscaled_error"):  # the same as the dual form
                ax0.scatter([r["layer"] + 0.12 * (3 * j + k - 2.5) for r in rows],
                            [max(r[column], 1e-18) for r in rows], color=f"C{k}", marker="o^"[j], s=18,
                            label=f"{optimizer}: {label}")
    ax0.axhline(EXACT, color="k", ls=":", lw=1)
    ax0.set(yscale="log", xlabel="layer", xticks=sorted({r["layer"] for r in results.rows}),
            ylabel="worst relative error (100 test images)",
            title="W_T q vs W_0 q + sum_t e_t (x_t . q)")
    ax0.legend(fontsize=7)
    layers = sorted({r["layer"] for r in results.rows})
    for k, (column, label) in enumerate(DESCRIBED):
        for layer in layers:
            v = [r[column] for r in results.select(optimizer="momentum", layer=layer)]
            ax1.bar(layer + 0.27 * (k - 1), np.mean(v), width=0.25, color=f"C{k}", label=label if layer == 0 else None)
            ax1.scatter([layer + 0.27 * (k - 1)] * len(v), v, color="k", s=6)
    ax1.axhline(1 / dc.CLASSES, color="k", ls=":", lw=1, label="chance")
    ax1.set(xlabel="layer", ylabel="fraction of 100 test images", ylim=(0, 1), xticks=layers,
            title="which stored patterns a test image attends to (momentum)")
    ax1.legend(fontsize=7)
    fig.suptitle("The dual form: a trained linear layer attends over its training patterns")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="dual_form",
    title="A linear layer trained by gradient descent is attention over its training patterns",
    paper="Irie, Csordás, Schmidhuber 2022, The dual form of neural networks revisited: connecting test time "
    "predictions to training patterns via spotlights of attention",
    claim="Every linear layer of an MLP trained by SGD (with momentum, once errors are rescaled) equals its initial "
    "weights plus unnormalised dot attention over the stored training inputs and error signals.",
    tiers={
        "smoke": Config(task=dc.Config(), model=mlp.Config(hidden=(16, 16)),
                        steps=8, batch_size=8, test_inputs=10),
        "cpu": Config(task=dc.Config(), model=mlp.Config()),
        "paper": Config(task=dc.Config(), model=mlp.Config(hidden=(800, 800)), steps=5000, batch_size=128),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=lambda cfg, cell: cfg.steps,
    x64=True,
)
