"""High-dimensional dynamics of generalization error in neural networks (Advani & Saxe
2020, Neural Networks 132).

Claim: for a linear student trained by gradient descent on P noisy examples of a linear
teacher in N dimensions, the Marchenko-Pastur theory (theory/linear_student.py) predicts
the training and generalisation error over training time; the error after long training
peaks where examples and parameters are equal in number (alpha = P / N = 1); when alpha < 1
the directions the data never reach keep their initial weights, so larger initial
weights give a larger error for good.

Setup (the paper's model; the numbers are ours where the paper's figures do not pin
them): x with i.i.d. N(0, 1/N) entries, teacher w_bar ~ N(0, sigma_w^2 I) with sigma_w = 1,
label noise sigma_eps = 0.5 (signal-to-noise sigma_w^2 / sigma_eps^2 = 4), student
w0 ~ N(0, sigma_0^2 I) with sigma_0 = 0 ("small") or 1 ("large"). Full-batch gradient
descent w += eta X^T (y - X w) (the gradient taken as X^T y - (X^T X) w) with eta = 0.01,
so t = eta * steps is the theory's gradient-flow time. Each seed draws `replicates`
independent problems per cell and reports their mean (a single draw at N = 400 moves
E_g by ~7% through the teacher's norm alone). E_g = |w - w_bar|^2 / N + sigma_eps^2 is
the exact expected error on a fresh example; E_t = |y - X w|^2 / P. The large-init run
reuses the small-init run's data, so the two differ only in w0.

Checks (each seed):
1. Where |alpha - 1| >= 0.5, theory and simulation agree within 5%: the largest
   |E_g,sim - E_g,th| / E_g,th over the recorded times, and |E_t,sim - E_t,th| / E_t,th(0)
   (E_t falls to zero when alpha < 1, where its relative error measures only the finite-N
   smallest eigenvalue; we scale it by its starting value).
2. After training to t = `time`, E_g is largest at the alpha of the grid nearest 1, at least
   1.2x any other alpha's, and 1.5x above its own minimum over training (overtraining); at
   t = 1 (early) E_g falls with alpha throughout (the peak comes from overtraining, as the
   theory says).
3. alpha < 1: the large start ends with E_g higher by (1 - alpha) sigma_0^2 (within 20%) and
   its weights in the null space of X never move (relative change < 1e-3); alpha > 1 (the
   ablation: no null space): the two starts end within 10% of that gap of each other.

Measured at the cpu tier (3 seeds, 98 s of compute; the claim holds): largest deviation
2.6% / 2.9% / 1.7% (every alpha, alpha = 1 included, stays within 3.7% at t = 100: its
divergence needs longer training than the cpu tier gives); E_g at t = 100 peaks at
alpha = 1 (1.78-1.85, theory 1.82) against 1.22-1.24 at alpha = 0.75; the large start
costs 0.475-0.515 at alpha = 0.5 (theory 0.5) with its null-space weights moved by
8e-5 (float32 rounding), and nothing at alpha = 2. With 8 draws per seed instead of 32,
the initial condition's sampling alone (the teacher's norm, |X v|^2 / P) moved the curves
by up to 7%.

Measured at the paper tier (N = 1000, 12 alphas, t = 1000, 32 draws; seed 0 on an H200,
222 s; the claim holds): largest deviation 1.75%; E_g at t = 1000 peaks at alpha = 1
(5.26 against 2.57 / 2.76 at 0.9 / 1.1; theory 5.36 at 1); the large start's gap at
alpha = 0.5 is 0.507 with its null-space weights moved by 1.6e-4. The training loss the
learner logs comes from the sufficient statistics (|y|^2 - 2 w.X^T y + w.X^T X w) / P: in
float32 it can read -1e-8 once the error is zero; E_t above is computed from the residual.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners.base import AbstractLearner
from complab.theory import linear_student as theory
from complab.training import log_steps

MATCH = 0.05
AWAY = 0.5
PEAK = 1.2
GAP = 0.2
NULL_MOVED = 1e-3
EARLY = 1.0
RISE = 1.5
# float32 products in full (a GPU's default TF32 products make X^T X not exactly singular: the
# null-space weights then drift by ~2e-2 over the cpu tier's 10,000 steps, measured on an H100)
EXACT = jax.lax.Precision.HIGHEST


@dataclass(frozen=True)
class Config:
    n: int = 400
    alphas: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    frozen_alphas: tuple[float, ...] = (0.5, 2.0)  # also run from the large start
    replicates: int = 32
    sigma_w: float = 1.0
    sigma_eps: float = 0.5
    sigma_0: float = 1.0  # the large start
    eta: float = 0.01
    time: float = 100.0
    points: int = 60

    def __post_init__(self):
        require(self.n >= 2 and self.replicates >= 1 and self.points >= 5,
                f"n must be >= 2, replicates >= 1 and points >= 5; got {self}")
        require(all(a > 0 and round(a * self.n) >= 1 for a in self.alphas + self.frozen_alphas),
                f"every alpha must be > 0 with at least one example (alpha * n >= 1); got {self.alphas}, "
                f"{self.frozen_alphas} at n={self.n}")
        require(set(self.frozen_alphas) <= set(self.alphas),
                f"frozen_alphas must be among alphas; got {self.frozen_alphas} and {self.alphas}")
        lam_max = theory.edges(max(self.alphas))[1]
        require(0 < self.eta <= 0.2 / lam_max and self.time > EARLY,
                f"eta must be in (0, 0.2 / l+ = {0.2 / lam_max:.3g}] (small steps of the gradient flow at the largest "
                f"alpha) and time > {EARLY}; got eta={self.eta}, time={self.time}")
        require(self.sigma_w > 0 and self.sigma_eps > 0 and self.sigma_0 > 0,
                f"sigma_w, sigma_eps and sigma_0 must be > 0; got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"alpha": a, "init": "small"} for a in cfg.alphas] + \
        [{"alpha": a, "init": "large"} for a in cfg.frozen_alphas]


def steps(cfg: Config, cell: dict) -> int:
    return int(round(cfg.time / cfg.eta))


class _State(eqx.Module):
    w: Array  # (replicates, n)
    step: Array


class QuadraticGD(AbstractLearner):
    """Full-batch gradient descent on |y - X w|^2 / 2 for a batch of problems, through
    their sufficient statistics: w += eta (X^T y - X^T X w). Its loss is the mean training
    error |y - X w|^2 / P (before the step)."""

    gram: Array  # X^T X, (replicates, n, n)
    xty: Array  # X^T y, (replicates, n)
    yy: Array  # |y|^2, (replicates,)
    p: int = eqx.field(static=True)
    eta: float = eqx.field(static=True)

    def init(self, key: jax.Array, model: Array) -> _State:
        del key
        return _State(model, jnp.zeros((), jnp.int32))

    def params(self, state: _State) -> Array:
        return state.w

    def step(self, key: jax.Array, state: _State, batch: None) -> tuple[_State, dict]:
        del key, batch
        gw = jnp.einsum("rij,rj->ri", self.gram, state.w, precision=EXACT)
        loss = jnp.mean(self.yy - jnp.sum(state.w * (2 * self.xty - gw), -1)) / self.p
        return _State(state.w + self.eta * (self.xty - gw), state.step + 1), {"loss": loss}


def _errors(key, state, x, y, teacher, noise_var):
    """Mean over replicates of E_g and E_t."""
    del key
    eg = jnp.mean(jnp.sum((state.w - teacher) ** 2, -1)) / teacher.shape[-1] + noise_var
    resid = y - jnp.einsum("rpn,rn->rp", x, state.w, precision=EXACT)
    return {"eg": eg, "et": jnp.mean(resid**2)}


def problem(cfg: Config, alpha: float, key: jax.Array):
    """(X, y, w_bar, w0 direction) for `replicates` problems: X (r, P, n) with N(0, 1/n) entries."""
    p = int(round(alpha * cfg.n))
    kx, kw, ke, k0 = rng.streams(key, "x", "teacher", "noise", "start")
    x = jax.random.normal(kx, (cfg.replicates, p, cfg.n)) / np.sqrt(cfg.n)
    teacher = cfg.sigma_w * jax.random.normal(kw, (cfg.replicates, cfg.n))
    noise = cfg.sigma_eps * jax.random.normal(ke, (cfg.replicates, p))
    y = jnp.einsum("rpn,rn->rp", x, teacher, precision=EXACT) + noise
    return x, y, teacher, jax.random.normal(k0, (cfg.replicates, cfg.n))


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    alpha, sigma_0 = cell["alpha"], (cfg.sigma_0 if cell["init"] == "large" else 0.0)
    x, y, teacher, z = problem(cfg, alpha, rng.named(key, f"alpha={alpha}"))
    w0 = sigma_0 * z
    learner = QuadraticGD(jnp.einsum("rpi,rpj->rij", x, x, precision=EXACT),
                          jnp.einsum("rpi,rp->ri", x, y, precision=EXACT), jnp.sum(y**2, -1),
                          int(x.shape[1]), cfg.eta)
    n_steps = steps(cfg, cell)
    evaluate = jax.tree_util.Partial(_errors, x=x, y=y, teacher=teacher, noise_var=cfg.sigma_eps**2)
    state = ctx.fit("gd", learner, learner.init(key, w0), None, key=key, steps=n_steps, evaluate=evaluate,
                    eval_at=log_steps(n_steps, cfg.points))
    row = {"n": cfg.n, "p": int(x.shape[1]), "sigma_0": sigma_0}
    if sigma_0 > 0 and alpha < 1:  # the frozen subspace: X's null space
        _, _, vt = np.linalg.svd(np.asarray(x, np.float64), full_matrices=True)
        null = vt[:, x.shape[1]:, :]  # (r, n - P, n)
        w_end, w_start = np.asarray(state.w, np.float64), np.asarray(w0, np.float64)
        moved = np.linalg.norm(np.einsum("rkn,rn->rk", null, w_end - w_start), axis=-1)
        row["null_moved"] = float(np.max(moved / np.linalg.norm(np.einsum("rkn,rn->rk", null, w_start), axis=-1)))
    return [row]


def curves(results: Results, cfg: Config, seed: int, alpha: float, init: str) -> dict:
    """Times, simulated and predicted E_g and E_t of one cell."""
    (row,) = results.select(seed=seed, alpha=alpha, init=init)
    st, eg = results.curve("eg", seed=seed, alpha=alpha, init=init)
    _, et = results.curve("et", seed=seed, alpha=alpha, init=init)
    t = cfg.eta * st
    args = (alpha, cfg.sigma_w, row["sigma_0"], cfg.sigma_eps)
    return {"t": t, "eg": eg, "et": et, "eg_theory": theory.generalization_error(t, *args),
            "et_theory": theory.training_error(t, *args), **row}


def deviation(c: dict) -> float:
    """The larger of E_g's relative gap and E_t's gap relative to E_t(0), over time."""
    g = np.max(np.abs(c["eg"] - c["eg_theory"]) / c["eg_theory"])
    return float(max(g, np.max(np.abs(c["et"] - c["et_theory"])) / c["et_theory"][0]))


def _at(c: dict, time: float) -> float:
    return float(np.interp(np.log(time), np.log(np.maximum(c["t"], 1e-12)), c["eg"]))


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    table = {(s, c["alpha"], c["init"]): curves(results, cfg, s, c["alpha"], c["init"]) for s in seeds
             for c in cells(cfg)}
    far = [a for a in cfg.alphas if abs(a - 1) >= AWAY]
    dev = {s: max(deviation(table[s, a, "small"]) for a in far) for s in seeds}
    nearest = min(cfg.alphas, key=lambda a: abs(a - 1))
    peak_ok, said = True, []
    for s in seeds:
        late = {a: float(table[s, a, "small"]["eg"][-1]) for a in cfg.alphas}
        early = {a: _at(table[s, a, "small"], EARLY) for a in cfg.alphas}
        top = max(late, key=late.get)
        second = max(v for a, v in late.items() if a != top)
        falling = all(early[a] > early[b] for a, b in zip(cfg.alphas, cfg.alphas[1:]))
        lowest = float(np.min(table[s, nearest, "small"]["eg"]))
        peak_ok &= top == nearest and late[top] >= PEAK * second and falling and late[nearest] >= RISE * lowest
        said.append(f"seed {s}: late E_g " + ", ".join(f"{a}: {v:.2f}" for a, v in late.items())
                    + f" (alpha = {nearest}: minimum {lowest:.2f} during training)"
                    + f"; at t = {EARLY:g} " + ", ".join(f"{a}: {v:.2f}" for a, v in early.items()))
    frozen_ok, froz = True, []
    scale = cfg.sigma_0**2 * max([1 - b for b in cfg.frozen_alphas if b < 1], default=1.0)  # the gap below 1
    for s in seeds:
        for a in cfg.frozen_alphas:
            small, large = table[s, a, "small"], table[s, a, "large"]
            gap, want = large["eg"][-1] - small["eg"][-1], (1 - a) * cfg.sigma_0**2
            if a < 1:
                ok = abs(gap - want) <= GAP * want and large.get("null_moved", 1.0) < NULL_MOVED
                froz.append(f"seed {s}, alpha={a}: gap {gap:.3f} (theory {want:.3f}), null space moved by "
                            f"{large.get('null_moved', float('nan')):.1e}")
            else:
                ok = abs(gap) <= 0.1 * scale
                froz.append(f"seed {s}, alpha={a}: gap {gap:+.3f} (theory 0)")
            frozen_ok &= ok
    return [
        Check(f"theory matches simulation within {MATCH:.0%} where |alpha - 1| >= {AWAY}",
              bool(all(v <= MATCH for v in dev.values())), f"largest deviation {per_seed(dev, '{:.2%}')}"),
        Check(f"after long training E_g peaks at alpha = {nearest}, at least {PEAK}x any other alpha's and "
              f"{RISE}x its own minimum; early "
              f"(t = {EARLY:g}) it falls with alpha", bool(peak_ok), "; ".join(said)),
        Check("alpha < 1: a large start keeps its null-space weights and pays (1 - alpha) sigma_0^2 in E_g "
              f"(within {GAP:.0%}); alpha > 1: the start is forgotten", bool(frozen_ok), "; ".join(froz)),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    seed = results.seeds[0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    for i, a in enumerate(cfg.alphas):
        c = curves(results, cfg, seed, a, "small")
        for ax, key in zip(axes[:2], ("eg", "et")):
            ax.plot(c["t"][1:], c[key][1:], color=f"C{i}", label=f"alpha = {a}")
            ax.plot(c["t"][1:], c[f"{key}_theory"][1:], color="k", ls="--", lw=0.8)
    for ax, name in zip(axes[:2], ("generalisation error E_g", "training error E_t")):
        ax.set_xscale("log")
        ax.set_xlabel("t (gradient-flow time)")
        ax.set_ylabel(f"{name} (dashed: theory)")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    grid = np.linspace(min(cfg.alphas), max(cfg.alphas), 200)
    for init, marker in (("small", "o"), ("large", "s")):
        sig0 = 0.0 if init == "small" else cfg.sigma_0
        alphas = cfg.alphas if init == "small" else cfg.frozen_alphas
        sims = [curves(results, cfg, seed, a, init)["eg"][-1] for a in alphas]
        axes[2].plot(alphas, sims, marker, label=f"simulation, sigma_0 = {sig0}")
        axes[2].plot(grid, [theory.generalization_error(cfg.time, a, cfg.sigma_w, sig0, cfg.sigma_eps) for a in grid],
                     lw=0.8, label=f"theory, sigma_0 = {sig0}")
    axes[2].set_xlabel("alpha = P / N")
    axes[2].set_ylabel(f"E_g at t = {cfg.time:g}")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Linear student, N = {cfg.n}, mean of {cfg.replicates} draws (seed {seed})")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="high_dim_generalization",
    title="High-dimensional dynamics of generalization error in neural networks",
    paper="Advani & Saxe 2020, High-dimensional dynamics of generalization error in neural networks",
    claim="Marchenko-Pastur theory predicts a linear student's training and generalisation error over training "
    "time; overtraining hurts most at alpha = P/N = 1; below it the untouched subspace keeps its initial weights.",
    tiers={
        "smoke": Config(n=40, alphas=(0.5, 1.0, 2.0), frozen_alphas=(0.5, 2.0), replicates=2, eta=0.02, time=5.0,
                        points=12),
        "cpu": Config(),
        "paper": Config(n=1000, alphas=(0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0),
                        replicates=32, eta=0.005, time=1000.0, points=100),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("alphas", "frozen_alphas"),
    steps=steps,
)
