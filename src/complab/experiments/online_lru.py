"""Online learning of long-range dependencies (Zucchet, Meier, Schug, Mujika, Sacramento,
NeurIPS 2023): in a network of independent diagonal recurrent modules (LRUs), exact
eligibility traces of each module's own parameters plus spatial backpropagation across
layers learn a long copy task as well as backpropagation through time, with memory that
does not grow with the sequence.

Setup (the authors' `online_lru` code): the copy task of tasks/copy.py (7 bits per step,
pad 7; the cpu tier shortens the pattern to 10 steps, T = 28); the network of
models/lru_stack.py (encoder, 2 blocks of LayerNorm -> LRU -> GELU -> GLU + skip,
decoder; width 32 and 32 complex states at the cpu tier, r_min 0, r_max 1); Adam with
cosine decay to 0, the recurrent parameters (nu, theta, gamma, B) at half the rate as
in the paper; every rule starts from the same initialisation and sees the same batches.
Rules (learners/online.py): `bptt` (reference), `online` (traces + spatial backprop),
`truncated` (one-step traces), `spatial` (no temporal credit).

Checks (each seed):
1. exactness: with one layer, the online gradient of the recurrent layer and everything
   above it equals BPTT's (relative error < 1e-4 in float32); the layers below get only
   their spatial gradient, and with two layers the lower LRU's gradient differs (shown);
2. alignment: over training, the online rule's gradient is closer to BPTT's (mean cosine
   along its own trajectory, on test batches, as the authors log it) than the truncated
   and the spatial rules' are to BPTT's along theirs;
3. learning: BPTT learns the task (test bit accuracy >= 0.95, chance 0.5); the online rule
   comes within 5 points of it; the truncated and spatial rules stay >= 10 points below
   both (the paper's Fig. 2E/F direction; the margins are this lab's choice);
4. memory (XLA's buffer assignment for one sequence's gradient: its temporaries, what can
   grow with the length; parameters and gradients are fixed): the online rule's do not
   grow with the pattern length (x4 length: <= 1.25x), BPTT's do (>= 2x). The online
   rule's memory in all over streaming inference's is reported beside the paper's "about
   twice".

Choices: fresh batches instead of the paper's fixed 20k sequences; no dropout (the data
never repeat); the copy pattern 10 steps long at the cpu tier (20 at the paper tier); one
learning rate (3e-3 at the cpu tier) for every rule, where the paper scans it per rule.

Measured at the cpu tier (3 seeds, 4000 steps each; 409-446 s of compute on 2 cores): the
claim holds. Exactness: one layer 1.7-2.3e-7 relative (the encoder below 0.34-0.55, the
lower of two LRUs 0.21-0.38). Mean cosine with BPTT over training: online 0.92-0.96,
truncated 0.49-0.53, spatial 0.53. Test bit accuracy: BPTT 0.999-1.000, online
0.975-0.994, truncated 0.83-0.85, spatial 0.77-0.82. Memory temporaries at x4 pattern
length: online x1.00, BPTT x3.20; in all at T = 28 online 187 KiB, BPTT 256 KiB,
streaming inference 66 KiB (online / inference 2.9x, against the paper's "about twice":
the traces of B are state x width per layer).
"""

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng, training
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import meta, online, optim
from complab.models import lru_stack
from complab.models.mixers import lru
from complab.tasks import copy
from complab.training import linear_steps

RULES = online.MODES
EXACT, NEAR, BELOW, LEARNED = 1e-4, 0.05, 0.10, 0.95
FLAT, GROWS, LONGER = 1.25, 2.0, 4
CURVE_POINTS = 11
RECURRENT_GROUP = r"\.cells\[\d+\]\.(" + "|".join(online.RECURRENT) + ")"


