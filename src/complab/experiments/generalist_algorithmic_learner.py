"""Trained on small graphs, an encode-process-decode network with a triplet-GMPNN processor
executes BFS, Bellman-Ford and insertion sort on larger ones, one shared processor
trained on all three does about as well as the single-task ones, and the triplets and
gate help (Ibarz et al. 2022, "A Generalist Neural Algorithmic Learner", arXiv
2209.11142; code google-deepmind/clrs; specs section 8).

Setup (tasks/clrs.py, tasks/clrs_algorithms.py, models/algorithmic_reasoner.py,
models/gmpnn.py): CLRS's samplers, hints and specs for the three algorithms, redone in
JAX; training examples mix the sizes `train_sizes` (Erdős–Rényi p drawn per graph from
0.1..0.9, random sorted `pos`), padded to the largest with a node mask; the test split
is one larger size (p = 0.5 and pos = i / n, as CLRS's test sets); the "valid" split is
the training distribution (in-distribution score). The model: linear encoders per input
and hint, the processor (Triplet-GMPNN: max aggregation, an MLP message function,
triplet edge messages of 8 features, a gate with bias -3, LayerNorm; or the plain MPNN:
no triplets, no gate), linear decoders per hint and output (pointers: CLRS's pointer
decoder, softmax over the real nodes). One processor step per hint frame, hints
predicted at every step and fed back soft (no teacher forcing), each example's own
trajectory length (its state frozen after it, the output read there, as CLRS). Loss:
output cross-entropy + the hint losses. Adam 1e-3, gradient clip 1.0, batch 32 (the
paper's). Multi-task: one processor, per-algorithm encoders and decoders; each step sums
the losses of one batch of 32 of each algorithm (the paper cycles through tasks; a sum
gives each algorithm the same number of examples as its single-task run).

Choices where the paper or the spec leaves room, and simplifications:
- Sorting has no Sinkhorn permutation decoder (the paper's, for sorting outputs): its
  output is a plain pointer decoder, as in CLRS before the generalist paper. The paper
  credits the permutation decoder with much of its sorting gain: the 0.5 threshold for
  insertion sort is the spec's, and may be harder here.
- No graph-level features (none of the three has one), no hint-encoding chunking,
  no hint re-weighting, no soft-pointer/hint-loss tricks of section 3.1 beyond the
  soft feedback; the message MLP is CLRS's (two layers of width h).
- The final model is scored; CLRS's run.py tests the checkpoint with the best validation
  score. CLRS's default `xavier_on_scalars` encoder init is not used (Equinox's default).
- Multi-task steps sum the three losses under one gradient clip (CLRS's run.py takes an
  optimiser step per algorithm), so each algorithm's effective step is smaller.
- Messages follow the paper's equations (node i aggregates m_ij built from e_ij); CLRS's
  code indexes the edge the other way (e[sender, receiver]), which matters only for the
  pointer hints, the graphs being undirected. Bellman-Ford distances are float32 (CLRS:
  float64): a near-tie under the strict `<` can pick another parent, rarely.
- A one-hot hint's loss (one value per frame) is spread over the example's real nodes, so
  larger examples weigh more in it; CLRS averages it over frames.
- The score is CLRS's pointer "micro-F1": the fraction of the real nodes (all nodes of
  the evaluation set together) whose argmax pointer equals the true one.
- The multi-task margin is 0.05 on the mean over algorithms (one-sided: multi >= single -
  0.05). The paper reports its generalist "close to" the single-task experts on average
  (with per-algorithm seed spreads up to about +-0.05, e.g. insertion sort +-4.6 points);
  0.05 is that spread, a difference it could not call a loss. This lab's choice, and
  lenient: the spread of a mean over three algorithms is smaller.

Tiers: paper = the paper's scale (h 128, training sizes 4, 7, 11, 13, 16, 10k steps, test
n = 64). cpu: h 32, training sizes 4, 6, 8, 1000 steps, test n = 32 (the same 4x size
ratio as the paper's 16 -> 64), 64 evaluation examples per split. The spec asks for h 64,
n <= 12 and 2-3k steps; measured on this 2-core machine (shared), one training step at h
64, n <= 11 took 0.35 s (MPNN) to 0.6 s (triplet-GMPNN): 20-30 min per run, so the cpu
tier was cut (h 32: ~3x, n <= 8: ~2x, 1000 steps: 2x) to fit minutes per run. The smoke
tier runs BFS only (3 cells, the multi-task one then has the single-task program).

Checks (1: the spec's thresholds, every seed; 2-3 seed means; 0 ours):
0. Precondition: every model learned in distribution: on the valid split its score
   closes at least half the gap between the trivial "every node points to itself"
   predictor (computed on the same examples, recorded as `self_*`) and 1. Checks 2
   and 3 count only when it holds for the models they compare, so two untrained nets
   cannot pass them by tying.
1. Single-task Triplet-GMPNN OOD score: BFS >= 0.9, Bellman-Ford >= 0.8, insertion sort
   >= 0.5.
2. Multi-task (one processor) mean OOD score >= single-task mean - 0.05.
3. Triplet-GMPNN >= plain MPNN on the mean OOD score (single-task).

Measured at the cpu tier, 3 seeds (21 runs; 2 cores shared with other jobs: 74-236 s per
triplet-GMPNN run, 34-116 s per MPNN run, 147-552 s per multi-task run, compile
included). The precondition holds (in distribution 0.78-1.00 against 0.59 / 0.16 for
"point to self"). OOD (n = 32), seeds 0 / 1 / 2:
- BFS: triplet 1.000 / 1.000 / 0.999, MPNN 0.996 / 0.994 / 0.998, multi 0.999 / 0.996 / 0.982;
- Bellman-Ford: triplet 0.838 / 0.827 / 0.840, MPNN 0.883 / 0.841 / 0.840, multi 0.760 /
  0.833 / 0.802;
- insertion sort: triplet 0.162 / 0.384 / 0.194, MPNN 0.136 / 0.264 / 0.133, multi 0.389 /
  0.211 / 0.192 (in distribution 0.78-0.87; "point to self" at n = 32: 0.031).
Check 1 fails on insertion sort only; check 2 holds (multi 0.685 vs single 0.694); check 3
holds (triplet 0.694 vs MPNN 0.676, by 0.018, from sorting; MPNN is ahead on Bellman-Ford
in seed 0). BFS and Bellman-Ford extrapolate 4x in size; sorting, without the paper's
permutation decoder and at 1000 steps of h 32, does not.
"""

