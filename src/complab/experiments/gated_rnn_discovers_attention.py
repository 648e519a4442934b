"""Gated RNNs discover attention (Zucchet, Kobayashi, Akram, von Oswald, Larcher,
Steger, Sacramento 2023, "Gated recurrent neural networks discover attention").

Claim: a diagonal linear RNN with multiplicative input and output gating implements
linear self-attention exactly, and gated RNNs trained on in-context linear
regression learn the same algorithm as a trained linear self-attention layer: one
step of gradient descent on the context.

Cells: the LSA (with the construction and the GD reference), one gated RNN per
neuron count of the sweep, and two teacher-student RNNs. Every fit records its test
loss over training (the figure's learning curves). Checks, per seed unless said:
1. Construction: random LSA weights mapped to a gated RNN by the paper's
   construction give the same outputs (max relative error < 1e-5, float32).
2. A trained LSA reaches the loss of one GD step with the best learning rate
   (closed form, theory/one_step_gd.py) within 5%, predictions cosine >= 0.99.
3. The largest gated RNN reaches the GD loss within the same 5%, cosine >= 0.99;
   the smallest stays more than 5% above (the ablation: capacity matters).
4. The paper's Fig. 2 finding: only lambda ~ 1 (perfect memory) and lambda ~ 0
   (perfect forget) neurons matter. Silencing every neuron of the largest RNN with
   0.05 < lambda < 0.95 changes its loss by at most 1% of what it learned (its
   improvement over predicting 0, L0 = E[y_q^2]/2); the check first requires the
   RNN to have learned (within 5% of GD), else an untrained net would pass it.
5. Snap: setting the kept lambdas to exactly 0 and 1 (after pruning) changes the
   loss by at most 5% of what the RNN learned: the learned solution *is* the
   construction's mechanism, not merely near it.
6. Teacher-student (the paper's Sec. 4): a gated RNN trained to imitate a random
   LSA teacher on random sequences, with twice the construction's neuron count
   (the paper finds training needs about that over-parameterisation), reaches a
   relative error (MSE / teacher output power) below 1%, from >= 0.5 at
   initialisation (so an untrained student cannot pass).
7. The ablation of 6: a student with half the construction's count ends with a
   larger error than the 2x student, in every seed. (A random LSA's output is
   dominated by its mean part, t W_O W_V W_K^T W_Q x_t, which few neurons can
   carry, so a small student can get close: we compare rather than threshold.)
8. Compression (the paper's Fig. 3B): the smallest neuron count of the sweep whose
   seed-averaged loss is within 5% of GD is below the construction's count for a
   single-head LSA on (d+1)-wide tokens, (d+1)^2 + (d+1).

The bands (0.05, 0.95), the 1% and 5% of the learned improvement, and the 1%
relative imitation error are our choices: the paper states these findings
qualitatively ("unchanged", "vanishingly small").

Choices where the paper is silent or unread by us (its appendix; the paper tier's
d = 10, N = 10 follow von Oswald et al. 2023): x, w ~ N(0, I_d); no label noise; loss
half the squared error at the query; one residual layer (token + mixer output) and
a linear readout, for LSA and RNN alike; real lambda = exp(-exp(nu)), initially
uniform in [0, 1]; Adam with cosine decay. Losses are measured on one held-out batch
from the test split's own stream (the same in every cell of a seed), GD's too. The
teacher-student task uses bare mixers (no residual or readout), inputs N(0, 1).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng, training
from complab.config import require
from complab.errors import ComplabError
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import sequence
from complab.models.mixers import gated_rnn, linear_attention
from complab.probes import gradient_descent as gd
from complab.probes import lambda_pruning as pruning
from complab.tasks import linear_regression
from complab.theory import one_step_gd
from complab.training import linear_steps

TOLERANCE = 0.05  # "reaches the loss of GD": within 5%
MIN_COSINE = 0.99
LAMBDA_BAND = (0.05, 0.95)  # neurons with lambda strictly inside are pruned (check 4)
PRUNE_TOLERANCE = 0.01  # of the learned improvement: "leaves the loss unchanged"
SNAP_TOLERANCE = 0.05  # of the learned improvement: "changes the loss by little"
IMITATION_ERROR = 0.01  # relative MSE: "imitates with vanishingly small error"
CURVE_POINTS = 21


@dataclass(frozen=True)
class Imitation:
    """The teacher-student task: a random LSA on `width`-wide tokens."""

    train: optim.Config
    width: int = 4
    length: int = 16
    batch_size: int = 64

    def __post_init__(self):
        require(self.width >= 1 and self.length >= 1 and self.batch_size >= 1,
                f"imitation width, length and batch_size must be >= 1, got {self.width}, {self.length}, "
                f"{self.batch_size}")

    @property
    def construction_neurons(self) -> int:
        return self.width * self.width + self.width


@dataclass(frozen=True)
class Config:
    task: linear_regression.Config
    lsa: optim.Config
    rnn: optim.Config
    imitation: Imitation
    neurons: tuple[int, ...]  # the gated RNN sweep (cells)
    batch_size: int = 256
    init_scale: float = 0.3  # weights ~ N(0, init_scale^2 / fan_in)
    eval_batch: int = 8192
    construction_heads: int = 2  # the random LSA of check 1
    construction_len: int = 32

    def __post_init__(self):
        require(len(self.neurons) >= 2 and len(set(self.neurons)) == len(self.neurons) and min(self.neurons) >= 1,
                f"neurons must list at least two distinct positive counts (the sweep's smallest and largest are "
                f"compared), got {self.neurons}")
        require(self.batch_size >= 1 and self.construction_heads >= 1 and self.construction_len >= 1,
                "batch_size, construction_heads and construction_len must be >= 1, got "
                f"{self.batch_size}, {self.construction_heads}, {self.construction_len}")
        require(self.eval_batch >= 4, f"eval_batch must be >= 4 (a quarter of it tests the imitation), got "
                f"{self.eval_batch}")
        require(self.init_scale > 0, f"init_scale must be > 0, got {self.init_scale}")


def cells(cfg: Config) -> list[dict]:
    c = cfg.imitation.construction_neurons
    return ([{"model": "lsa"}] + [{"model": "rnn", "neurons": n} for n in cfg.neurons]
            + [{"model": "imitation", "neurons": n} for n in (max(1, c // 2), 2 * c)])


@eqx.filter_jit
def _model(mixer_cfg, task, key):
    d_in, d_out = task.dims
    return sequence.SequenceModel(sequence.Config(mixer=mixer_cfg), d_in, d_out, key=key)


@eqx.filter_jit
def _query_loss_and_pred(model, test):
    pred = jax.vmap(model)(test.x)
    return 0.5 * jnp.mean((pred[:, -1, 0] - test.y[:, -1, 0]) ** 2), pred[:, -1, 0]


def _test_loss(key, state, test):
    del key
    return {"test_loss": _query_loss_and_pred(state.model, test)[0]}


@eqx.filter_jit
def _construction_error(key: jax.Array, heads: int, length: int, dim: int) -> jax.Array:
    """Max |RNN - LSA| / max |LSA| over random sequences."""
    k_lsa, k_x = jax.random.split(key)
    lsa = linear_attention.Config(heads=heads).build(dim, key=k_lsa)
    rnn = gated_rnn.from_attention(lsa)
    x = jax.random.normal(k_x, (16, length, dim))
    a, b = jax.vmap(lsa)(x), jax.vmap(rnn)(x)
    return jnp.abs(a - b).max() / jnp.abs(a).max()


@eqx.filter_jit
def _reference(test, eta):
    """Loss and predictions of one GD step with learning rate eta, and the loss of predicting 0."""
    pred = eta * gd.gd_statistic(test)
    y = test.y[:, -1, 0]
    return 0.5 * jnp.mean((pred - y) ** 2), pred, 0.5 * jnp.mean(y**2)


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    if cell["model"] == "imitation":
        return _imitation(cfg, cell["neurons"], rng.named(key, "imitation"), ctx)
    task = linear_regression.LinearRegression(cfg.task)
    k_construct, k_eval, k_lsa, k_rnn = rng.streams(key, "construction", "eval", "lsa", "rnn")
    test = eqx.filter_jit(task.sample)(k_eval, "test", cfg.eval_batch)
    if np.any(np.asarray(test.mask)[:, :-1]):  # training at the query alone (at_last) would not be its loss
        raise ComplabError("the task's loss reads positions before the query; at_last does not apply")
    t = cfg.task
    eta = one_step_gd.optimal_lr(t.dim, t.context, t.noise)
    gd_loss, pred_gd, zero_loss = _reference(test, eta)
    evaluate = jax.tree_util.Partial(_test_loss, test=test)

    def train(name, mixer_cfg, train_cfg, key):
        k_model, k_learner, k_train = rng.streams(key, "model", "learner", "train")
        learner = supervised.Supervised(train_cfg, supervised.at_last(task.loss))  # the loss reads the query only
        state = learner.init(k_learner, _model(mixer_cfg, task, k_model))
        state = ctx.fit(name, learner, state, task, key=k_train, steps=train_cfg.steps, batch_size=cfg.batch_size,
                        evaluate=evaluate, eval_at=linear_steps(train_cfg.steps, CURVE_POINTS))
        loss, pred = _query_loss_and_pred(state.model, test)
        return state.model, [{"metric": "loss", "value": float(loss)},
                             {"metric": "cosine_gd", "value": float(gd.cosine(pred, pred_gd))}]

    if cell["model"] == "lsa":
        heads, length, width = cfg.construction_heads, cfg.construction_len, cfg.task.dim + 1
        err = _construction_error(k_construct, heads, length, width)
        _, rows = train("lsa", linear_attention.Config(init_scale=cfg.init_scale), cfg.lsa, k_lsa)
        return rows + [
            {"metric": "construction_error", "value": float(err)},
            {"metric": "construction_neurons", "value": heads * (width * width + width)},
            {"metric": "gd_loss", "value": float(gd_loss)},
            {"metric": "gd_expected_loss", "value": one_step_gd.optimal_loss(t.dim, t.context, t.noise)},
            {"metric": "zero_loss", "value": float(zero_loss)},
            {"metric": "gd_lr", "value": eta},
        ]
    n = cell["neurons"]
    mixer = gated_rnn.Config(neurons=n, init_scale=cfg.init_scale)
    model, rows = train("rnn", mixer, cfg.rnn, rng.named(k_rnn, str(n)))
    rnn = model.mixers[0]
    pruned = pruning.prune_by_lambda(rnn, *LAMBDA_BAND)
    snapped = pruning.snap_lambdas(pruned, *LAMBDA_BAND)
    with_mixer = lambda m: eqx.tree_at(lambda s: s.mixers[0], model, m)  # noqa: E731
    return rows + [
        {"metric": "loss_pruned", "value": float(_query_loss_and_pred(with_mixer(pruned), test)[0])},
        {"metric": "loss_snapped", "value": float(_query_loss_and_pred(with_mixer(snapped), test)[0])},
        {"metric": "pruned_fraction", "value": pruning.pruned_fraction(rnn, *LAMBDA_BAND)},
        {"metric": "lambda", "value": np.asarray(rnn.lam).tolist()},
    ]


def _teacher_batch(teacher, width, length, batch_size, key, t=None):
    x = jax.random.normal(key, (batch_size, length, width))
    return x, jax.vmap(teacher)(x)


def _imitation_loss(student, batch, key=None):
    x, y = batch
    return jnp.mean((jax.vmap(student)(x) - y) ** 2)


def _relative_error(key, state, test):
    del key
    x, y = test
    return {"relative_error": _imitation_loss(state.model, test) / jnp.mean(y**2)}


def _imitation(cfg: Config, neurons: int, key: jax.Array, ctx) -> list[dict]:
    """A gated RNN student trained on a random LSA teacher's outputs."""
    im = cfg.imitation
    k_teacher, k_student, k_test, k_train = rng.streams(key, "teacher", "student", "test", "train")
    teacher = linear_attention.Config().build(im.width, key=k_teacher)
    student = eqx.filter_jit(gated_rnn.Config(neurons=neurons, init_scale=cfg.init_scale).build)(im.width,
                                                                                                key=k_student)
    test = eqx.filter_jit(_teacher_batch)(teacher, im.width, im.length, cfg.eval_batch // 4, k_test)
    data = jax.tree_util.Partial(_teacher_batch, teacher, im.width, im.length, im.batch_size)
    learner = supervised.Supervised(im.train, _imitation_loss)
    state = learner.init(k_student, student)
    evaluate = jax.tree_util.Partial(_relative_error, test=test)
    state = ctx.fit("imitation", learner, state, data, key=k_train, steps=im.train.steps, evaluate=evaluate,
                    eval_at=linear_steps(im.train.steps, CURVE_POINTS))
    err = training.evaluation(evaluate, jax.random.key(0), state)["relative_error"]  # the curves' program
    return [{"metric": "relative_error", "value": float(err)},
            {"metric": "construction_neurons", "value": im.construction_neurons}]


def expect(results: Results, cfg: Config) -> list[Check]:
    lo, hi = min(cfg.neurons), max(cfg.neurons)
    seeds = sorted(results.by_seed(model="lsa"))

    def v(s, metric, **cell):
        return results.value(seed=s, metric=metric, **cell)

    gd_loss = {s: v(s, "gd_loss", model="lsa") for s in seeds}
    learnable = {s: v(s, "zero_loss", model="lsa") - gd_loss[s] for s in seeds}  # GD's improvement over 0

    def gap(s, **cell):
        return v(s, "loss", **cell) / gd_loss[s] - 1

    errs = {s: v(s, "construction_error", model="lsa") for s in seeds}
    lsa_gap = {s: gap(s, model="lsa") for s in seeds}
    lsa_cos = {s: v(s, "cosine_gd", model="lsa") for s in seeds}
    big = dict(model="rnn", neurons=hi)
    hi_gap = {s: gap(s, **big) for s in seeds}
    hi_cos = {s: v(s, "cosine_gd", **big) for s in seeds}
    lo_gap = {s: gap(s, model="rnn", neurons=lo) for s in seeds}
    learned = {s: v(s, "zero_loss", model="lsa") - v(s, "loss", **big) for s in seeds}
    hi_learned = all(abs(g) <= TOLERANCE for g in hi_gap.values())
    pruned = {s: (v(s, "loss_pruned", **big) - v(s, "loss", **big)) / learned[s] for s in seeds}
    snapped = {s: (v(s, "loss_snapped", **big) - v(s, "loss", **big)) / learned[s] for s in seeds}
    frac = {s: v(s, "pruned_fraction", **big) for s in seeds}
    c_im = cfg.imitation.construction_neurons
    im_hi = {s: v(s, "relative_error", model="imitation", neurons=2 * c_im) for s in seeds}
    im_lo = {s: v(s, "relative_error", model="imitation", neurons=max(1, c_im // 2)) for s in seeds}
    im_init = {s: results.curve("relative_error", seed=s, model="imitation", neurons=2 * c_im)[1][0] for s in seeds}
    mean_gap = {n: np.mean([gap(s, model="rnn", neurons=n) for s in seeds]) for n in sorted(cfg.neurons)}
    reaching = [n for n, g in mean_gap.items() if g <= TOLERANCE]
    w = cfg.task.dim + 1
    n_single = w * w + w
    n_c = v(seeds[0], "construction_neurons", model="lsa")
    pre = "" if hi_learned else "precondition failed: the RNN did not reach GD, so this check says nothing; "
    return [
        Check("construction: gated RNN == LSA (max relative error < 1e-5)",
              all(e < 1e-5 for e in errs.values()), f"{per_seed(errs, '{:.2e}')} ({n_c:.0f} neurons)"),
        Check(f"trained LSA loss within {TOLERANCE:.0%} of one optimal GD step, predictions cosine >= {MIN_COSINE}",
              all(abs(g) <= TOLERANCE for g in lsa_gap.values()) and all(c >= MIN_COSINE for c in lsa_cos.values()),
              f"loss vs GD {per_seed(lsa_gap)}; cosine {per_seed(lsa_cos, '{:.4f}')}"),
        Check(f"gated RNN with {hi} neurons reaches the GD loss (within {TOLERANCE:.0%}, predictions cosine >= "
              f"{MIN_COSINE}); with {lo} neurons its loss is worse (> {TOLERANCE:.0%} above)",
              hi_learned and all(c >= MIN_COSINE for c in hi_cos.values())
              and all(g > TOLERANCE for g in lo_gap.values()),
              f"{hi} neurons: loss vs GD {per_seed(hi_gap)}, cosine {per_seed(hi_cos, '{:.4f}')}; "
              f"{lo} neurons: loss vs GD {per_seed(lo_gap)}"),
        Check(f"only perfect-memory / perfect-forget neurons matter: silencing the {hi}-neuron RNN's neurons with "
              f"{LAMBDA_BAND[0]} < lambda < {LAMBDA_BAND[1]} changes its loss by <= {PRUNE_TOLERANCE:.0%} of what "
              "it learned (it must have learned: within 5% of GD)",
              hi_learned and all(abs(c) <= PRUNE_TOLERANCE for c in pruned.values()),
              f"{pre}loss change / learned improvement {per_seed(pruned, '{:+.2%}')}; neurons silenced "
              f"{per_seed(frac, '{:.0%}')}; learned improvement {per_seed(learned, '{:.3f}')} "
              f"(GD's {per_seed(learnable, '{:.3f}')})"),
        Check(f"snapping the kept lambdas to exactly 0 and 1 changes the loss by <= {SNAP_TOLERANCE:.0%} of what "
              "the RNN learned",
              hi_learned and all(abs(c) <= SNAP_TOLERANCE for c in snapped.values()),
              f"{pre}loss change / learned improvement {per_seed(snapped, '{:+.2%}')}"),
        Check(f"teacher-student: a gated RNN with {2 * c_im} neurons (2x the construction's {c_im}) imitates a "
              f"random LSA with relative error < {IMITATION_ERROR:.0%} (it starts near 1: it learned)",
              all(e < IMITATION_ERROR for e in im_hi.values()) and all(e >= 0.5 for e in im_init.values()),
              f"{per_seed(im_hi, '{:.2e}')}; at initialisation {per_seed(im_init, '{:.2f}')}"),
        Check(f"over-parameterisation helps the imitation: the {2 * c_im}-neuron student ends below the "
              f"{max(1, c_im // 2)}-neuron one in every seed",
              all(im_hi[s] < im_lo[s] for s in seeds),
              f"{2 * c_im} neurons: {per_seed(im_hi, '{:.2e}')}; {max(1, c_im // 2)} neurons: "
              f"{per_seed(im_lo, '{:.2e}')}"),
        Check(f"compression: the smallest RNN of the sweep whose seed-mean loss is within {TOLERANCE:.0%} of GD has "
              f"fewer neurons than the construction of a single-head LSA ({n_single})",
              bool(reaching) and min(reaching) < n_single,
              f"smallest reaching GD: {min(reaching) if reaching else 'none'}; seed-mean loss vs GD by neurons: "
              + ", ".join(f"{n}: {g:+.1%}" for n, g in mean_gap.items())),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_curve, ax_lam) = plt.subplots(1, 3, figsize=(16, 4.2))
    seeds = results.seeds
    ns = sorted(cfg.neurons)
    vals = np.array([[results.value(seed=s, model="rnn", neurons=n, metric="loss") for n in ns] for s in seeds])
    gd_loss = np.mean([results.value(seed=s, model="lsa", metric="gd_loss") for s in seeds])
    ax_loss.errorbar(ns, vals.mean(0), yerr=vals.std(0), marker="o", capsize=3, label="gated RNN")
    lsa = np.mean([results.value(seed=s, model="lsa", metric="loss") for s in seeds])
    ax_loss.axhline(lsa, color="C1", ls="--", label="linear self-attention")
    ax_loss.axhline(gd_loss, color="k", ls=":", label="one GD step, best lr")
    w = cfg.task.dim + 1
    ax_loss.axvline(2 * cfg.task.dim, color="C2", ls="-.", lw=1, label="2d: enough for one GD step")
    ax_loss.axvline(w * w + w, color="C3", ls="-.", lw=1, label="construction (single head)")
    ax_loss.set_xscale("log", base=2)
    ax_loss.set_xlabel("recurrent neurons")
    ax_loss.set_ylabel("test loss (half squared error)")
    ax_loss.legend(fontsize=7)
    s0 = seeds[0]
    steps, y = results.curve("test_loss", seed=s0, model="lsa")
    ax_curve.plot(steps, y, color="C1", label="LSA")
    for i, n in enumerate(ns):
        steps, y = results.curve("test_loss", seed=s0, model="rnn", neurons=n)
        ax_curve.plot(steps, y, color=plt.cm.viridis(i / max(len(ns) - 1, 1)), label=f"RNN {n}")
    ax_curve.axhline(gd_loss, color="k", ls=":")
    ax_curve.set_yscale("log")
    ax_curve.set_xlabel(f"training step (seed {s0})")
    ax_curve.set_ylabel("test loss")
    ax_curve.legend(fontsize=7, ncol=2)
    lam = [x for s in seeds for x in results.value(seed=s, model="rnn", neurons=max(ns), metric="lambda")]
    ax_lam.hist(lam, bins=np.linspace(0, 1, 21), color="C0")
    for edge in LAMBDA_BAND:
        ax_lam.axvline(edge, color="k", ls=":", lw=1)
    ax_lam.set_xlabel(f"lambda of the {max(ns)}-neuron RNN's neurons (all seeds)")
    ax_lam.set_ylabel("neurons")
    fig.suptitle(f"In-context linear regression, d={cfg.task.dim}, N={cfg.task.context} ({len(seeds)} seeds)")
    fig.tight_layout()
    return fig


def _train(steps: int, lr: float) -> optim.Config:
    return optim.Config(lr=lr, steps=steps, warmup=steps // 20, final_lr_frac=0.01)


def steps(cfg: Config, cell: dict) -> int:
    return {"lsa": cfg.lsa.steps, "rnn": cfg.rnn.steps, "imitation": cfg.imitation.train.steps}[cell["model"]]


EXPERIMENT = Experiment(
    id="gated_rnn_discovers_attention",
    title="Gated RNNs discover attention",
    paper="Zucchet, Kobayashi, Akram, von Oswald, Larcher, Steger, Sacramento 2023, "
    "Gated recurrent neural networks discover attention",
    claim="A gated diagonal linear RNN implements linear self-attention exactly, and gated RNNs trained on "
    "in-context linear regression learn what linear self-attention learns: one step of gradient descent.",
    tiers={
        "smoke": Config(task=linear_regression.Config(dim=3, context=6), lsa=_train(60, 1e-2), rnn=_train(60, 1e-2),
                        imitation=Imitation(_train(60, 1e-2), width=2, length=6), neurons=(2, 8), batch_size=64,
                        eval_batch=512),
        "cpu": Config(task=linear_regression.Config(dim=6, context=12), lsa=_train(2000, 1e-2),
                      rnn=_train(3000, 1e-2), imitation=Imitation(_train(3000, 1e-2)),
                      neurons=(3, 6, 12, 24, 48, 96)),
        "paper": Config(task=linear_regression.Config(dim=10, context=10), lsa=_train(50_000, 1e-3),
                        rnn=_train(50_000, 1e-3), imitation=Imitation(_train(50_000, 1e-3), width=6, length=32),
                        neurons=(5, 10, 20, 40, 80, 160), batch_size=512, eval_batch=16_384),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("neurons",),
    steps=steps,
)
