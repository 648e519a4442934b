"""Random initialisations performing above chance and how to find them (Benzing, Schug,
Meier, von Oswald, Akram, Zucchet, Aitchison, Steger, OPT@NeurIPS 2022, arXiv
2209.07509): two MLPs trained by SGD from different random initialisations lie in one
valley once their hidden units are permuted to match, and the same permutation, applied to
the two random initialisations, makes their average perform well above chance.

Setup (the authors' code, specs section 9, scaled to this machine): MLPs 64-512-10 with
one hidden ReLU layer, no biases, Kaiming-normal weights (models/mlp.py), trained on the
UCI 8 x 8 digits that ship with this package (tasks/digit_classes.py; the authors use
Fashion-MNIST, which cannot be downloaded here) by AdamW (lr 1e-3, torch's default
weight decay 0.01), batch 100. Four nets per seed from independent initialisations and
data orders: the pair (a, b) and an unrelated pair (c, d).

Permutation (probes/matching.py): activation matching, as the authors' code does: each
hidden unit's activations over the training images, L2-normalised across the images,
compared by uncentred cosine similarity, assigned by the Hungarian method. The
permutation is computed from the trained nets and applied to the trained nets (P b) and
to their initialisations (P b_0); the control applies the permutation of the unrelated
pair (c, d) to the initialisations of (a, b).

Paths: W(alpha) = alpha a + (1 - alpha) b at 11 points, for the trained nets with and
without the permutation, and for the initialisations with the pair's permutation, without
one, and with the control's. Metrics on the 450 test images: accuracy, NLL, and the
tempered NLL (the logits scaled by the best of 100 inverse temperatures in [0.1, 100],
log-spaced, chosen on the test images themselves, as the authors' utils.py does).

Checks (each seed; the magnitudes are the spec's proposals, the directions the paper's):
1. the barrier vanishes after permutation: on the permuted path of the trained nets the
   worst interior test NLL is <= 25% above the endpoints' mean and the worst accuracy
   within 2 points of theirs, while on the unpermuted path the NLL rises by >= 50% (a
   clear barrier). The barrier is measured in the loss, as in the linear-connectivity
   literature (Entezari et al. 2022): on these easy digits the unpermuted midpoint's
   accuracy hardly drops (see the numbers below), so accuracy alone shows no barrier to
   remove;
2. the average of the permuted initialisations performs above chance: test accuracy >=
   0.2 (chance 0.1) with a tempered NLL below ln 10, while the plain average of the
   initialisations stays <= 0.15;
3. the control does not: the initialisations averaged under the unrelated pair's
   permutation stay <= 0.15.

Measured at the cpu tier (5 seeds, 500 steps per net, about 3 s a seed): the claim holds.
The trained nets reach 0.967-0.976 test accuracy. Test NLL barrier: permuted +10.5% to
+20.4%, unpermuted +176% to +226%; accuracy barrier: permuted -0.001 to 0.008, unpermuted
0.014 to 0.032. Averaged initialisations (alpha = 0.5): permuted 0.211 / 0.276 / 0.409 /
0.438 / 0.447 test accuracy (tempered NLL 1.43-1.95), plain 0.036-0.127, control
0.022-0.127.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import mlp
from complab.probes.matching import match_units
from complab.tasks import digit_classes as dc
from complab.training import linear_steps

PATHS = ("trained_vanilla", "trained_permuted", "init_vanilla", "init_permuted", "init_control")
FLAT, NEAR, BARRIER, ABOVE, CHANCE_BAND = 0.25, 0.02, 0.5, 0.2, 0.15
TEMPERATURES = np.logspace(-1, 2, 100)  # inverse temperatures
CURVE_POINTS = 6


@dataclass(frozen=True)
class Config:
    task: dc.Config
    model: mlp.Config
    train: optim.Config
    batch_size: int = 100
    alphas: int = 11

    def __post_init__(self):
        require(self.alphas >= 3 and self.alphas % 2 == 1, f"alphas must be odd and >= 3 (the midpoint is on the "
                f"path), got {self.alphas}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")


def permuted(model: mlp.MLP, perms: list[np.ndarray]) -> mlp.MLP:
    """The same function with hidden layer l's units reordered by perms[l] (W_l's rows,
    W_{l+1}'s columns, b_l)."""
    weights, biases = list(model.weights), None if model.biases is None else list(model.biases)
    for layer, p in enumerate(perms):
        weights[layer] = weights[layer][p]
        weights[layer + 1] = weights[layer + 1][:, p]
        if biases is not None:
            biases[layer] = biases[layer][p]
    model = eqx.tree_at(lambda m: m.weights, model, tuple(weights))
    return model if biases is None else eqx.tree_at(lambda m: m.biases, model, tuple(biases))