from dataclasses import dataclass

import jax
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import algorithmic_reasoner as ar
from complab.models import gmpnn
from complab.tasks import clrs
from complab.tasks import clrs_algorithms as algos

THRESHOLD = {"bfs": 0.9, "bellman_ford": 0.8, "insertion_sort": 0.5}
MULTI_MARGIN = 0.05
LEARNED = 0.5  # the share of the gap from the trivial predictor to 1 closed in distribution
CURVE_POINTS = 3


@dataclass(frozen=True)
class Config:
    algorithms: tuple[str, ...] = clrs.ALGORITHMS
    train_sizes: tuple[int, ...] = (4, 6, 8)
    test_size: int = 32
    width: int = 32
    train: optim.Config = optim.Config(lr=1e-3, steps=1000, clip=1.0)
    batch_size: int = 32
    eval_batch: int = 64
    multi_task: bool = True

    def __post_init__(self):
        require(set(self.algorithms) <= set(clrs.ALGORITHMS) and len(self.algorithms) >= 1,
                f"algorithms must name some of {', '.join(clrs.ALGORITHMS)}; got {self.algorithms}")
        require(self.batch_size >= 1 and self.eval_batch >= 1 and self.width >= 1,
                f"batch_size, eval_batch and width must be >= 1; got {self.batch_size}, {self.eval_batch}, "
                f"{self.width}")
        clrs.Config(train_sizes=self.train_sizes, test_size=self.test_size)  # its own checks


def cells(cfg: Config) -> list[dict]:
    out = [{"training": "single", "algorithm": a, "model": k} for a in cfg.algorithms for k in gmpnn.KINDS]
    # the multi-task cell names its algorithms: `algorithms` is a grid field, outside the config hash
    multi = {"training": "multi", "algorithm": "+".join(cfg.algorithms), "model": "triplet_gmpnn"}
    return out + ([multi] if cfg.multi_task else [])


def signature(algorithm: str) -> ar.Signature:
    return ar.Signature(len(clrs.node_inputs(algorithm)), len(clrs.edge_inputs(algorithm)),
                        tuple(algos.SPECS[algorithm]["hints"].items()))


def predict(model: ar.Reasoner, algorithm: str, b) -> dict:
    steps = next(iter(b.info["hints"].values())).shape[1] - 1
    hints0 = {k: v[:, 0] for k, v in b.info["hints"].items()}
    return jax.vmap(lambda x, e, m, h0, n: model(algorithm, x, e, m > 0, h0, n, steps))(
        b.x, b.info["edges"], b.mask, hints0, b.info["length"])