@dataclass(frozen=True)
class Config:
    task: copy.Config
    model: lru_stack.Config
    train: optim.Config
    batch_size: int = 32
    eval_batch: int = 256
    recurrent_lr_scale: float = 0.5

    def __post_init__(self):
        require(self.batch_size >= 1 and self.eval_batch >= 1 and self.recurrent_lr_scale > 0,
                f"batch sizes must be >= 1 and recurrent_lr_scale > 0; got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"rule": r} for r in RULES]


def _evaluate(key, state, task, cfg: Config, rule: str):
    del key
    b = task.sample(jax.random.key(0), "test", cfg.eval_batch)
    out = task.metrics(jax.vmap(state.model)(b.x), b)
    g_ref = online.gradient(state.model, b, task.position_loss, "bptt")[1]
    g = online.gradient(state.model, b, task.position_loss, rule)[1]
    return {"bit_accuracy": out["bit_accuracy"], "test_loss": out["loss"], "cosine": meta.cosine(g, g_ref)}


def _upper(model):
    """The parts of a stack whose online gradient is exact: the last LRU and everything above it."""
    return model.cells[-1], model.glu_value[-1], model.glu_gate[-1], model.decoder


def _rel(a, b) -> float:
    """||a - b|| / ||b|| over two gradient pytrees."""
    return float(jnp.sqrt(meta.sq_norm(jax.tree.map(jnp.subtract, a, b)) / meta.sq_norm(b)))


def _exactness(cfg: Config, task, key) -> dict:
    """Online vs BPTT gradients at initialisation: one layer (the exact part and the encoder
    below it) and two layers (the lower LRU)."""
    b = task.sample(key, "test", 16)
    out = {}
    for layers in (1, 2):
        model = lru_stack.LRUStack(lru_stack.Config(layers=layers, width=cfg.model.width, cell=cfg.model.cell),
                                   *task.dims, key=key)
        g_on = eqx.filter_jit(online.gradient)(model, b, task.position_loss, "online")[1]
        g_bp = eqx.filter_jit(online.gradient)(model, b, task.position_loss, "bptt")[1]
        if layers == 1:
            out["exact_rel_error"] = _rel(_upper(g_on), _upper(g_bp))
            out["encoder_rel_error"] = _rel(g_on.encoder, g_bp.encoder)
        else:
            out["lower_lru_rel_error"] = _rel(g_on.cells[0], g_bp.cells[0])
    return out


def _memory_bytes(model, task, rule: str) -> tuple[float, float]:
    """XLA's bytes for one sequence's gradient by `rule` (rule "inference": the streaming
    forward pass): (in all, with the parameters and the gradient; the temporaries alone,
    what can grow with the sequence)."""
    b = task.sample(jax.random.key(0), "test", 1)
    x, y, w = b.x[0], b.y[0], b.mask[0] / b.mask.sum()
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def fn(p, x, y, w):
        m = eqx.combine(p, static)
        if rule == "inference":
            return jax.lax.scan(lambda hs, x_t: (m.step(hs, x_t)[0], None), m.init_state(), x)[0]
        if rule == "bptt":
            return online.bptt(m, x, y, w, task.position_loss)
        return online.online(m, x, y, w, task.position_loss, rule)

    args = (params, x, None, None) if rule == "inference" else (params, x, y, w)
    mem = jax.jit(fn).lower(*args).compile().memory_analysis()
    return float(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes), \
        float(mem.temp_size_in_bytes)


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    rule = cell["rule"]
    k_init, k_train, k_exact = rng.streams(key, "init", "train", "exact")
    task = copy.Copy(cfg.task)
    model = lru_stack.LRUStack(cfg.model, *task.dims, key=k_init)
    train = dataclasses.replace(cfg.train, groups=(optim.Group(RECURRENT_GROUP, cfg.recurrent_lr_scale),))
    learner = online.Online(train, task.position_loss, rule)
    evaluate = jax.tree_util.Partial(_evaluate, task=task, cfg=cfg, rule=rule)
    state = ctx.fit("train", learner, learner.init(k_init, model), task, key=k_train, steps=cfg.train.steps,
                    batch_size=cfg.batch_size, evaluate=evaluate, eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    final = {k: float(v) for k, v in training.evaluation(evaluate, jax.random.key(0), state).items()}
    longer = copy.Copy(copy.Config(bits=cfg.task.bits, length=LONGER * cfg.task.length, pad=cfg.task.pad))
    row = dict(final)
    if rule in ("online", "bptt"):  # the truncated and spatial rules hold what the online rule holds, less the traces
        (total, temp), (_, temp_longer) = _memory_bytes(model, task, rule), _memory_bytes(model, longer, rule)
        row.update(memory=total, memory_temp=temp, memory_temp_longer=temp_longer)
    if rule == "online":
        row.update(memory_inference=_memory_bytes(model, task, "inference")[0], **_exactness(cfg, task, k_exact))
    return [row]


def _final(results: Results, rule: str) -> dict[int, dict]:
    return {s: rows[0] for s, rows in results.by_seed(rule=rule).items()}


def _mean_cosine(results: Results, rule: str, seed: int) -> float:
    try:
        return float(results.curve("cosine", seed=seed, rule=rule)[1].mean())
    except ValueError:
        return float("nan")


def expect(results: Results, cfg: Config) -> list[Check]:
    rows = {r: _final(results, r) for r in RULES}
    seeds = [s for s in results.seeds if all(s in rows[r] for r in RULES)]
    complete = bool(seeds) and len(seeds) == len(results.seeds)

    on = rows["online"]
    ok1 = complete and all(on[s]["exact_rel_error"] < EXACT and on[s]["encoder_rel_error"] > EXACT
                           and on[s]["lower_lru_rel_error"] > EXACT for s in seeds)
    said1 = "; ".join(f"seed {s}: one layer, LRU and above {on[s]['exact_rel_error']:.1e}, encoder below "
                      f"{on[s]['encoder_rel_error']:.2f}; two layers, lower LRU {on[s]['lower_lru_rel_error']:.2f}"
                      for s in seeds) or "no complete seed"

    cos = {s: {r: _mean_cosine(results, r, s) for r in ("online", "truncated", "spatial")} for s in seeds}
    ok2 = complete and all(c["online"] > max(c["truncated"], c["spatial"]) for c in cos.values())
    said2 = "; ".join(f"seed {s}: online {c['online']:.3f}, truncated {c['truncated']:.3f}, spatial "
                      f"{c['spatial']:.3f}" for s, c in cos.items()) or "no complete seed"

    acc = {s: {r: rows[r][s]["bit_accuracy"] for r in RULES} for s in seeds}
    ok3 = complete and all(a["bptt"] >= LEARNED and a["online"] >= a["bptt"] - NEAR
                           and max(a["truncated"], a["spatial"]) <= min(a["online"], a["bptt"]) - BELOW
                           for a in acc.values())
    said3 = "; ".join(f"seed {s}: " + ", ".join(f"{r} {a[r]:.3f}" for r in RULES) for s, a in acc.items()) \
        or "no complete seed"

    growth = {s: {r: rows[r][s]["memory_temp_longer"] / rows[r][s]["memory_temp"] for r in ("online", "bptt")}
              for s in seeds}
    ok4 = complete and all(g["online"] <= FLAT and g["bptt"] >= GROWS for g in growth.values())
    s0 = seeds[0] if seeds else None
    said4 = (per_seed({s: g["online"] for s, g in growth.items()}, "online x{:.2f}") + "; "
             + per_seed({s: g["bptt"] for s, g in growth.items()}, "BPTT x{:.2f}")
             + (f"; at the base length the online rule holds {on[s0]['memory'] / 2**10:.0f} KiB, BPTT "
                f"{rows['bptt'][s0]['memory'] / 2**10:.0f} KiB, streaming inference "
                f"{on[s0]['memory_inference'] / 2**10:.0f} KiB (online / inference "
                f"{on[s0]['memory'] / on[s0]['memory_inference']:.1f}x)" if s0 is not None else ""))
    return [
        Check(f"exactness: with one layer the online gradient of the LRU and everything above it is BPTT's "
              f"(relative error < {EXACT:g}); the encoder below and, with two layers, the lower LRU differ",
              ok1, said1),
        Check("alignment: the online rule's gradient is closer to BPTT's (mean cosine over training) than the "
              "truncated and the spatial rules'", ok2, said2),
        Check(f"learning: BPTT reaches test bit accuracy >= {LEARNED} (chance 0.5), the online rule is within "
              f"{NEAR:.0%} of it, the truncated and spatial rules stay >= {BELOW:.0%} below both", ok3, said3),
        Check(f"memory: x{LONGER} pattern length grows the online rule's gradient memory <= {FLAT}x and BPTT's "
              f">= {GROWS}x", ok4, said4),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax_a, ax_c, ax_m) = plt.subplots(1, 3, figsize=(14, 4.2))
    for j, rule in enumerate(RULES):
        for name, ax in (("bit_accuracy", ax_a), ("cosine", ax_c)):
            if name == "cosine" and rule == "bptt":
                continue
            curves = []
            for s in results.seeds:
                try:
                    curves.append(results.curve(name, seed=s, rule=rule))
                except ValueError:
                    pass
            if curves:
                ax.plot(curves[0][0], np.mean([c[1] for c in curves], 0), color=f"C{j}", label=rule)
        rows = [r for r in results.select(rule=rule) if "memory" in r]
        if rows:
            ax_m.bar(j - 0.2, np.mean([r["memory_temp"] for r in rows]) / 2**10, 0.4, color=f"C{j}")
            ax_m.bar(j + 0.2, np.mean([r["memory_temp_longer"] for r in rows]) / 2**10, 0.4, color=f"C{j}", alpha=0.5)
    ax_a.axhline(0.5, color="k", ls=":", lw=1)
    ax_a.set(xlabel="step", ylabel="test bit accuracy (output window)", title="copy task")
    ax_c.set(xlabel="step", ylabel="cosine with the BPTT gradient", title="gradient alignment")
    ax_m.set_xticks([0, 1], ["bptt", "online"])
    ax_m.set(ylabel="KiB of temporaries for one sequence's gradient",
             title=f"memory: length T (solid) and x{LONGER} (light)")
    for ax in (ax_a, ax_c):
        ax.legend(fontsize=8)
    fig.suptitle("Online learning of long-range dependencies in a deep LRU network")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="online_lru",
    title="Exact online traces in independent recurrent modules learn long-range copy as well as BPTT",
    paper="Zucchet, Meier, Schug, Mujika, Sacramento 2023, Online learning of long-range dependencies",
    claim="Eligibility traces of each LRU's own parameters plus spatial backpropagation give BPTT's gradient for one "
    "layer and a well-aligned one for more; they learn the copy task about as well as BPTT where truncated and "
    "spatial rules do not, with memory constant in the sequence length.",
    tiers={
        "smoke": Config(task=copy.Config(bits=3, length=3, pad=2),
                        # one layer: the two-layer stack's online gradient is tested in tests/learners/test_online.py
                        # and measured here by the exactness figures (built at two layers at every tier)
                        model=lru_stack.Config(layers=1, width=8, cell=lru.Config(state=8)),
                        train=optim.Config(lr=3e-3, steps=10, final_lr_frac=0.0), batch_size=4, eval_batch=16),
        "cpu": Config(task=copy.Config(bits=7, length=10, pad=7), model=lru_stack.Config(),
                      train=optim.Config(lr=3e-3, steps=4000, final_lr_frac=0.0)),
        "paper": Config(task=copy.Config(bits=7, length=20, pad=7),
                        model=lru_stack.Config(layers=4, width=128, cell=lru.Config(state=64)),
                        train=optim.Config(lr=1e-3, steps=10_000, final_lr_frac=0.0), batch_size=50,
                        eval_batch=1000),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=lambda cfg, cell: cfg.train.steps,
)
