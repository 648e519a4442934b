"""When can transformers compositionally generalize in-context? (Kobayashi, Schug, Akram,
Redhardt, von Oswald, Pascanu, Lajoie, Sacramento 2024).

Claim: trained in context on a modular hyperteacher (tasks/hyperteacher.py: a teacher
MLP whose hidden weights a linear hypernetwork makes from a combination of modules),
a transformer fits the module combinations it was trained on but not held-out
combinations of the same modules; the same transformer made to pass the task through
a bottleneck (context -> latent code -> linear hypernetwork -> a task network applied
to the query; models/hypernetwork_head.py) generalises to the held-out combinations.

Setup: 6 modules, one generated layer, one- and two-hot combinations, the connected
support (one-hots and pairs (i, i+1), (i, i+2) mod 6 train; the three pairs (i, i+3),
a fifth of the pairs, are held out). Both models use the same encoder: a pre-LayerNorm
stack of non-causal softmax attention and GELU MLP blocks. The transformer reads the
context and the query and predicts at the query; the bottleneck's encoder reads the
context only. Squared error at the query, Adam with warmup and cosine decay.

Checks (seed means, each seed's number shown; R^2 as tasks/hyperteacher.py defines it,
"in-distribution" = fresh sequences of training combinations):
1. The transformer fits the training combinations (R^2 >= 0.8) and its held-out R^2 is
   at least 0.2 below that.
2. The bottleneck fits them too (R^2 >= 0.8) and its held-out R^2 is within 0.1 of that.
3. The ablation, per seed: the bottleneck's held-out R^2 is above the transformer's, the
   bottleneck fitting (R^2 >= 0.8), else two untrained nets' noise could pass it.
Also stored: a ridge decoder (l2 = 1) from the bottleneck's code to the module
combination (the k-hot vector), fit on training combinations and scored on held-out
ones (`code_r2`): a code that composes modules decodes unseen combinations.

Choices where the paper leaves room (its thresholds are not stated; the fit, gap and
closeness levels above are ours; so are the sizes: inputs 8, teacher hidden 16, 2
outputs, 24 context pairs at the cpu tier; the paper tier takes the hyperteacher
paper's 16 inputs and 32 hidden units but keeps one generated layer, where that
paper's teacher has a fixed first layer and two generated ones). The transformer's
attention has no position information, as neither model needs order; the query is its
own token (x_q, 0), which the other tokens also see.

Measured (3 seeds, the cpu-tier programs run on a GPU): the claim does not appear in
this setting. At 3,000 steps the transformer reaches in-distribution R^2 0.89-0.90 and
held-out 0.75-0.77; the bottleneck 0.93-0.95 and 0.67-0.76 (its code decodes held-out
combinations with R^2 0.65-0.74); at 8,000 steps 0.93 / 0.76-0.78 against 0.98-0.99 /
0.71-0.86. Both generalise partly and neither closes the gap. Also tried (one seed, on
the CPU): 16 inputs and 32 hidden units with 24 or 12 context pairs (the same picture),
and two generated layers (the transformer's R^2 0.61 on both splits).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import feedforward, hypernetwork_head, sequence
from complab.models.mixers import softmax_attention
from complab.probes import latent_decoding
from complab.tasks import hyperteacher
from complab.training import linear_steps

MODELS = ("transformer", "bottleneck")
FITS = 0.8  # in-distribution R^2: "fits the training combinations"
GAP = 0.2  # the transformer's held-out R^2 is at least this much below
CLOSE = 0.1  # the bottleneck's is within this
CURVE_POINTS = 11


@dataclass(frozen=True)
class Config:
    task: hyperteacher.Config
    train: optim.Config
    width: int = 64
    heads: int = 4
    layers: int = 2
    latent: int = 8  # the bottleneck's code
    hidden: int = 32  # the bottleneck's task network
    batch_size: int = 128
    eval_batch: int = 4096

    def __post_init__(self):
        require(min(self.width, self.heads, self.layers, self.latent, self.hidden, self.batch_size) >= 1
                and self.eval_batch >= 4, f"sizes must be >= 1 and eval_batch >= 4, got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"model": m} for m in MODELS]


def encoder(cfg: Config) -> sequence.Config:
    return sequence.Config(mixer=softmax_attention.Config(heads=cfg.heads, causal=False), layers=cfg.layers,
                           d_model=cfg.width, norm="pre", ff=feedforward.MLPConfig())


def build(cfg: Config, name: str, task: hyperteacher.Hyperteacher, key: jax.Array):
    d_in, d_out = task.dims
    if name == "transformer":
        return sequence.SequenceModel(encoder(cfg), d_in, d_out, key=key)
    head = hypernetwork_head.Config(encoder=encoder(cfg), x_dim=cfg.task.input_dim, latent=cfg.latent,
                                    hidden=cfg.hidden)
    return hypernetwork_head.Bottleneck(head, d_in, d_out, key=key)


@eqx.filter_jit
def _r2(model, batch):
    return hyperteacher.r_squared(jax.vmap(model.last)(batch.x), batch.y[:, -1])


def _curve(key, state, seen, held_out):
    del key
    return {"train_r2": _r2(state.model, seen), "test_r2": _r2(state.model, held_out)}


@eqx.filter_jit
def _codes(model, x):
    return jax.vmap(model.code)(x)


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    name = cell["model"]
    task = hyperteacher.Hyperteacher(cfg.task)
    k_eval, k_curve, k_model = rng.streams(key, "eval", "curve", "model")
    k_init, k_learner, k_train = rng.streams(rng.named(k_model, name), "init", "learner", "train")
    model = eqx.filter_jit(build)(cfg, name, task, k_init)
    n_curve, sample = min(cfg.eval_batch, 1024), eqx.filter_jit(task.sample)
    evaluate = jax.tree_util.Partial(_curve, seen=sample(k_curve, "train", n_curve),
                                     held_out=sample(k_curve, "test", n_curve))
    learner = supervised.Supervised(cfg.train, supervised.at_last(task.loss))
    state = ctx.fit(name, learner, learner.init(k_learner, model), task, key=k_train, steps=cfg.train.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate, eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    batches = {s: sample(k_eval, s, cfg.eval_batch) for s in task.splits}
    rows = [{"metric": "r2", "split": s, "value": float(_r2(state.model, b))} for s, b in batches.items()]
    if name == "bottleneck":
        codes = {s: np.asarray(_codes(state.model, b.x)) for s, b in batches.items()}
        latent = {s: np.asarray(b.info["embedding"]).reshape(cfg.eval_batch, -1) for s, b in batches.items()}
        rows.append({"metric": "code_r2", "value": latent_decoding.decode(codes["train"], latent["train"],
                                                                          codes["test"], latent["test"])})
    return rows


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds

    def r2(model, split):
        return {s: results.value(seed=s, model=model, metric="r2", split=split) for s in seeds}

    def mean(v):
        return float(np.mean(list(v.values())))

    tr, br = {s: r2("transformer", s) for s in ("train", "test")}, {s: r2("bottleneck", s) for s in ("train", "test")}
    code = {s: results.value(seed=s, model="bottleneck", metric="code_r2") for s in seeds}

    pre = "precondition failed: the bottleneck did not fit the training combinations; "

    def text(r):
        return f"in-distribution {per_seed(r['train'], '{:.3f}')}; held-out {per_seed(r['test'], '{:.3f}')}"

    return [
        Check(f"the transformer fits the training combinations (R^2 >= {FITS}) and its held-out R^2 is >= {GAP} "
              "below", mean(tr["train"]) >= FITS and mean(tr["train"]) - mean(tr["test"]) >= GAP,
              f"{text(tr)}; gap {mean(tr['train']) - mean(tr['test']):.3f}"),
        Check(f"the bottleneck fits them (R^2 >= {FITS}) and its held-out R^2 is within {CLOSE}",
              mean(br["train"]) >= FITS and mean(br["train"]) - mean(br["test"]) <= CLOSE,
              f"{text(br)}; gap {mean(br['train']) - mean(br['test']):.3f}; its code decodes held-out "
              f"combinations with R^2 {per_seed(code, '{:.3f}')}"),
        Check(f"ablation: the bottleneck's held-out R^2 is above the transformer's in every seed (the bottleneck "
              f"fits, R^2 >= {FITS})",
              all(br["train"][s] >= FITS and br["test"][s] > tr["test"][s] for s in seeds),
              f"{'' if all(v >= FITS for v in br['train'].values()) else pre}bottleneck "
              f"{per_seed(br['test'], '{:.3f}')}; transformer {per_seed(tr['test'], '{:.3f}')}"),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    seeds = results.seeds
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(11, 4.2))
    for j, split in enumerate(("train", "test")):
        vals = np.array([[results.value(seed=s, model=m, metric="r2", split=split) for s in seeds] for m in MODELS])
        ax_bar.bar(np.arange(len(MODELS)) + 0.4 * j, vals.mean(1), 0.4, yerr=vals.std(1), capsize=3,
                   label={"train": "training combinations", "test": "held-out combinations"}[split])
    ax_bar.set_xticks(np.arange(len(MODELS)) + 0.2, MODELS)
    ax_bar.set_ylabel("R^2 at the query")
    ax_bar.axhline(0, color="k", lw=0.5)
    ax_bar.legend(fontsize=8)
    for i, m in enumerate(MODELS):
        for s in seeds:
            for name, ls, split in (("train_r2", "-", "training"), ("test_r2", "--", "held-out")):
                steps, y = results.curve(name, seed=s, model=m)
                label = f"{m}, {split}" if s == seeds[0] else None
                ax_curve.plot(steps, y, color=f"C{i}", ls=ls, alpha=0.7, label=label)
    ax_curve.set_xlabel("training step")
    ax_curve.set_ylabel("R^2 (1,024 sequences)")
    ax_curve.set_ylim(-0.2, 1.0)
    ax_curve.legend(fontsize=7)
    t = cfg.task
    fig.suptitle(f"In-context hyperteacher: {t.modules} modules, {t.support} support, {t.context} examples "
                 f"({len(seeds)} seeds)")
    fig.tight_layout()
    return fig


def _train(steps: int, lr: float = 1e-3) -> optim.Config:
    return optim.Config(lr=lr, steps=steps, warmup=steps // 20, final_lr_frac=0.1)


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps


EXPERIMENT = Experiment(
    id="compositional_icl_bottleneck",
    title="Transformers compose in context through a hypernetwork bottleneck",
    paper="Kobayashi, Schug, Akram, Redhardt, von Oswald, Pascanu, Lajoie, Sacramento 2024, When can transformers "
    "compositionally generalize in-context?",
    claim="A transformer trained in context on a modular hyperteacher fits seen module combinations but not held-out "
    "ones; with a bottleneck (context -> latent code -> hypernetwork -> task network) it generalises to them.",
    tiers={
        "smoke": Config(task=hyperteacher.Config(input_dim=4, hidden=8, output_dim=1, context=8), train=_train(40),
                        width=16, heads=2, layers=1, latent=4, hidden=8, batch_size=32, eval_batch=256),
        "cpu": Config(task=hyperteacher.Config(input_dim=8, hidden=16, output_dim=2, context=24), train=_train(3000)),
        "paper": Config(task=hyperteacher.Config(input_dim=16, hidden=32, output_dim=4, context=64),
                        train=_train(50_000), width=128, heads=8, layers=4, latent=16, hidden=64, eval_batch=16_384),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=steps,
)
