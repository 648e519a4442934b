"""Abrupt and spontaneous strategy switches in regularised gated networks (Löwe, Touzo,
Muhle-Karbe, Saxe, Summerfield, Schuck, PLoS Comp Biol 2024, arXiv 2302.11351).

Claim: a network whose inputs pass through multiplicative gates with an L1 penalty, trained
by gradient descent with noise added to every update, switches to a cheaper feature that
becomes fully predictive partway through, as insightful humans do: late, abruptly, and in
only some networks; each of gating, regularisation and noise is needed; and the shortcut's
weight grows ("silent knowledge") while its gate is still shut.

Setup (the paper's methods and code were not retrievable; the form follows a co-author's
public prototype, LeoTouzo/Neuroscience-models, and SPECS "insight_gating"; values are
ours): tasks/insight.py (five coherences, motion evidence gain x coherence + N(0, 1),
colour predictive from trial 400 of 2400, decision noise 0.5); learners/gated_readout.py
(y = sum g_i w_i x_i; each network starts at w = 0.05 and g = 0.5 times 1 + 0.2 N(0, 1),
so networks differ even without noise; expected-gradient steps with lr = 0.05, gradient
noise sigma on every parameter, the L1 term by its proximal step).
The full model has lam = 0.2 and sigma = 0.1, chosen so that about half of the networks
switch by the end, as 49 of the 99 participants did; the SPECS grid (lam <= 1e-2, sigma
<= 0.05) leaves the colour gate open at the onset in this formulation (its gate needs
lr lam x 400 trials >= 0.5 to close). Each ablation changes one thing: lam = 0, sigma = 0,
or no gates (y = w . x with the L1 penalty on w). 200 networks per arm and seed.

Measures per network, on the colour readout beta_c = g_c w_c: it switched when beta_c ends
above 0.5 (the optimum is 1); its switch trial is the first at which beta_c exceeds 0.5,
the delay counts from the onset; the transition runs from 10% to 90% of the final beta_c.

Checks (each seed):
1. Insight: a fraction in (0.1, 0.9) of the full model's networks switch, with delays
   spread widely (interquartile range > 100 trials) and abrupt transitions (median 10-90%
   transition < 10% of the 2,000 trials after the onset (SPECS), and shorter than half
   the median delay: the transition is quick next to the wait before it).
2. Precondition: every arm has learned the motion task before the onset (accuracy at the
   top coherence >= 0.85), so a switch is from one strategy to another.
3. Without the L1 penalty >= 90% switch, with a median delay < 100 trials, and gradually
   from the onset (the transition outlasts the delay): no insight.
4. Without noise every network has the same outcome (all or none switch), although they
   start apart.
5. Without gates, as 3.
6. Silent knowledge: in the full model's switching networks the median |w_c| has at least
   doubled between the onset and the first trial the colour gate opens past 0.05 (a gate
   already open at the onset, as without L1, gives 1x), and it grew more than the same
   network's weight grows over the same trials under the same noise draws when colour never
   predicts (the matched control: noise alone moves a weight behind a shut gate too), in
   more than half the networks by 2 standard errors of a fair coin.

Measured at the cpu tier: see the closing lines.

"""

from dataclasses import dataclass, field, replace

import jax
import numpy as np

from complab.rng import seed_of
from complab.config import require
from complab.experiments.base import Check, Experiment, Results
from complab.learners import gated_readout
from complab.tasks import insight

ARMS = ("full", "no_l1", "no_noise", "no_gate")
FRACTION = (0.1, 0.9)
SPREAD = 100
ABRUPT = 0.1
MOST = 0.9
PROMPT = 100
MOTION = 0.85
SILENT, CLOSED = 2.0, 0.05
SWITCHED = 0.5