def _loss(model, batches, key, tasks):
    del key
    return sum(tasks[a].loss(predict(model, a, b), b) for a, b in batches.items())


def _sample(tasks, batch_size, key, step):
    del step
    return {a: t.sample(rng.named(key, a), "train", batch_size) for a, t in tasks.items()}


def _evaluate(key, state, tasks, n, splits):
    del key
    out = {}
    for a, t in tasks.items():
        for split in splits:
            b = t.sample(jax.random.key(0), split, n)
            m = t.metrics(predict(state.model, a, b), b)
            out |= {f"{a}/{split}/score": m["score"], f"{a}/{split}/self": m["self_score"]}
    return out


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    names = cfg.algorithms if cell["training"] == "multi" else (cell["algorithm"],)
    tasks = {a: clrs.Clrs(clrs.Config(algorithm=a, train_sizes=cfg.train_sizes, test_size=cfg.test_size))
             for a in names}
    k_init, k_train = rng.streams(key, "init", "train")
    model = ar.Reasoner(gmpnn.Config(kind=cell["model"], width=cfg.width), {a: signature(a) for a in names},
                        key=k_init)
    learner = supervised.Supervised(cfg.train, jax.tree_util.Partial(_loss, tasks=tasks))
    # one evaluation program (both splits) for the curve and the final scores: one compile
    curve = jax.tree_util.Partial(_evaluate, tasks=tasks, n=cfg.eval_batch, splits=("valid", "test"))
    state = ctx.fit("train", learner, learner.init(k_init, model),
                    jax.tree_util.Partial(_sample, tasks, cfg.batch_size), key=k_train, steps=cfg.train.steps,
                    evaluate=curve, eval_at=training.linear_steps(cfg.train.steps, CURVE_POINTS))
    final = training.evaluation(curve, jax.random.key(0), state)
    return [{"algorithm": a, "ood": float(final[f"{a}/test/score"]), "in_dist": float(final[f"{a}/valid/score"]),
             "self_ood": float(final[f"{a}/test/self"]), "self_in_dist": float(final[f"{a}/valid/self"])}
            for a in names]


def _per_seed(results: Results, field: str, **where) -> dict[int, float]:
    return {s: rows[0][field] for s, rows in results.by_seed(**where).items()}


