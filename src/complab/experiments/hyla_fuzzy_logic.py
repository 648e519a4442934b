"""Attention as a hypernetwork on fuzzy logic (Schug, Kobayashi, Akram, Sacramento,
Pascanu 2024; code smonsays/hypernetwork-attention).

Claim: trained in context on fuzzy-logic functions (tasks/fuzzy_logic.py: ORs of
Zadeh-AND conjunctions over x in [0, 1]^4, 2 terms), on held-out combinations of seen
conjunctions HYLA's R^2 >= softmax attention's > linear attention's, and the
attention scores of HYLA's last query decode the task's latent terms.

Setup (SPECS "HYLA"): tokens concat(x_i, f(x_i)) embedded by a dense layer, a
pre-LayerNorm stack of `layers` blocks (non-causal attention with a T5 relative bias,
then a GELU MLP of 256 units), a final LayerNorm and a dense readout of the query
token; squared error at the query; AdamW (peak 1e-3, weight decay 0.1 on matrices
only), 100 warmup steps then cosine decay to 0.1 x peak, batch 128. The three
attentions differ only in how scores become outputs (models/mixers/hyla.py):
softmax; HYLA (RMS over heads, ReLU value network); linear (raw scores, as the
paper's "linear_attention": `hyla` with `rms_heads=False, value_net="none"`). The zoo
comparison no paper has runs DeltaNet, the SRWM and the gated linear RNN of Zucchet
et al. on the same split with the same blocks (they are causal; the query is last, so
it sees the whole context).

Checks (seed means; each seed's number is shown), each with a precondition that the
models it compares fit the training combinations (train R^2 >= 0.5), so an ordering
of unlearned noise cannot pass:
1. On held-out combinations ("test"): R^2 HYLA >= softmax (both fit).
2. On held-out combinations: R^2 softmax > linear (softmax fits).
3. Latent decoding (the paper's probe): ridge (l2 = 1) from the scores at (query =
   last, key = last) of every layer and head to the terms' sign patterns, on sequences
   sharing one fixed query input, fit and scored on two halves of sequences of
   training combinations. HYLA's R^2 must exceed that of the same probe on the same
   HYLA at initialisation by >= 0.2 in every seed, HYLA fitting (the scores of an
   untrained net also vary with the context; what training adds is the code). This
   says training makes HYLA's scores a code of the task; the softmax and linear
   numbers are shown beside it, not compared. The variant the issue
   asks for (fit on training combinations, scored on held-out ones) is stored as
   `decode_r2_held_out`, for all three attentions.

Choices where the paper leaves room: sequences of 32 tokens (the issue's; the paper's
config file has 16 and its sweeps 16-96, its latent analysis 96); the relative bias is
bidirectional (the paper's code uses one bucket set for both directions, which changes
only the context tokens' view, not the query's). "R^2 >=" between HYLA and softmax is compared on
seed means, without a margin; the 0.5 train-fit precondition and the 0.2 decoding
margin are ours. The paper's projections carry biases, ours do not; its relative-bias
table starts random, ours at zero. Test and OOD R^2 use `eval_batch` sequences from
each split's own stream; the probe `probe_batch` per split.

Budget. The cpu tier trains the three attentions at width 64 for 4,000 steps (3 seeds:
35 minutes measured while other jobs shared the 2 cores, about 25 alone by the step
times 54 / 31 / 28 ms); `--set models=hyla,softmax,linear,delta_net,srwm,gated_rnn`
adds the zoo cells (the attention runs are reused: `models` only enumerates cells).
The zoo at 1,500 steps (3 seeds, seed-mean held-out / OOD R^2): DeltaNet 0.42 / 0.07,
SRWM 0.40 / 0.02, gated RNN 0.15 / -0.08, against HYLA 0.32 / 0.10, softmax 0.49 / 0.21,
linear 0.16 / 0.15.
Measured here with this code, 3 seeds, width 64 (on a GPU, the same programs): HYLA's
held-out R^2 stays below softmax's at 4,000, 8,000 and 16,000 steps (seed means 0.52 /
0.70, 0.64 / 0.77, 0.74 / 0.82), so no cpu-tier budget shows the ordering; softmax >
linear holds at each. The paper's claim is at width 128 and 50,000 steps: the paper tier.
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
from complab.models import feedforward, sequence
from complab.models.mixers import delta_net, gated_rnn, hyla, softmax_attention, srwm
from complab.probes import latent_decoding
from complab.tasks import fuzzy_logic
from complab.training import linear_steps

ATTENTIONS = ("hyla", "softmax", "linear")
MODELS = ATTENTIONS + ("delta_net", "srwm", "gated_rnn")
FITS_TRAINING = 0.5  # train R^2 of softmax: the ordering's precondition
DECODE_MARGIN = 0.2  # trained minus initial decoding R^2
CURVE_POINTS = 11
EVAL_CHUNK = 1024


@dataclass(frozen=True)
class Config:
    task: fuzzy_logic.Config
    train: optim.Config
    models: tuple[str, ...] = MODELS
    width: int = 128
    heads: int = 8
    key_size: int = 2  # per head (the paper: 16 in total over 8 heads)
    layers: int = 2
    mlp: int = 256
    batch_size: int = 128
    eval_batch: int = 16_000
    probe_batch: int = 8_000  # per split

    def __post_init__(self):
        unknown = [m for m in self.models if m not in MODELS]
        require(not unknown and len(set(self.models)) == len(self.models),
                f"models must be distinct names from {', '.join(MODELS)}; got {self.models}")
        require(set(ATTENTIONS) <= set(self.models), f"the claim compares {', '.join(ATTENTIONS)}: models must "
                f"include them, got {self.models}")
        require(min(self.width, self.heads, self.key_size, self.mlp, self.batch_size) >= 1 and self.layers >= 2,
                f"width, heads, key_size, mlp and batch_size must be >= 1 and layers >= 2 (the first layer's "
                f"score of a fixed query on itself is the same in every sequence: the probe reads the later "
                f"ones), got {self}")
        require(self.eval_batch >= 2 and self.probe_batch >= 4, f"eval_batch must be >= 2 and probe_batch >= 4, "
                f"got {self.eval_batch}, {self.probe_batch}")
        require(self.task.frac_ood > 0, "the experiment reports the OOD split: task.frac_ood must be > 0")


def cells(cfg: Config) -> list[dict]:
    return [{"model": m} for m in cfg.models]


def mixer(cfg: Config, name: str):
    attention = dict(heads=cfg.heads, key_size=cfg.key_size, value_size=cfg.key_size, causal=False, encoding="t5",
                     t5_buckets=128, t5_max_distance=128)
    return {"hyla": lambda: hyla.Config(**attention),
            "softmax": lambda: softmax_attention.Config(**attention),
            "linear": lambda: hyla.Config(**attention, rms_heads=False, value_net="none"),
            "delta_net": lambda: delta_net.Config(heads=cfg.heads),
            "srwm": lambda: srwm.Config(heads=cfg.heads),
            "gated_rnn": lambda: gated_rnn.Config(neurons=cfg.width)}[name]()


def model_config(cfg: Config, name: str) -> sequence.Config:
    """DeltaNet runs its step form: the same function (tested), twice as fast as its chunked
    parallel form on a CPU at this length."""
    return sequence.Config(mixer=mixer(cfg, name), layers=cfg.layers, d_model=cfg.width, norm="pre",
                           ff=feedforward.MLPConfig(factor=cfg.mlp / cfg.width, activation="gelu"),
                           form="recurrent" if name == "delta_net" else "parallel")


@eqx.filter_jit
def _r2(model, batch):
    pred = jnp.zeros_like(batch.y).at[:, -1].set(jax.vmap(model.last)(batch.x))
    return fuzzy_logic.r_squared(pred, batch)


def _chunks(batch):
    """The batch in pieces of EVAL_CHUNK sequences: HYLA holds a [T, T, d_v] array per sequence."""
    for i in range(0, batch.x.shape[0], EVAL_CHUNK):
        yield jax.tree_util.tree_map(lambda a, i=i: a[i:i + EVAL_CHUNK], batch)


def r_squared(model, batch) -> float:
    """The paper's R^2 (a mean over sequences)."""
    return float(sum(c.x.shape[0] * float(_r2(model, c)) for c in _chunks(batch)) / batch.x.shape[0])


