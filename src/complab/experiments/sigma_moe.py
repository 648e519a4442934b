"""A sigmoid-gated mixture of experts matches a dense feedforward block at a fraction of
its compute (Csordás, Irie, Schmidhuber, EMNLP Findings 2023, arXiv 2310.10837,
"Approximating two-layer feedforward networks for efficient transformers"; code
RobertCsordas/moe): a parameter-equal σ-MoE transformer models characters as well as
the dense one while each token uses K of its N_E experts; softmax selection does worse,
and without the entropy regulariser and expert dropout the experts' use collapses.

Setup (specs section 5, read against the authors' code): character-level language
modelling (tasks/char_text.py: the Python standard library's top-level sources, 4.70
MB under CPython 3.11, bytes as tokens, contiguous 90 / 5 / 5 splits as enwik8's). A
pre-LayerNorm transformer with Transformer-XL relative attention (causal, no memory
across windows: each window of `context` bytes is read on its own), the
feedforward block per model:
- "dense": ReLU MLP with biases, d_ff chosen so its parameters equal the MoE's
  (experts, keys, values and the selection matrix), as the authors match theirs;
- "sigma_moe": N_E experts of G units, s = sigmoid(W_s x), the top K by score weighted
  by their score (models/moe.py); entropy regulariser gamma * (-H(mean softmax(W_s x)))
  over the batch's tokens, summed over layers, and expert dropout delta per (token,
  expert) before the top-K, both as the authors' code;
- "softmax_moe": the same with softmax scores before the top-K (not renormalised: the
  paper's "softmax (no renorm.)"), same regulariser and dropout (the authors' code
  allows expert dropout only with sigmoid gates; ours keeps it so the gate is the one
  difference);
- "sigma_moe_noreg": σ-MoE with gamma = 0 and delta = 0 (the paper's "no reg" ablation).
The feedforward blocks are initialised as the authors' (custom_init 0): normal weights,
first layer std d^-1/2, second (N_E G)^-1/2 for the MoE and d_ff^-1/2 for the dense
block, zero biases, times their pre-LN scale sqrt(2 / layers) (1 at the cpu tier's 2
layers); selection rows of equal norm. Attention and embeddings keep Equinox's defaults.
Gamma = 1e-4 and delta = 0.05: the authors' enwik8 (and small WT103) values; the specs'
gamma = 0.001 is their value for the larger WT103 models. Adam, lr 1e-3 with linear
warmup then cosine decay to 10%, clip 0.25 (ours: the paper's lr 2.5e-4 is for 100k
steps; the paper tier uses it with plain Adam, their AdamW's decay not read). No
Transformer-XL memory at any tier. Feedforward FLOPs per token are counted
analytically: dense 4 d d_ff, MoE 2 d N_E (selection) + K 4 d G; the run also measures
the experts each token used (check 1 needs <= K). Our MoE computes every expert
(models/moe.py says why), so its wall time does not fall.

The cpu tier is smaller than the specs' (d 128, 4 layers, context 128, G 64, 3,000
steps, a 10 MB corpus: about 8x the compute, near an hour a run on 2 cores): d 64, 2
layers, 4 heads, context 64, N_E 8, G 32, K 2 (dense d_ff 257), batch 32, 1,500 steps.

Metrics: bits per character on `test_windows` non-overlapping windows spread evenly
over the test split (1,024 of its 3,670 at the cpu tier; every position of a window
counts, so early positions see little context); the curve: `eval_windows` of the valid
split. Expert use: per layer, the share of the top-K selections each expert receives
over those test tokens, its perplexity exp(H) / N_E (the authors'
"usage_rel_perplexity"), the mean over layers reported.

Checks (seed means; "learned" = test bpc <= 0.8 x the unigram model's, ours, so
untrained models cannot pass):
1. σ-MoE matches the dense model: bpc <= 1.02 x dense bpc (specs), both learned.
2. Sigmoid beats softmax selection: softmax-MoE bpc > σ-MoE bpc (the paper's ablation)
   in every seed (paired: a mean difference smaller than the seeds' spread is no
   evidence), both learned.
3. The regulariser and expert dropout keep the experts in use: σ-MoE's usage
   perplexity / N_E >= 0.7 (specs), and the ablation without them lower in every seed,
   σ-MoE learned (a random selection at initialisation already spreads tokens).

Measured at the cpu tier (3 seeds, 12 runs, 40 min of compute on 2 shared cores; test
bpc; the unigram model 4.54): no check holds. Dense 2.231, 2.248, 2.267 (mean 2.249);
σ-MoE 2.316, 2.302, 2.322 (2.313: 2.8% above dense where the check allows 2%, at 26% of
the dense block's feedforward FLOPs, every token using exactly K = 2 experts);
softmax-MoE 2.345, 2.313, 2.317 (2.325: worse on average, but better than σ-MoE in seed
2, so the paired check fails); σ-MoE without regulariser and expert dropout 2.307,
2.296, 2.312 (2.305, better than with them). Usage perplexity / N_E: σ-MoE 0.851,
0.883, 0.856; without regulariser and dropout 0.809, 0.881, 0.890; softmax 0.744,
0.854, 0.762 (its least-used expert in a layer gets 0.2-3% of the selections, σ-MoE's
4-8%):
no collapse without them in 1,500 steps. The paper's claims are at 100k steps of
12-16-layer models; at 2 layers and 3M training characters the MoE trails the dense
block, and gamma = 1e-4 is too weak to move the usage measurably. Before the review
fixes (Equinox's uniform init for the dense block, the test split's first 16 KB only)
the verdicts were the same except check 2, which held (softmax above σ-MoE in every
seed by 0.006-0.013). Not tried: longer training, the specs' larger cpu model, a larger
gamma (each run is 2-4 minutes here).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models import feedforward, moe, sequence
from complab.models.mixers import softmax_attention
from complab.tasks import char_text as ct

MODELS = ("dense", "sigma_moe", "softmax_moe", "sigma_moe_noreg")
MATCH, LEARNED, USAGE = 1.02, 0.8, 0.7
CURVE_POINTS = 10


@dataclass(frozen=True)
class Config:
    text: ct.Config = ct.Config(context=64)
    train: optim.Config = optim.Config(lr=1e-3, steps=1500, warmup=100, final_lr_frac=0.1, clip=0.25)
    models: tuple[str, ...] = MODELS
    width: int = 64
    layers: int = 2
    heads: int = 4
    experts: int = 8
    expert_size: int = 32
    k: int = 2
    regulariser: float = 1e-4  # gamma
    expert_dropout: float = 0.05  # delta
    batch_size: int = 32
    eval_windows: int = 256  # the valid curve's windows, spread over the split
    test_windows: int = 1024  # the final test windows, spread over the split (of 3,670 at context 64)

    def __post_init__(self):
        require(set(self.models) <= set(MODELS) and len(self.models) >= 1,
                f"models must be among {', '.join(MODELS)}; got {self.models}")
        require(self.width >= 1 and self.layers >= 1 and self.heads >= 1 and self.width % self.heads == 0,
                f"width must be a positive multiple of heads; got width={self.width}, heads={self.heads}")
        require(1 <= self.k <= self.experts and self.expert_size >= 1 and self.regulariser >= 0,
                f"the MoE needs 1 <= k <= experts, expert_size >= 1 and regulariser >= 0; got k={self.k}, "
                f"experts={self.experts}, expert_size={self.expert_size}, regulariser={self.regulariser}")
        require(self.batch_size >= 1 and self.eval_windows >= 1 and self.test_windows >= 1,
                "batch_size, eval_windows and test_windows must be >= 1")


def cells(cfg: Config) -> list[dict]:
    return [{"model": m} for m in cfg.models]


def dense_hidden(cfg: Config) -> float:
    """d_ff of the dense block whose parameters (2 d d_ff + d_ff + d) equal the MoE's
    (2 d N_E G + N_E d)."""
    d, n = cfg.width, cfg.experts * cfg.expert_size
    return (2 * d * n + cfg.experts * d - d) / (2 * d + 1)


def ff_config(cfg: Config, name: str):
    if name == "dense":
        return feedforward.MLPConfig(factor=dense_hidden(cfg) / cfg.width, activation="relu")
    return moe.Config(experts=cfg.experts, expert_size=cfg.expert_size, k=cfg.k,
                      gate="softmax" if name == "softmax_moe" else "sigmoid",
                      expert_dropout=0.0 if name == "sigma_moe_noreg" else cfg.expert_dropout)


def model_config(cfg: Config, name: str) -> sequence.Config:
    return sequence.Config(mixer=softmax_attention.Config(heads=cfg.heads, causal=True, encoding="xl"),
                           layers=cfg.layers, d_model=cfg.width, norm="pre", ff=ff_config(cfg, name))


def ff_flops(cfg: Config, name: str) -> float:
    """Feedforward FLOPs per token and layer (a multiply-add counts 2)."""
    d = cfg.width
    if name == "dense":
        return 4 * d * round(dense_hidden(cfg))
    return 2 * d * cfg.experts + cfg.k * 4 * d * cfg.expert_size


def _lm_loss(task, gamma, layers, model, batch, key):
    keys = jax.random.split(key, batch.x.shape[0])
    tr = jax.vmap(lambda x, k: model.trace(x, key=k, train=True))(batch.x, keys)
    total = task.loss(tr["out"], batch)
    if gamma > 0:
        total = total + gamma * sum(moe.entropy_regulariser(tr[f"block{i}.ff.logits"]) for i in range(layers))
    return total


def lm_loss(task: ct.CharText, gamma: float, layers: int):
    """Cross-entropy plus gamma times each MoE layer's entropy regulariser over the batch's
    tokens (a Partial: runs of different seeds share the compiled step)."""
    return jax.tree_util.Partial(_lm_loss, task, gamma, layers)


def authors_init(model: sequence.SequenceModel, cfg: Config, key: jax.Array) -> sequence.SequenceModel:
    """The feedforward blocks initialised as the authors' (custom_init 0): normal weights,
    first layer std d^-1/2, second (N_E G)^-1/2 (dense: d_ff^-1/2), zero biases, all times
    their pre-LN scale sqrt(2 / layers); the MoE's selection rows keep equal norms."""
    scale = float(np.sqrt(2 / cfg.layers))
    blocks = []
    for i, ff in enumerate(model.ffs):
        k_in, k_out = jax.random.split(jax.random.fold_in(key, i))
        if isinstance(ff, moe.MoE):
            blocks.append(eqx.tree_at(lambda f: (f.w_select, f.w_in, f.w_out), ff,
                                      (ff.w_select * scale, ff.w_in * scale, ff.w_out * scale)))
        else:
            (h, d), (d2, _) = ff.up.weight.shape, ff.down.weight.shape
            blocks.append(eqx.tree_at(
                lambda f: (f.up.weight, f.up.bias, f.down.weight, f.down.bias), ff,
                (scale * jax.random.normal(k_in, (h, d)) / np.sqrt(d), jnp.zeros(h),
                 scale * jax.random.normal(k_out, (d2, h)) / np.sqrt(h), jnp.zeros(d2))))
    return eqx.tree_at(lambda m: m.ffs, model, blocks)


