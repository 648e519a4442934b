"""Learning where to learn: gradient sparsity in meta and continual learning (von Oswald,
Zhao, Kobayashi, Schug, Caccia, Zucchet, Sacramento 2021; code
Johswald/learning_where_to_learn).

Claim: sparse-MAML (learners/sparse_maml.py: a meta-learned binary mask, trained through
a straight-through step, gates which weights the inner loop may change) reaches meta-test
performance at least MAML's, and the learned masks are patterned: how much of each layer
adapts differs between layers.

Setup, two few-shot problems:
- "digits": 5-way 5-shot classification (15 queries per class) of the UCI 8 x 8 digits
  with rotated classes (tasks/digits.py: digits 0-4 meta-train, 5-9 meta-test, 20
  classes each), an MLP 64-128-128-5 (ReLU), cross-entropy; inner SGD lr 0.4;
- "sinusoid": 10-shot sinusoid regression with MAML's task family (A in [0.1, 5], phase
  in [0, pi], x in [-5, 5]), an MLP 1-40-40-1, squared error; inner SGD lr 0.01.
Both: 5 inner steps, first order (the paper code's default; its masks still learn,
through phi - lr * mask * grad), every weight fast; the mask starts random and centred
(about half on, as the code); outer Adam at 1e-3 for the weights and 7.5e-3 for the
mask parameters (the code's mask lr 0.0075); meta-batch 16. MAML is the same learner
with every mask on. Meta-test: accuracy (digits) or mean squared error (sinusoid) of
the query points after the inner loop, on 500 tasks of the meta-test split.
Choices: an MLP where the paper uses a 4-layer ConvNet on miniImageNet (84 x 84), the
digits rotations as new classes, the sinusoid problem from MAML.

Checks (seed means, each seed shown; thresholds ours):
1. digits: sparse-MAML's meta-test accuracy >= MAML's, both having learned (>= 2 x
   chance).
2. sinusoid: sparse-MAML's meta-test error <= MAML's, both having learned (<= half the
   error of predicting 0).
3. The masks are patterned: in every run, over the layers of >= 40 weights, the
   spread of the fraction of adapting weights (most adapting layer minus least) grew
   by >= 0.1 from its spread at the start (the random start already spreads small
   layers a little; an untrained mask keeps its start).

Measured at the cpu tier (3 seeds, 301 s of compute on 2 cores; the claim holds):
digits accuracy MAML 0.615-0.710 (mean 0.657), sparse-MAML 0.832-0.840 (0.836);
sinusoid error MAML 0.84-1.02 (0.90), sparse-MAML 0.37-0.51 (0.44), zero predictor
4.3-4.7. Learned masks (fraction adapting, seed means; all start near 0.5): digits
first layer 0.40, second 0.63, readout 0.81, biases 0.01-0.02, output bias 0 (early
layers adapt least, as the paper reports); sinusoid first 0.23, second 0.32, readout
0.37, first biases 0.75. Both learners are first order here (the paper code's
default); MAML second order is not compared.
"""

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import maml, meta, optim, sparse_maml
from complab.models import students
from complab.tasks import digits, sinusoid
from complab.training import linear_steps

TASKS = ("digits", "sinusoid")
LEARNERS = ("maml", "sparse_maml")
LEARNED = 2.0  # x chance (digits); error <= 1 / LEARNED x the zero predictor's (sinusoid)
PATTERNED = 0.1
MIN_SIZE = 40  # layers at least this large (a 1-entry bias is all on or off at any time)
CURVE_POINTS = 11
MASK_LR_SCALE = 7.5  # the mask's lr / the weights' lr


@dataclass(frozen=True)
class Problem:
    hidden: int
    inner: meta.Inner
    shots: int
    queries: int  # per class (digits) or per task (sinusoid)