@eqx.filter_jit
def _query_scores(model, x):
    """[batch, layers * heads]: each layer's score of the last query on the last key."""
    trace = jax.vmap(model.trace)(x)
    return jnp.concatenate([trace[f"block{i}.mixer.pattern"][:, :, -1, -1] for i in range(model.cfg.layers)], -1)


def _fixed_query(batch, key):
    """The batch with one query input shared by every sequence (its target recomputed)."""
    n = batch.x.shape[-1] - 1
    x_q = jax.random.uniform(key, (n,))
    x = batch.x.at[:, -1, :n].set(x_q)
    y = batch.y.at[:, -1, 0].set(fuzzy_logic.evaluate(batch.info["latent"], x_q))
    return eqx.tree_at(lambda b: (b.x, b.y), batch, (x, y))


def decoding(model, probe: dict) -> tuple[float, float]:
    """(fit on training combinations -> scored on held-out ones; the paper's: fit and scored on two
    halves of the training-combination sequences)."""
    codes = {s: np.concatenate([np.asarray(_query_scores(model, c.x)) for c in _chunks(b)]) for s, b in probe.items()}
    latents = {s: np.asarray(b.info["latent"]).reshape(b.x.shape[0], -1) for s, b in probe.items()}
    held_out = latent_decoding.decode(codes["train"], latents["train"], codes["test"], latents["test"])
    half = len(codes["train"]) // 2
    paper = latent_decoding.decode(codes["train"][:half], latents["train"][:half], codes["train"][half:],
                                   latents["train"][half:])
    return held_out, paper