def usage(gates: jax.Array) -> jax.Array:
    """Share of the top-K selections each expert receives ([..., tokens, experts] -> [..., experts])."""
    counts = (gates > 0).reshape(-1, gates.shape[-1]).sum(0)
    return counts / counts.sum()


def _evaluate(key, state, task, n, split, layers, is_moe):
    del key
    b = task.windows(split, n)
    tr = jax.vmap(lambda x: state.model.trace(x))(b.x)
    out = {"bpc": task.metrics(tr["out"], b)["bpc"]}
    if is_moe:
        gates = [tr[f"block{i}.ff.gates"] for i in range(layers)]
        out["usage"] = jnp.stack([usage(g) for g in gates])
        out["active_experts"] = jnp.mean(jnp.stack([(g > 0).sum(-1).mean() for g in gates]))  # per token
    return out


def relative_perplexity(p: np.ndarray) -> float:
    n, p = len(p), p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p)))) / n


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    name = cell["model"]
    task = ct.CharText(cfg.text)
    k_init, k_train = rng.streams(key, "init", "train")
    model = authors_init(sequence.SequenceModel(model_config(cfg, name), *task.dims, key=k_init), cfg,
                         rng.named(k_init, "ff"))
    is_moe = name != "dense"
    gamma = cfg.regulariser if name in ("sigma_moe", "softmax_moe") else 0.0
    learner = supervised.Supervised(cfg.train, lm_loss(task, gamma, cfg.layers))
    curve = jax.tree_util.Partial(_evaluate, task=task, n=cfg.eval_windows, split="valid", layers=cfg.layers,
                                  is_moe=False)
    state = ctx.fit("train", learner, learner.init(k_init, model), task, key=k_train, steps=cfg.train.steps,
                    batch_size=cfg.batch_size, evaluate=curve,
                    eval_at=training.linear_steps(cfg.train.steps, CURVE_POINTS + 1))
    final = training.evaluation(jax.tree_util.Partial(_evaluate, task=task, n=cfg.test_windows, split="test",
                                                      layers=cfg.layers, is_moe=is_moe), jax.random.key(0), state)
    row = {"bpc": float(final["bpc"]), "ff_flops": ff_flops(cfg, name),
           "ff_flop_fraction": ff_flops(cfg, name) / ff_flops(cfg, "dense"), "unigram_bpc": ct.unigram_bpc(task),
           "corpus": task.fingerprint}
    if is_moe:
        u = np.asarray(final["usage"])
        row["usage_rel_perplexity"] = float(np.mean([relative_perplexity(p) for p in u]))
        row["active_experts"] = float(final["active_experts"])
        row["usage_sorted"] = np.sort(u, axis=1)[:, ::-1].tolist()  # per layer, the largest share first
    return [row]