@dataclass(frozen=True)
class Config:
    train: optim.Config
    digits: Problem = Problem(hidden=128, inner=meta.Inner(lr=0.4, steps=5), shots=5, queries=15)
    sinusoid: Problem = Problem(hidden=40, inner=meta.Inner(lr=0.01, steps=5), shots=10, queries=10)
    tasks: tuple[str, ...] = TASKS
    first_order: bool = True
    meta_batch: int = 16
    eval_tasks: int = 500

    def __post_init__(self):
        require(set(self.tasks) <= set(TASKS) and len(self.tasks) >= 1, f"tasks are among {', '.join(TASKS)}, got "
                f"{self.tasks}")
        require(min(self.meta_batch, self.eval_tasks) >= 1, f"meta_batch and eval_tasks must be >= 1, got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"task": t, "learner": n} for t in cfg.tasks for n in LEARNERS]


def _cross_entropy(model, x, y):
    return -jnp.take_along_axis(jax.nn.log_softmax(model(x)), y[:, None], -1).mean()


def _mse(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


def _problem(cfg: Config, name: str):
    """(task, problem settings, loss, metric(model, x, y), (d_in, d_out))."""
    if name == "digits":
        return (digits.Digits(digits.Config()), cfg.digits, _cross_entropy,
                lambda m, x, y: (m(x).argmax(-1) == y).mean(), (64, 5))
    return sinusoid.Sinusoid(sinusoid.Config(amplitude=(0.1, 5.0))), cfg.sinusoid, _mse, _mse, (1, 1)


def _episodes(task, n, shots, queries, key, t=None):
    return task.episodes(key, "train", n, shots, queries)


@eqx.filter_jit
def _meta_test(learner, state, metric, batch):
    def task(sx, sy, qx, qy):
        return metric(learner.adapt_state(state, sx, sy), qx, qy)

    return meta.per_task(task, batch).mean()


def _curve(key, state, learner, metric, test):
    del key
    return {"meta_test": _meta_test(learner, state, metric, test)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    task, p, loss, metric, (d_in, d_out) = _problem(cfg, cell["task"])
    k_init, k_mask, k_eval, k_train = rng.streams(rng.named(key, cell["task"]), "init", "mask", "eval", "train")
    model = students.Config("mlp", hidden=p.hidden, layers=2).build(d_in, d_out, key=k_init)
    if cell["learner"] == "sparse_maml":
        groups = cfg.train.groups + (optim.Group(r"^\[1\]", MASK_LR_SCALE),)  # the mask: (model, mask)[1]
        learner = sparse_maml.SparseMAML(dataclasses.replace(cfg.train, groups=groups), p.inner, loss,
                                         first_order=cfg.first_order)
    else:
        learner = maml.MAML(cfg.train, p.inner, loss, first_order=cfg.first_order)
    test = task.episodes(k_eval, "test", cfg.eval_tasks, p.shots, p.queries)
    start = learner.init(k_mask, model)
    state = ctx.fit(cell["learner"], learner, start,
                    jax.tree_util.Partial(_episodes, task, cfg.meta_batch, p.shots, p.queries), key=k_train,
                    steps=cfg.train.steps, evaluate=jax.tree_util.Partial(_curve, learner=learner, metric=metric,
                                                                          test=test),
                    eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    rows = [{"metric": "meta_test", "value": float(_meta_test(learner, state, metric, test))}]
    if cell["task"] == "sinusoid":
        rows.append({"metric": "zero_predictor", "value": float(jnp.mean(test["query_y"] ** 2))})
    if isinstance(state, sparse_maml.State):
        before, sizes = sparse_maml.mask_fraction(start), {jax.tree_util.keystr(p): m.size for p, m in
                                                            jax.tree_util.tree_leaves_with_path(state.mask)}
        rows += [{"metric": "mask_on", "layer": name, "value": v, "start": before[name], "size": sizes[name]}
                 for name, v in sparse_maml.mask_fraction(state).items()]
    return rows


def _mean(d: dict) -> float:
    return float(np.mean(list(d.values())))


def expect(results: Results, cfg: Config) -> list[Check]:
    def get(t, learner, metric="meta_test"):
        return {s: results.value(seed=s, task=t, learner=learner, metric=metric) for s in results.seeds}

    checks, fmt = [], "{:.3f}"
    if "digits" in cfg.tasks:
        m, sp = get("digits", "maml"), get("digits", "sparse_maml")
        bar = LEARNED / 5
        learned = all(min(m[s], sp[s]) >= bar for s in results.seeds)
        checks.append(Check(f"digits: sparse-MAML's meta-test accuracy >= MAML's (seed means), both >= {bar:.1f}",
                            learned and _mean(sp) >= _mean(m),
                            f"MAML {per_seed(m, fmt)} (mean {_mean(m):.3f}); sparse-MAML {per_seed(sp, fmt)} "
                            f"(mean {_mean(sp):.3f})"))
    if "sinusoid" in cfg.tasks:
        m, sp, zero = get("sinusoid", "maml"), get("sinusoid", "sparse_maml"), get("sinusoid", "maml",
                                                                                   "zero_predictor")
        learned = all(max(m[s], sp[s]) <= zero[s] / LEARNED for s in results.seeds)
        checks.append(Check("sinusoid: sparse-MAML's meta-test error <= MAML's (seed means), both <= half the zero "
                            "predictor's", learned and _mean(sp) <= _mean(m),
                            f"MAML {per_seed(m, fmt)} (mean {_mean(m):.3f}); sparse-MAML {per_seed(sp, fmt)} "
                            f"(mean {_mean(sp):.3f}); zero predictor {per_seed(zero, fmt)}"))
    ok, said = True, []
    for t in cfg.tasks:
        parts = []
        for s in results.seeds:
            layers = [r for r in results.rows if r.get("seed") == s and r.get("task") == t
                      and r.get("metric") == "mask_on" and r["size"] >= MIN_SIZE]
            spread = max(r["value"] for r in layers) - min(r["value"] for r in layers) if layers else float("nan")
            start = max(r["start"] for r in layers) - min(r["start"] for r in layers) if layers else float("nan")
            ok &= spread >= start + PATTERNED
            parts.append(f"seed {s}: spread {start:.2f} -> {spread:.2f}")
        said.append(f"{t}: " + ", ".join(parts))
    checks.append(Check(f"the masks are patterned: over layers of >= {MIN_SIZE} weights the spread of the adapting "
                        f"fraction between layers grew by >= {PATTERNED} from its start",
                        ok, "; ".join(said)))
    return checks


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(cfg.tasks) + 1, figsize=(5 * (len(cfg.tasks) + 1), 4))
    for ax, t in zip(axes, cfg.tasks):
        for i, n in enumerate(LEARNERS):
            for s in results.seeds:
                steps, y = results.curve("meta_test", seed=s, task=t, learner=n)
                ax.plot(steps, y, color=f"C{i}", alpha=0.7, label=n if s == results.seeds[0] else None)
        ax.set_xlabel("outer step")
        ax.set_ylabel("meta-test accuracy" if t == "digits" else "meta-test squared error")
        ax.set_title(t)
        ax.legend(fontsize=7)
    ax = axes[-1]
    for i, t in enumerate(cfg.tasks):
        rows = [r for r in results.rows if r.get("task") == t and r.get("metric") == "mask_on"]
        layers = sorted({r["layer"] for r in rows})
        vals = [np.mean([r["value"] for r in rows if r["layer"] == layer]) for layer in layers]
        ax.bar(np.arange(len(layers)) + 0.4 * i, vals, 0.4, label=t, color=f"C{i + 2}")
        ax.set_xticks(np.arange(len(layers)) + 0.2, layers, rotation=60, fontsize=7)
    ax.set_ylabel("fraction of weights the inner loop adapts")
    ax.legend(fontsize=7)
    fig.suptitle(f"Sparse-MAML vs MAML ({len(results.seeds)} seeds)")
    fig.tight_layout()
    return fig


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps


EXPERIMENT = Experiment(
    id="sparse_maml",
    title="Learning where to learn: gradient sparsity in meta and continual learning",
    paper="von Oswald, Zhao, Kobayashi, Schug, Caccia, Zucchet, Sacramento 2021, Learning where to learn: Gradient "
    "sparsity in meta and continual learning",
    claim="Sparse-MAML, whose meta-learned binary masks choose which weights adapt in the inner loop, meta-tests at "
    "least as well as MAML, and its masks are patterned across layers.",
    tiers={
        "smoke": Config(train=optim.Config(steps=5), digits=Problem(16, meta.Inner(lr=0.4, steps=2), 1, 2),
                        sinusoid=Problem(8, meta.Inner(lr=0.01, steps=2), 5, 5), meta_batch=2, eval_tasks=8),
        "cpu": Config(train=optim.Config(steps=2000)),
        "paper": Config(train=optim.Config(steps=40_000), meta_batch=32, eval_tasks=2000,
                        digits=Problem(128, meta.Inner(lr=0.4, steps=10), 5, 15)),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("tasks",),
    steps=steps,
)
