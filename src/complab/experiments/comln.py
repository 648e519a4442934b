"""Continuous-time meta-learning with forward-mode differentiation (Deleu, Kanaa, Feng,
Kerg, Bengio, Lajoie, Bacon 2022; code tristandeleu/jax-comln).

Claim: COMLN (learners/comln.py: a linear classifier adapted on meta-learned features by
gradient flow up to a meta-learned horizon T, meta-gradients by forward sensitivities
in a custom VJP) meta-trains: its query accuracy on new tasks rises well above what
the same adaptation reaches on the untrained features, the horizon T moves from its
initial value, and (`complab bench meta`) the memory of its meta-gradient does not grow
with the horizon.

Setup: synthetic 5-way 5-shot tasks (tasks/gaussian_clusters.py: class centres drawn
per task in a 4-dimensional subspace of R^32, nuisance noise 3 in the other 28
directions, rotated), 15 query points per class; features an MLP 32-64-64 (ReLU);
W0 meta-learned (lecun-normal start), T = exp(log_t) from T = 1, as the paper's code;
the solver is RK4 with steps <= `dt` (the code: adaptive Dormand-Prince). Outer loop:
Adam at 1e-3 (the code: SGD with Nesterov momentum 0.9 at lr 0.1; not tried here).
The forward sensitivities cost O(M^4 N) per solver step for M support points (the
paper trades compute for memory): about 1 s per outer step of 16 tasks at dt 0.05 on
two cores, so the cpu tier takes 300 steps of 8 tasks at dt 0.1; the paper tier 20,000
steps of 16 at dt 0.05.

Checks (each seed; thresholds ours, the paper reports accuracies on image benchmarks):
1. Meta-training raises the held-out query accuracy by >= 0.1 over the untrained
   features' (both measured after the gradient flow, on the same 500 new tasks), and
   above 2 x chance.
2. T is adapted: the learned horizon differs from T0 = 1 by >= 10%, and with the
   learned features and W0 the held-out query loss at the learned T is below the loss
   at T0 (the move helps; Adam would also move log T for a wrong-signed gradient).
Measured at the cpu tier (3 seeds, 185 s of compute on 2 cores; the claim holds):
query accuracy 0.207-0.212 -> 0.724-0.822; T 1 -> 1.57-1.70, query loss at the
learned T 0.53-0.75 against 0.60-0.90 at T0. `complab bench meta`: the meta-gradient's
planned memory stays 2.2 MiB from 10 to 300 solver steps, where backpropagation
through the same solve grows from 0.16 to 2.0 MiB (and is ~40 x faster here: the
sensitivities cost O(M^4 N) per step).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import comln, optim
from complab.tasks import gaussian_clusters
from complab.training import linear_steps

GAIN = 0.1
ABOVE_CHANCE = 2.0
MOVED = 0.1
CURVE_POINTS = 11


@dataclass(frozen=True)
class Config:
    task: gaussian_clusters.Config
    train: optim.Config
    shots: int = 5
    queries: int = 15
    hidden: int = 64
    features: int = 64
    dt: float = 0.05
    t0: float = 1.0
    meta_batch: int = 16
    eval_tasks: int = 500

    def __post_init__(self):
        require(min(self.shots, self.queries, self.hidden, self.features, self.meta_batch, self.eval_tasks) >= 1
                and self.dt > 0 and self.t0 > 0,
                f"shots, queries, hidden, features, meta_batch, eval_tasks must be >= 1 and dt, t0 > 0; got {self}")


class Features(eqx.Module):
    """A set [n, dim] -> [n, features]: a two-layer ReLU MLP applied to each point."""

    layers: list[eqx.nn.Linear]

    def __init__(self, dim: int, hidden: int, out: int, *, key: jax.Array):
        k1, k2 = jax.random.split(key)
        self.layers = [eqx.nn.Linear(dim, hidden, key=k1), eqx.nn.Linear(hidden, out, key=k2)]

    def __call__(self, x):
        for layer in self.layers:
            x = jax.nn.relu(jax.vmap(layer)(x))
        return x


def _episodes(task, n, shots, queries, key, t=None):
    return task.episodes(key, "train", n, shots, queries)


@eqx.filter_jit
def _loss(learner, model, batch):
    return learner.episode_loss(model, batch)[0]


@eqx.filter_jit
def _accuracy(learner, model, batch):
    return learner.episode_loss(model, batch)[1]["accuracy"]


def _curve(key, state, learner, test):
    del key
    return {"test_accuracy": _accuracy(learner, state.model, test), "horizon": jnp.exp(state.model.log_t)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    task = gaussian_clusters.GaussianClusters(cfg.task)
    k_f, k_w, k_eval, k_train = rng.streams(key, "features", "w0", "eval", "train")
    model = comln.Model(Features(cfg.task.dim, cfg.hidden, cfg.features, key=k_f), cfg.task.ways, cfg.features,
                        t0=cfg.t0, key=k_w)
    learner = comln.COMLN(cfg.train, dt=cfg.dt)
    test = task.episodes(k_eval, "test", cfg.eval_tasks, cfg.shots, cfg.queries)
    before = float(_accuracy(learner, model, test))
    state = ctx.fit("comln", learner, learner.init(k_train, model),
                    jax.tree_util.Partial(_episodes, task, cfg.meta_batch, cfg.shots, cfg.queries), key=k_train,
                    steps=cfg.train.steps, evaluate=jax.tree_util.Partial(_curve, learner=learner, test=test),
                    eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    at_t0 = eqx.tree_at(lambda m: m.log_t, state.model, jnp.log(jnp.asarray(cfg.t0)))
    return [{"metric": "accuracy", "when": "before", "value": before},
            {"metric": "accuracy", "when": "after", "value": float(_accuracy(learner, state.model, test))},
            {"metric": "horizon", "when": "after", "value": float(jnp.exp(state.model.log_t))},
            {"metric": "query_loss", "when": "after", "value": float(_loss(learner, state.model, test))},
            {"metric": "query_loss", "when": "after, at T0", "value": float(_loss(learner, at_t0, test))}]


def expect(results: Results, cfg: Config) -> list[Check]:
    def get(metric, when):
        return {s: results.value(seed=s, metric=metric, when=when) for s in results.seeds}

    before, after, horizon = get("accuracy", "before"), get("accuracy", "after"), get("horizon", "after")
    loss, loss_t0 = get("query_loss", "after"), get("query_loss", "after, at T0")
    chance = 1 / cfg.task.ways
    fmt = "{:.3f}"
    return [
        Check(f"meta-training raises held-out query accuracy by >= {GAIN} over the untrained features and above "
              f"{ABOVE_CHANCE:.0f} x chance ({chance:.2f})",
              all(after[s] >= before[s] + GAIN and after[s] >= ABOVE_CHANCE * chance for s in results.seeds),
              f"before {per_seed(before, fmt)}; after {per_seed(after, fmt)}"),
        Check(f"the horizon T is adapted: it moved >= {MOVED:.0%} from T0 = {cfg.t0:g} and the held-out query loss "
              "at the learned T is below the loss at T0",
              all(abs(horizon[s] / cfg.t0 - 1) >= MOVED and loss[s] < loss_t0[s] for s in results.seeds),
              f"T {per_seed(horizon, fmt)}; query loss {per_seed(loss, '{:.4f}')}, at T0 "
              f"{per_seed(loss_t0, '{:.4f}')}"),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_t) = plt.subplots(1, 2, figsize=(10, 4))
    for i, s in enumerate(results.seeds):
        steps, acc = results.curve("test_accuracy", seed=s)
        ax_acc.plot(steps, acc, color=f"C{i}", label=f"seed {s}")
        steps, t = results.curve("horizon", seed=s)
        ax_t.plot(steps, t, color=f"C{i}", label=f"seed {s}")
    ax_acc.axhline(1 / cfg.task.ways, color="k", ls=":", lw=1, label="chance")
    ax_acc.set_xlabel("outer step")
    ax_acc.set_ylabel(f"query accuracy on {cfg.eval_tasks} new tasks")
    ax_acc.legend(fontsize=7)
    ax_t.set_xlabel("outer step")
    ax_t.set_ylabel("horizon T")
    fig.suptitle(f"COMLN: {cfg.task.ways}-way {cfg.shots}-shot Gaussian clusters ({len(results.seeds)} seeds)")
    fig.tight_layout()
    return fig


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps


EXPERIMENT = Experiment(
    id="comln",
    title="Continuous-time meta-learning with forward-mode differentiation",
    paper="Deleu, Kanaa, Feng, Kerg, Bengio, Lajoie, Bacon 2022, Continuous-time meta-learning with forward mode "
    "differentiation",
    claim="COMLN meta-trains features and its adaptation horizon by forward-mode meta-gradients: held-out query "
    "accuracy rises well above the untrained features' and T is adapted, in memory that does not grow with T.",
    tiers={
        "smoke": Config(task=gaussian_clusters.Config(), train=optim.Config(lr=1e-3, steps=5), hidden=16, features=16,
                        meta_batch=2, eval_tasks=8),
        "cpu": Config(task=gaussian_clusters.Config(), train=optim.Config(lr=1e-3, steps=300), dt=0.1, meta_batch=8),
        "paper": Config(task=gaussian_clusters.Config(), train=optim.Config(lr=1e-3, steps=20_000), eval_tasks=2000),
    },
    run=run,
    expect=expect,
    plot=plot,
    steps=steps,
)