def _mean(v: dict) -> float:
    return float(np.mean(list(v.values()))) if v else np.nan


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds, algs = results.seeds, cfg.algorithms
    runs = [(t, k) for t, k in (("single", "triplet_gmpnn"), ("single", "mpnn"), ("multi", "triplet_gmpnn"))
            if t == "single" or cfg.multi_task]

    def get(field, t, k, a):
        return _per_seed(results, field, training=t, model=k, algorithm=a)

    ood = {(t, k, a): get("ood", t, k, a) for t, k in runs for a in algs}
    ind = {(t, k, a): get("in_dist", t, k, a) for t, k in runs for a in algs}
    triv = {(t, k, a): get("self_in_dist", t, k, a) for t, k in runs for a in algs}
    full = bool(seeds) and all(len(v) == len(seeds) for v in ood.values())
    gap = {key: {s: (ind[key][s] - triv[key][s]) / max(1 - triv[key][s], 1e-9) for s in ind[key]} for key in ind}
    def learned_by(*models):  # every seed of these (training, model) pairs learned every algorithm
        return full and all(v >= LEARNED for (t, k, _), g in gap.items() if (t, k) in models for v in g.values())

    learned = learned_by(*runs)
    mean = {(t, k): float(np.mean([_mean(ood[(t, k, a)]) for a in algs])) for t, k in runs}
    fmt = "{:.3f}"
    checks = [
        Check(f"precondition: every model learned in distribution (valid score closes >= {LEARNED:.0%} of the gap "
              "from the 'point to self' predictor to 1, each seed)", learned,
              "; ".join(f"{t} {k} {a}: {per_seed(ind[(t, k, a)], fmt)} (trivial "
                        f"{_mean(triv[(t, k, a)]):.3f})" for t, k in runs for a in algs)),
        Check("single-task Triplet-GMPNN executes the algorithms out of distribution (test n = "
              f"{cfg.test_size}): " + ", ".join(f"{a} >= {THRESHOLD[a]}" for a in algs) + " (each seed)",
              full and all(v >= THRESHOLD[a] for a in algs for v in ood[("single", "triplet_gmpnn", a)].values()),
              "; ".join(f"{a}: {per_seed(ood[('single', 'triplet_gmpnn', a)], fmt)}" for a in algs)),
    ]
    if cfg.multi_task:
        checks.append(Check(
            f"one multi-task processor does about as well: mean OOD score >= single-task mean - {MULTI_MARGIN}",
            learned_by(("multi", "triplet_gmpnn"), ("single", "triplet_gmpnn"))
            and mean[("multi", "triplet_gmpnn")] >= mean[("single", "triplet_gmpnn")] - MULTI_MARGIN,
            f"multi-task {mean[('multi', 'triplet_gmpnn')]:.3f}, single-task {mean[('single', 'triplet_gmpnn')]:.3f}"
            " (seed means over " + ", ".join(algs) + "); multi per algorithm: " + "; ".join(
                f"{a} {per_seed(ood[('multi', 'triplet_gmpnn', a)], fmt)}" for a in algs)))
    checks.append(Check(
        "Triplet-GMPNN >= plain MPNN (no triplets, no gate) on the mean OOD score",
        learned_by(("single", "triplet_gmpnn"), ("single", "mpnn"))
        and mean[("single", "triplet_gmpnn")] >= mean[("single", "mpnn")],
        f"triplet {mean[('single', 'triplet_gmpnn')]:.3f}, MPNN {mean[('single', 'mpnn')]:.3f}; MPNN per algorithm: "
        + "; ".join(f"{a} {per_seed(ood[('single', 'mpnn', a)], fmt)}" for a in algs)))
    return checks


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    runs = [("single", "triplet_gmpnn"), ("single", "mpnn")] + ([("multi", "triplet_gmpnn")] if cfg.multi_task else [])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    x = np.arange(len(cfg.algorithms))
    for ax, field, title in ((axes[0], "ood", f"test (n = {cfg.test_size}, OOD)"),
                             (axes[1], "in_dist", f"valid (n in {cfg.train_sizes})")):
        for j, (t, k) in enumerate(runs):
            for i, a in enumerate(cfg.algorithms):
                v = list(_per_seed(results, field, training=t, model=k, algorithm=a).values())
                ax.bar(i + (j - 1) * 0.27, np.mean(v) if v else 0, 0.27, color=f"C{j}",
                       label=f"{k} ({t})" if i == 0 else None)
                ax.scatter([i + (j - 1) * 0.27] * len(v), v, color="k", s=8, zorder=3)
        for i, a in enumerate(cfg.algorithms):
            triv = list(_per_seed(results, "self_" + field, training="single", model="mpnn", algorithm=a).values())
            ax.plot([i - 0.45, i + 0.45], [np.mean(triv) if triv else 0] * 2, "k:", lw=1,
                    label="point to self" if i == 0 else None)
            if field == "ood":
                ax.plot([i - 0.45, i + 0.45], [THRESHOLD[a]] * 2, "r--", lw=1, label="threshold" if i == 0 else None)
        ax.set(xticks=x, xticklabels=cfg.algorithms, ylim=(0, 1.02), title=title, ylabel="pointer score (micro-F1)")
        ax.legend(fontsize=7)
    fig.suptitle("Neural algorithmic execution: trained small, tested large")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="generalist_algorithmic_learner",
    title="A generalist neural algorithmic learner",
    paper="Ibarz et al. 2022, A Generalist Neural Algorithmic Learner",
    claim="Trained on small graphs, an encode-process-decode network with a triplet-GMPNN processor executes BFS, "
    "Bellman-Ford and insertion sort on larger ones; one processor trained on all three does about as well as the "
    "single-task ones, and triplet-GMPNN beats a plain MPNN.",
    tiers={
        "smoke": Config(algorithms=("bfs",), train_sizes=(4, 5), test_size=6, width=8,
                        train=optim.Config(lr=1e-3, steps=10, clip=1.0), batch_size=4, eval_batch=8),
        "cpu": Config(),  # reduced from the spec's h 64, n <= 12, 2-3k steps: see the module docstring
        "paper": Config(train_sizes=(4, 7, 11, 13, 16), test_size=64, width=128,
                        train=optim.Config(lr=1e-3, steps=10000, clip=1.0), eval_batch=256),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("algorithms", "multi_task"),
    steps=lambda cfg, cell: cfg.train.steps,
)