@dataclass(frozen=True)
class Config:
    task: insight.Config = field(default_factory=insight.Config)
    lam: float = 0.2
    sigma: float = 0.1
    lr: float = 0.05
    nets: int = 200
    arms: tuple[str, ...] = ARMS
    examples: int = 6  # networks whose trajectories go to the store as curves
    every: int = 10  # trials between curve points

    def __post_init__(self):
        require(self.lam > 0 and self.sigma > 0 and self.lr > 0,
                f"the full model needs lam > 0, sigma > 0 and lr > 0 (the ablations set them to 0); got {self}")
        require(self.nets >= 10 and set(self.arms) <= set(ARMS) and self.arms,
                f"nets >= 10 and arms from {ARMS}; got nets={self.nets}, arms={self.arms}")
        require(0 <= self.examples <= self.nets and self.every >= 1, f"0 <= examples <= nets, every >= 1; got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"arm": a} for a in cfg.arms]


def settings(cfg: Config, arm: str) -> dict:
    return {"lam": 0.0 if arm == "no_l1" else cfg.lam, "sigma": 0.0 if arm == "no_noise" else cfg.sigma,
            "gated": arm != "no_gate"}


def measures(ws: np.ndarray, gs: np.ndarray, onset: int, control: np.ndarray | None = None) -> dict:
    """Per network: whether it switched, its delay and transition length, and how much its
    colour weight grew between the onset and the first trial its colour gate opened past
    CLOSED (1 when the gate was already open at the onset; NaN without a weight at the
    onset); with `control` (the colour weights of the same networks and noise when colour
    never predicts), how much that weight grew over the same trials."""
    beta = ws[:, 1] * gs[:, 1]
    final = beta[-1]
    start, end = np.argmax(beta > 0.1 * final, 0), np.argmax(beta > 0.9 * final, 0)
    shut = np.abs(gs[onset:, 1]) <= CLOSED
    opened = onset + np.where(shut.all(0), shut.shape[0] - 1, np.argmin(shut, 0))
    nets = np.arange(beta.shape[1])
    at_onset = np.abs(ws[onset - 1, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        silent = np.where(at_onset > 0, np.abs(ws[np.maximum(opened - 1, onset - 1), 1, nets]) / at_onset, np.nan)
        noise_only = np.abs(control[np.maximum(opened - 1, onset - 1), nets]) / at_onset if control is not None \
            else np.full(len(nets), np.nan)
    return {"switched": final > SWITCHED, "delay": np.argmax(beta > SWITCHED, 0) - onset, "length": end - start,
            "silent": silent, "silent_control": noise_only}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    arm, task = cell["arm"], cfg.task
    seed = seed_of(key)
    rng = np.random.default_rng([seed, ARMS.index(arm)])
    ws, gs = gated_readout.simulate(task, lr=cfg.lr, nets=cfg.nets, rng=rng, **settings(cfg, arm))
    control = None
    if arm == "full":  # the same networks and noise draws, but colour never predicts
        never = replace(task, onset=task.trials - 1)
        control = gated_readout.simulate(never, lr=cfg.lr, nets=cfg.nets, rng=np.random.default_rng(
            [seed, ARMS.index(arm)]), **settings(cfg, arm))[0][:, 1]
    m = measures(ws, gs, task.onset, control)
    low, top = min(task.coherences), max(task.coherences)
    for t in range(0, task.trials, cfg.every):  # no learner: trajectories go to the store as curves
        bm, bc = ws[t, 0] * gs[t, 0], ws[t, 1] * gs[t, 1]
        ctx.store.log_curve(ctx.run, arm, t, {
            "switched": float((bc > SWITCHED).mean()),
            "low_accuracy": float(insight.accuracy(task, bm, bc, low, t >= task.onset).mean()),
            **{f"beta_c_{n}": float(bc[n]) for n in range(cfg.examples)},
            **{f"w_c_{n}": float(ws[t, 1, n]) for n in range(cfg.examples)},
            **{f"g_c_{n}": float(gs[t, 1, n]) for n in range(cfg.examples)}})
    pre = task.onset - 1
    sw = m["switched"]
    delays = m["delay"][sw]
    q25, q50, q75 = np.percentile(delays, [25, 50, 75]) if sw.any() else (np.nan,) * 3
    return [{
        "switched": float(sw.mean()), "delay_q25": float(q25), "delay_median": float(q50), "delay_q75": float(q75),
        "length_median": float(np.median(m["length"][sw])) if sw.any() else float("nan"),
        "silent_median": float(np.median(m["silent"][sw])) if sw.any() else float("nan"),
        "silent_control_median": float(np.median(m["silent_control"][sw])) if sw.any() else float("nan"),
        "silent_beats_control": float(np.mean(m["silent"][sw] > m["silent_control"][sw])) if sw.any() else float("nan"),
        "silent_networks": int(sw.sum()),
        "motion_accuracy": float(insight.accuracy(task, ws[pre, 0] * gs[pre, 0], ws[pre, 1] * gs[pre, 1], top,
                                                  False).mean()),
        "delays": delays.tolist(),
    }]


def _arm(results: Results, arm: str, seed: int) -> dict | None:
    rows = results.select(arm=arm, seed=seed)
    return rows[0] if rows else None


def expect(results: Results, cfg: Config) -> list[Check]:
    checks = []
    after = cfg.task.trials - cfg.task.onset

    def each(arm: str, test, say) -> tuple[bool, str]:
        ok, said = True, []
        for s in results.seeds:
            r = _arm(results, arm, s)
            good = r is not None and bool(test(r))
            ok &= good
            said.append(f"seed {s}: " + (say(r) if r is not None else f"{arm} not run"))
        return bool(ok and results.seeds), "; ".join(said)

    ok, said = each("full", lambda r: FRACTION[0] < r["switched"] < FRACTION[1]
                    and r["delay_q75"] - r["delay_q25"] > SPREAD and r["length_median"] < ABRUPT * after
                    and r["length_median"] < r["delay_median"] / 2,
                    lambda r: f"{r['switched']:.0%} switch, delay quartiles {r['delay_q25']:.0f} / "
                    f"{r['delay_median']:.0f} / {r['delay_q75']:.0f}, transition {r['length_median']:.0f} trials")
    checks.append(Check(f"insight: a fraction in ({FRACTION[0]}, {FRACTION[1]}) of the gated, regularised, noisy "
                        f"networks switch to colour, at spread times (delay IQR > {SPREAD} trials) and abruptly "
                        f"(10-90% in < {ABRUPT:.0%} of the {after} trials after the onset, and in < half the median "
                        "delay)",
                        ok, said))
    motion, said = True, []
    for arm in cfg.arms:
        good, text = each(arm, lambda r: r["motion_accuracy"] >= MOTION, lambda r: f"{r['motion_accuracy']:.3f}")
        motion &= good
        said.append(f"{arm}: {text}")
    checks.append(Check(f"precondition: every arm learns the motion task before the onset (top-coherence accuracy "
                        f">= {MOTION})", bool(motion), " | ".join(said)))
    for arm, what in (("no_l1", "without the L1 penalty"), ("no_gate", "without gates")):
        ok, said = each(arm, lambda r: r["switched"] >= MOST and r["delay_median"] < PROMPT
                        and r["length_median"] >= r["delay_median"],
                        lambda r: f"{r['switched']:.0%} switch, median delay {r['delay_median']:.0f} trials, "
                        f"transition {r['length_median']:.0f}")
        checks.append(Check(f"{what} >= {MOST:.0%} of the networks use colour, promptly (median delay < {PROMPT} "
                            "trials) and gradually from the onset (the transition outlasts the delay): no insight",
                            ok, said))
    ok, said = each("no_noise", lambda r: r["switched"] in (0.0, 1.0), lambda r: f"{r['switched']:.0%} switch")
    checks.append(Check("without gradient noise every network has the same outcome (none or all switch)", ok, said))
    ok, said = each("full", lambda r: r["silent_median"] >= SILENT
                    and r["silent_beats_control"] > 0.5 + 1 / np.sqrt(r["silent_networks"]),
                    lambda r: f"|w_c| x{r['silent_median']:.2f} before the gate opens, x"
                    f"{r['silent_control_median']:.2f} with the same noise and no shortcut; more in "
                    f"{r['silent_beats_control']:.0%} of {r['silent_networks']} networks")
    checks.append(Check(f"silent knowledge: the colour weight grows >= {SILENT:g}x while its gate is shut (<= "
                        f"{CLOSED}), and more than the same networks' weight grows under the same noise when colour "
                        "never predicts (in more than half of them, by 2 standard errors of a fair coin)", ok, said))
    return checks


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    seed, onset = results.seeds[0], cfg.task.onset
    for i, arm in enumerate(cfg.arms):
        st, frac = results.curve("switched", seed=seed, arm=arm, fit=arm)
        axes[0, 0].plot(st, frac, color=f"C{i}", label=arm)
        st, acc = results.curve("low_accuracy", seed=seed, arm=arm, fit=arm)
        axes[0, 1].plot(st, acc, color=f"C{i}", label=arm)
    axes[0, 0].set_ylabel("fraction of networks using colour (beta_c > 0.5)")
    axes[0, 1].set_ylabel(f"mean accuracy at coherence {min(cfg.task.coherences)}")
    for n in range(cfg.examples):
        st, b = results.curve(f"beta_c_{n}", seed=seed, arm="full", fit="full")
        axes[0, 2].plot(st, b, lw=1)
        st, w = results.curve(f"w_c_{n}", seed=seed, arm="full", fit="full")
        _, g = results.curve(f"g_c_{n}", seed=seed, arm="full", fit="full")
        axes[1, 0].plot(st, np.abs(w), color=f"C{n}", lw=1)
        axes[1, 0].plot(st, np.abs(g), color=f"C{n}", lw=1, ls=":")
    axes[0, 2].set_ylabel("colour readout g_c w_c (full model, examples)")
    axes[1, 0].set_ylabel("|w_c| (solid) and |g_c| (dotted), examples")
    axes[1, 0].set_yscale("log")
    delays = [d for r in results.select(arm="full") for d in r["delays"]]
    axes[1, 1].hist(delays, bins=30, color="C0")
    axes[1, 1].set_xlabel("switch delay after the colour onset (trials), full model, all seeds")
    fracs = [[r["switched"] for r in results.select(arm=a)] for a in cfg.arms]
    axes[1, 2].bar(range(len(cfg.arms)), [np.mean(f) for f in fracs], color=[f"C{i}" for i in range(len(cfg.arms))])
    axes[1, 2].set_xticks(range(len(cfg.arms)), cfg.arms)
    axes[1, 2].set_ylabel("fraction switched by the end (mean over seeds)")
    for ax in (axes[0, 0], axes[0, 1], axes[0, 2], axes[1, 0]):
        ax.axvline(onset, color="k", lw=0.6, ls="--")
        ax.set_xlabel("trial")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Insight-like switches in gated networks (lam = {cfg.lam}, sigma = {cfg.sigma}, seed {seed})")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="insight_gating",
    title="Abrupt and spontaneous strategy switches in regularised gated networks",
    paper="Löwe, Touzo, Muhle-Karbe, Saxe, Summerfield, Schuck 2024, Abrupt and spontaneous strategy switches emerge "
    "in simple regularised neural networks",
    claim="With L1-regularised input gates and noisy gradient updates, networks switch to a newly predictive cheaper "
    "feature late, abruptly and only some of them, after its weight has grown silently behind a shut gate; "
    "without the gates, the penalty or the noise there is no such insight.",
    tiers={
        "smoke": Config(task=insight.Config(trials=600, onset=100), nets=20, every=20),
        "cpu": Config(),
        "paper": Config(nets=1000),  # the paper simulated one network per participant (99); more give tighter numbers
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("arms",),
)