def matching(a: mlp.MLP, b: mlp.MLP, x: jax.Array) -> list[np.ndarray]:
    """Activation matching of every hidden layer of b to a's, on inputs x [n, d_in]."""
    ha, hb = jax.vmap(a.inputs)(x), jax.vmap(b.inputs)(x)
    return [match_units(np.asarray(u), np.asarray(v)) for u, v in zip(ha[1:], hb[1:])]


def _metrics(model: mlp.MLP, test) -> dict:
    logits, labels = jax.vmap(model.logits)(test.x[:, 0]), test.info["label"]

    def nll(beta):
        return -jnp.take_along_axis(jax.nn.log_softmax(beta * logits), labels[:, None], 1).mean()

    tempered = jax.vmap(nll)(jnp.asarray(TEMPERATURES))
    return {"accuracy": float((logits.argmax(-1) == labels).mean()), "nll": float(nll(1.0)),
            "tempered_nll": float(tempered.min()), "inverse_temperature": float(TEMPERATURES[int(tempered.argmin())])}


def _evaluate(key, state, task):
    del key
    b = task.full("test")
    return task.metrics(jax.vmap(state.model)(b.x), b)


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    task = dc.DigitClasses(cfg.task)
    learner = supervised.Supervised(cfg.train, supervised.per_example(task.loss))
    evaluate = jax.tree_util.Partial(_evaluate, task=task)
    inits, trained = [], []
    for name in "abcd":
        k_init, k_train = rng.streams(rng.named(key, name), "init", "train")
        model = mlp.MLP(cfg.model, *task.dims, key=k_init)
        state = ctx.fit(f"net_{name}", learner, learner.init(k_init, model), task, key=k_train,
                        steps=cfg.train.steps, batch_size=cfg.batch_size, evaluate=evaluate,
                        eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
        inits.append(model)
        trained.append(state.model)
    x, test = task.full("train").x[:, 0], task.full("test")
    perm, control = matching(trained[0], trained[1], x), matching(trained[2], trained[3], x)
    pairs = {"trained_vanilla": (trained[0], trained[1]),
             "trained_permuted": (trained[0], permuted(trained[1], perm)),
             "init_vanilla": (inits[0], inits[1]),
             "init_permuted": (inits[0], permuted(inits[1], perm)),
             "init_control": (inits[0], permuted(inits[1], control))}
    rows = []
    for path, (a, b) in pairs.items():
        for alpha in np.linspace(0, 1, cfg.alphas):
            mid = jax.tree.map(lambda u, v: alpha * u + (1 - alpha) * v, a, b)  # noqa: B023
            rows.append({"path": path, "alpha": round(float(alpha), 4), **_metrics(mid, test)})
    kept = float(np.mean([np.mean(p == np.arange(len(p))) for p in perm]))
    return [{**r, "identity_fraction": kept} for r in rows]


def _path(results: Results, path: str) -> dict[int, dict[float, dict]]:
    return {s: {r["alpha"]: r for r in rows} for s, rows in results.by_seed(path=path).items()}


def accuracy_barrier(points: dict[float, dict]) -> float:
    """How far the worst interior point's accuracy falls below the endpoints' mean."""
    alphas = sorted(points)
    ends = (points[alphas[0]]["accuracy"] + points[alphas[-1]]["accuracy"]) / 2
    return ends - min(points[a]["accuracy"] for a in alphas[1:-1])


def loss_barrier(points: dict[float, dict]) -> float:
    """How far the worst interior point's test NLL rises above the endpoints' mean, as a
    fraction of that mean."""
    alphas = sorted(points)
    ends = (points[alphas[0]]["nll"] + points[alphas[-1]]["nll"]) / 2
    return (max(points[a]["nll"] for a in alphas[1:-1]) - ends) / ends


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    paths = {p: _path(results, p) for p in PATHS}
    full = bool(seeds) and all(s in paths[p] and len(paths[p][s]) == cfg.alphas for p in PATHS for s in seeds)
    if not full:
        return [Check(n, False, "missing runs: " + ", ".join(results.failures) if results.failures else "no rows")
                for n in ("barrier", "init average", "control")]
    trained = ("trained_vanilla", "trained_permuted")
    bar = {p: {s: loss_barrier(paths[p][s]) for s in seeds} for p in trained}
    acc_bar = {p: {s: accuracy_barrier(paths[p][s]) for s in seeds} for p in trained}
    mid = {p: {s: paths[p][s][0.5] for s in seeds} for p in ("init_vanilla", "init_permuted", "init_control")}
    acc = {p: {s: v["accuracy"] for s, v in m.items()} for p, m in mid.items()}
    ok1 = all(bar["trained_permuted"][s] <= FLAT and acc_bar["trained_permuted"][s] <= NEAR
              and bar["trained_vanilla"][s] >= BARRIER for s in seeds)
    ok2 = all(acc["init_permuted"][s] >= ABOVE and mid["init_permuted"][s]["tempered_nll"] < np.log(10)
              and acc["init_vanilla"][s] <= CHANCE_BAND for s in seeds)
    ok3 = all(acc["init_control"][s] <= CHANCE_BAND for s in seeds)
    return [
        Check(f"the barrier vanishes after permutation: on the permuted path of the trained nets the test NLL rises "
              f"<= {FLAT:.0%} above its endpoints' mean and the accuracy falls <= {NEAR:.0%}, while on the unpermuted "
              f"path the NLL rises >= {BARRIER:.0%} (a clear barrier)", ok1,
              "NLL barrier, permuted: " + per_seed(bar["trained_permuted"]) + "; unpermuted: "
              + per_seed(bar["trained_vanilla"]) + ". Accuracy barrier, permuted: "
              + per_seed(acc_bar["trained_permuted"], "{:.3f}") + "; unpermuted: "
              + per_seed(acc_bar["trained_vanilla"], "{:.3f}")),
        Check(f"the average of the initialisations permuted by the trained nets' permutation performs above chance "
              f"(test accuracy >= {ABOVE}, tempered NLL < ln 10 = 2.303) while their plain average stays <= "
              f"{CHANCE_BAND}", ok2,
              "permuted: " + per_seed(acc["init_permuted"], "{:.3f}") + " (tempered NLL "
              + ", ".join(f"{mid['init_permuted'][s]['tempered_nll']:.3f}" for s in seeds) + "); plain: "
              + per_seed(acc["init_vanilla"], "{:.3f}")),
        Check(f"the control does not: the initialisations averaged under an unrelated pair's permutation stay <= "
              f"{CHANCE_BAND}", ok3, "control: " + per_seed(acc["init_control"], "{:.3f}")),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, group in zip(axes, ("trained", "init")):
        for j, path in enumerate(p for p in PATHS if p.startswith(group)):
            for s, points in _path(results, path).items():
                alphas = sorted(points)
                metric = "nll" if group == "trained" else "accuracy"
                ax.plot(alphas, [points[a][metric] for a in alphas], color=f"C{j}", marker=".",
                        label=path.split("_")[1] if s == results.seeds[0] else None)
        if group == "trained":
            ax.set(xlabel="alpha (weight of net a)", ylabel="test NLL", ylim=(0, None), title="trained nets")
        else:
            ax.axhline(0.1, color="k", ls=":", lw=1, label="chance")
            ax.set(xlabel="alpha (weight of net a)", ylabel="test accuracy", ylim=(0, 1),
                   title="their random initialisations")
        ax.legend(fontsize=8)
    fig.suptitle("Linear paths between two MLPs, before and after matching their hidden units")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="permuted_initialisations",
    title="Permuted SGD solutions share a valley, and permuted random initialisations average above chance",
    paper="Benzing, Schug, Meier, von Oswald, Akram, Zucchet, Aitchison, Steger 2022, Random initialisations "
    "performing above chance and how to find them",
    claim="Once the hidden units of two trained MLPs are matched, the linear path between them has no barrier, and the "
    "same permutation applied to their random initialisations makes the average of those perform well above chance; "
    "an unrelated permutation does not.",
    tiers={
        "smoke": Config(task=dc.Config(), model=mlp.Config(hidden=(32,), bias=False, init="kaiming_normal"),
                        train=optim.Config(lr=1e-3, weight_decay=0.01, steps=10), batch_size=16, alphas=3),
        "cpu": Config(task=dc.Config(), model=mlp.Config(hidden=(512,), bias=False, init="kaiming_normal"),
                      train=optim.Config(lr=1e-3, weight_decay=0.01, steps=500)),
        "paper": Config(task=dc.Config(), model=mlp.Config(hidden=(1000,), bias=False, init="kaiming_normal"),
                        train=optim.Config(lr=1e-3, weight_decay=0.01, steps=5000)),
    },
    run=run,
    expect=expect,
    plot=plot,
    steps=lambda cfg, cell: 4 * cfg.train.steps,
)