def _curve(key, state, test, ood):
    del key
    return {"test_r2": _r2(state.model, test), "ood_r2": _r2(state.model, ood)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    name = cell["model"]
    task = fuzzy_logic.FuzzyLogic(cfg.task)
    k_eval, k_probe, k_query, k_curve, k_model = rng.streams(key, "eval", "probe", "query", "curve", "model")
    k_init, k_learner, k_train = rng.streams(rng.named(k_model, name), "init", "learner", "train")
    d_in, d_out = task.dims
    model = eqx.filter_jit(sequence.SequenceModel)(model_config(cfg, name), d_in, d_out, key=k_init)
    curve_n = min(cfg.eval_batch, EVAL_CHUNK)
    sample = eqx.filter_jit(task.sample)
    evaluate = jax.tree_util.Partial(_curve, test=sample(k_curve, "test", curve_n), ood=sample(k_curve, "ood", curve_n))
    learner = supervised.Supervised(cfg.train, supervised.at_last(task.loss))
    probe = {s: _fixed_query(sample(k_probe, s, cfg.probe_batch), k_query) for s in ("train", "test")} \
        if name in ATTENTIONS else None
    initial = decoding(model, probe) if probe else None
    state = ctx.fit(name, learner, learner.init(k_learner, model), task, key=k_train, steps=cfg.train.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate, eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    rows = [{"metric": "r2", "split": s, "value": r_squared(state.model, sample(k_eval, s, cfg.eval_batch))}
            for s in task.splits]
    if probe:
        for (held_out, paper), when in ((decoding(state.model, probe), ""), (initial, "_init")):
            rows += [{"metric": "decode_r2" + when, "value": paper},
                     {"metric": "decode_r2_held_out" + when, "value": held_out}]
    return rows


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds

    def each(model, metric, **where):
        return {s: results.value(seed=s, model=model, metric=metric, **where) for s in seeds}

    def mean(values):
        return float(np.mean(list(values.values())))

    test = {m: each(m, "r2", split="test") for m in ATTENTIONS}
    fit = {m: each(m, "r2", split="train") for m in ("hyla", "softmax")}
    fits = {m: all(v >= FITS_TRAINING for v in fit[m].values()) for m in fit}

    def pre(*models):
        bad = [m for m in models if not fits[m]]
        return f"precondition failed: {' and '.join(bad)} did not fit the training combinations; " if bad else ""

    def compare(a, b):
        return (f"{pre(*[m for m in (a, b) if m in fits])}mean R^2 {a} {mean(test[a]):.3f}, {b} {mean(test[b]):.3f}; "
                f"{a}: {per_seed(test[a], '{:.3f}')}; {b}: {per_seed(test[b], '{:.3f}')}; train R^2 "
                + "; ".join(f"{m} {per_seed(fit[m], '{:.3f}')}" for m in fit))

    dec, dec0 = each("hyla", "decode_r2"), each("hyla", "decode_r2_init")
    others = {m: mean(each(m, "decode_r2")) for m in ("softmax", "linear")}
    return [
        Check(f"held-out combinations: R^2 HYLA >= softmax (seed means; both fit training, train R^2 >= "
              f"{FITS_TRAINING})", fits["hyla"] and fits["softmax"] and mean(test["hyla"]) >= mean(test["softmax"]),
              compare("hyla", "softmax")),
        Check("held-out combinations: R^2 softmax > linear (seed means; softmax fits training)",
              fits["softmax"] and mean(test["softmax"]) > mean(test["linear"]), compare("softmax", "linear")),
        Check(f"HYLA's last-query scores decode the latent terms: ridge R^2 >= {DECODE_MARGIN} above the same probe "
              "at initialisation, in every seed (HYLA fits training)",
              fits["hyla"] and all(dec[s] - dec0[s] >= DECODE_MARGIN for s in seeds),
              f"{pre('hyla')}trained {per_seed(dec, '{:.3f}')}; at initialisation {per_seed(dec0, '{:.3f}')}; "
              f"seed-mean softmax {others['softmax']:.3f}, linear {others['linear']:.3f}; fit on training "
              f"combinations, scored on held-out ones: HYLA {per_seed(each('hyla', 'decode_r2_held_out'), '{:.3f}')}"),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    seeds, models = results.seeds, list(cfg.models)
    splits = [s for s in ("train", "test", "ood") if results.select(metric="r2", split=s)]
    fig, (ax_bar, ax_curve, ax_dec) = plt.subplots(1, 3, figsize=(16, 4.2))
    width = 0.8 / len(splits)
    for j, split in enumerate(splits):
        vals = np.array([[results.value(seed=s, model=m, metric="r2", split=split) for s in seeds] for m in models])
        ax_bar.bar(np.arange(len(models)) + j * width, vals.mean(1), width, yerr=vals.std(1), capsize=2, label=split)
    ax_bar.set_xticks(np.arange(len(models)) + width * (len(splits) - 1) / 2, models, rotation=20)
    ax_bar.set_ylabel("R^2 at the query")
    ax_bar.set_ylim(min(-0.1, ax_bar.get_ylim()[0]), 1.0)
    ax_bar.axhline(0, color="k", lw=0.5)
    ax_bar.legend(fontsize=7, title="combinations")
    for i, m in enumerate(models):
        for s in seeds:
            steps, y = results.curve("test_r2", seed=s, model=m)
            ax_curve.plot(steps, y, color=f"C{i}", alpha=0.7, label=m if s == seeds[0] else None)
    ax_curve.set_xlabel("training step")
    ax_curve.set_ylabel("held-out R^2 (1,024 sequences)")
    ax_curve.set_ylim(-0.2, 1.0)
    ax_curve.legend(fontsize=7)
    labels = [m for m in ATTENTIONS if m in models]
    for k, (metric, name) in enumerate((("decode_r2_init", "at initialisation"), ("decode_r2", "trained"),
                                        ("decode_r2_held_out", "trained, held-out combinations"))):
        vals = np.array([[results.value(seed=s, model=m, metric=metric) for s in seeds] for m in labels])
        ax_dec.bar(np.arange(len(labels)) + 0.27 * k, vals.mean(1), 0.27, yerr=vals.std(1), capsize=2, label=name)
    ax_dec.set_xticks(np.arange(len(labels)) + 0.27, labels)
    ax_dec.set_ylabel("latent decoding R^2 (ridge, last-query scores)")
    ax_dec.legend(fontsize=7)
    t = cfg.task
    fig.suptitle(f"Fuzzy logic, {t.variables} variables, {t.terms} terms, length {t.seq_len}, width {cfg.width}, "
                 f"{cfg.train.steps} steps ({len(seeds)} seeds)")
    fig.tight_layout()
    return fig


def _train(steps: int) -> optim.Config:
    return optim.Config(lr=1e-3, steps=steps, warmup=min(100, steps // 10), final_lr_frac=0.1, weight_decay=0.1)


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps


EXPERIMENT = Experiment(
    id="hyla_fuzzy_logic",
    title="Attention as a hypernetwork: fuzzy logic",
    paper="Schug, Kobayashi, Akram, Sacramento, Pascanu 2024, Attention as a hypernetwork",
    claim="On held-out combinations of fuzzy-logic terms HYLA's R^2 >= softmax attention's > linear attention's, "
    "and HYLA's attention scores decode the task's latent terms.",
    tiers={
        "smoke": Config(task=fuzzy_logic.Config(variables=3, terms=2, seq_len=8), train=_train(40), models=ATTENTIONS,
                        width=16, heads=2, mlp=32, batch_size=32, eval_batch=256, probe_batch=256),
        "cpu": Config(task=fuzzy_logic.Config(), train=_train(4000), models=ATTENTIONS, width=64, eval_batch=4096,
                      probe_batch=4096),
        "paper": Config(task=fuzzy_logic.Config(), train=_train(50_000)),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("models",),
    steps=steps,
)