def _values(results: Results, field: str, **cell) -> dict[int, float]:
    return {s: rows[0][field] for s, rows in results.by_seed(**cell).items() if field in rows[0]}


def _mean(v: dict) -> float:
    return float(np.mean(list(v.values()))) if v else np.nan


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    bpc = {m: _values(results, "bpc", model=m) for m in cfg.models}
    mean = {m: _mean(v) for m, v in bpc.items()}
    have = {m: bool(seeds) and len(bpc[m]) == len(seeds) for m in cfg.models}
    unigram = _mean(_values(results, "unigram_bpc", model=cfg.models[0]))
    learned = {m: have[m] and mean[m] <= LEARNED * unigram for m in cfg.models}
    frac = ff_flops(cfg, "sigma_moe") / ff_flops(cfg, "dense")
    use = {m: _values(results, "usage_rel_perplexity", model=m) for m in ("sigma_moe", "sigma_moe_noreg")}
    active = _values(results, "active_experts", model="sigma_moe")
    sparse = len(active) == len(seeds) and all(a <= cfg.k + 1e-6 for a in active.values())

    def both(a, b):
        return a in cfg.models and b in cfg.models and learned[a] and learned[b]

    def said(*ms):
        return "; ".join(f"{m} {mean[m]:.3f} ({per_seed(bpc[m], '{:.3f}')})" for m in ms if m in cfg.models) + \
            f"; learned = bpc <= {LEARNED * unigram:.2f} ({LEARNED} x the unigram model's {unigram:.2f})"

    return [
        Check(f"σ-MoE matches the parameter-equal dense model at {frac:.0%} of its feedforward FLOPs: test bpc <= "
              f"{MATCH} x dense (both learned; each token used <= K = {cfg.k} experts)",
              both("sigma_moe", "dense") and sparse and mean["sigma_moe"] <= MATCH * mean["dense"],
              said("dense", "sigma_moe") + f"; experts used per token {per_seed(active, '{:.2f}')}"),
        Check("sigmoid selection beats softmax selection: softmax-MoE bpc > σ-MoE bpc in every seed (both learned)",
              both("sigma_moe", "softmax_moe") and all(bpc["softmax_moe"][s] > bpc["sigma_moe"][s] for s in seeds),
              said("sigma_moe", "softmax_moe")),
        Check(f"the regulariser and expert dropout keep the experts in use: σ-MoE's usage perplexity / N_E >= "
              f"{USAGE}, lower without them in every seed (σ-MoE learned)",
              "sigma_moe_noreg" in cfg.models and "sigma_moe" in cfg.models and learned["sigma_moe"]
              and len(use["sigma_moe_noreg"]) == len(use["sigma_moe"]) == len(seeds)
              and _mean(use["sigma_moe"]) >= USAGE
              and all(use["sigma_moe_noreg"][s] < use["sigma_moe"][s] for s in seeds),
              "; ".join(f"{m} {_mean(v):.3f} ({per_seed(v, '{:.3f}')})" for m, v in use.items()
                        if m in cfg.models)),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for j, m in enumerate(cfg.models):
        for s in results.seeds:
            try:
                t, v = results.curve("bpc", seed=s, model=m)
            except ValueError:
                continue
            axes[0].plot(t, v, color=f"C{j}", alpha=0.7, label=m if s == results.seeds[0] else None)
        shares = [np.mean(r[0]["usage_sorted"], axis=0) for r in results.by_seed(model=m).values()
                  if "usage_sorted" in r[0]]
        if shares:
            axes[1].plot(range(1, cfg.experts + 1), np.mean(shares, axis=0), color=f"C{j}", marker="o", label=m)
    unigram = _mean(_values(results, "unigram_bpc", model=cfg.models[0]))
    if np.isfinite(unigram):  # the curves start near 8 bits; show them below what context-free counting gives
        axes[0].axhline(unigram, color="k", ls=":", lw=1, label="unigram model (test)")
        axes[0].set_ylim(top=unigram + 0.2)
    axes[0].set(xlabel="step", ylabel="valid bits per character", title="character-level LM")
    axes[1].axhline(1 / cfg.experts, color="k", ls=":", lw=1, label="uniform")
    axes[1].set(xlabel="expert, by share", ylabel="share of selections (test)", yscale="log",
                title="expert use (mean over layers and seeds)")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="sigma_moe",
    title="A sigmoid-gated mixture of experts matches a dense feedforward block",
    paper="Csordás, Irie, Schmidhuber 2023, Approximating two-layer feedforward networks for efficient transformers",
    claim="A parameter-equal σ-MoE transformer models characters as well as the dense one with a fraction of the "
    "feedforward FLOPs; softmax selection is worse, and without the entropy regulariser and expert dropout the "
    "experts' use collapses.",
    tiers={
        "smoke": Config(text=ct.Config(context=16, max_bytes=40_000), train=optim.Config(lr=1e-3, steps=10),
                        models=("sigma_moe",), width=16, layers=1, heads=2, experts=4, expert_size=8,
                        batch_size=4, eval_windows=16, test_windows=16),
        "cpu": Config(),
        "paper": Config(text=ct.Config(context=512),
                        train=optim.Config(lr=2.5e-4, steps=100_000, final_lr_frac=0.0, clip=0.25),
                        width=512, layers=12, heads=8, experts=16, expert_size=128, k=4, batch_size=32,
                        eval_windows=2048, test_windows=8192),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("models",),
    steps=lambda cfg, cell: cfg.train.steps,
)
