"""Energy-entropy competition and the effectiveness of SGD (Zhang, Saxe, Advani, Lee, Mol.
Phys. 2018, arXiv 1803.01927).

Claim: learning from N samples is free-energy minimisation, F = E - T S with the
temperature T set by undersampling (T ~ 1/N) and the entropy S the width of a minimum; so
when data are scarce a wide shallow minimum can beat a narrow deep one, and SGD, whose
noise grows with the curvature, is biased toward wide minima where isotropic noise is not.

Setup (the paper's landscapes, network and data were not retrievable; SPECS
"energy_entropy" designs the three parts, values ours):
1. Landscape (tasks/double_well.py): 64 samples each place a wide well (depth 1, width 1)
   and a narrow one (depth 1, width 0.1, at 1.2) with N(0, 0.1^2) offsets; the narrow
   minimum is about 0.2 deeper and 37x more curved. 1000 runs from uniform starts over
   both basins, lr = 1 / the narrow curvature, 20,000 steps
   (learners/landscape_descent.py): gradient descent; SGD with batches of 8, 4, 2, 1;
   and Langevin dynamics, gradient descent plus isotropic noise whose variance is the mean
   of the batch-1 SGD noise variances at the two minima. A run ends in the wide minimum
   when it is left of the barrier.
2. Minima and test error: a soft committee machine teacher (2 erf units, models/committee.py)
   on 20 Gaussian inputs with label noise 0.5; 64 students (10 units, 210 parameters) per
   N in {10, 30, 100, 1000}, each from its own random start, trained by full-batch gradient
   descent (lr 0.5, 5000 steps) on half the squared error; where it ends, the exact Hessian,
   F = E + (1/2N) log det(N H + I) (probes/free_energy.py: the identity, a unit prior's
   volume, keeps F finite where H is singular) and the test error on 5000 fresh samples.
   Students that end at a saddle (an eigenvalue below -1e-3 x the largest) are left out of
   the rankings; their count is reported.
3. Noise structure: one 40-unit student (840 parameters) trained by SGD (batch 32,
   lr 0.2, 10,000 steps) on N = 1000; the covariance C of its per-sample gradients
   against the Hessian H, entry by entry.
Float64 throughout.

Checks (each seed):
1. Precondition: the landscape has what the claim needs: the narrow minimum deeper than the
   wide one and >= 10x more curved, and SGD's noise there >= 10x that at the wide one.
2. The noisiest SGD (batch 1) ends in the wide minimum more often than gradient descent and
   than Langevin dynamics of matched mean variance, each by > 3 standard errors.
3. More noise, more wide: the wide fraction does not fall (beyond 3 standard errors) as
   the batch shrinks from 8 to 1, and rises overall.
4. Undersampled (N < the 210 parameters), the free energy ranks the minima's test errors
   (Spearman(test, F) > 2 / sqrt(minima): not chance), and better than the training error
   does (> Spearman(test, E_train)) at every such N. Where the students interpolate
   (E_train ~ 1e-13 at N <= 30) the training error's ranking is rounding noise, which is
   why F must also beat chance.
5. At the SGD minimum the gradient noise has the Hessian's structure: corr(vec C, vec H)
   > 0.8 (SPECS) and above its value at the random start (where it is already 0.76-0.81:
   for squared error both are sums of the per-sample output gradients' outer products);
   isotropic noise (C ∝ I) has the correlation of I with H.

Measured at the cpu tier (3 seeds, 173 s of compute on an idle machine; checks 1-3 and 5
hold, check 4 does not, so the verdict is "does not hold"): the narrow minimum 0.18-0.21
deeper and 30-40x more curved, SGD's noise 1,500-2,300x louder there; the wide fraction
0.674-0.690 for gradient descent, 0.675-0.690 / 0.675-0.694 / 0.729-1.000 / 1.000 for SGD
with batches 8 / 4 / 2 / 1, and 0.575-0.720 for Langevin dynamics of matched mean noise
(isotropic noise does not favour the wide minimum: its barrier is the lower one).
Spearman correlation with test error, F against E_train, 64 students (all at minima for
N <= 100): N = 10: +0.66 / +0.32 / +0.45 against -0.16 / +0.11 / -0.16; N = 30: +0.45 /
+0.25 / +0.00 against -0.28 / -0.26 / -0.13; N = 100: +0.60 / +0.68 / +0.58 against
-0.16 / -0.14 / -0.11. F beats E_train at every N and seed, but at N = 30 its ranking is
not above chance on seeds 1 and 2 (2 / sqrt(64) = 0.25), which fails check 4. The
training error ranks the minima the wrong way round (the lowest-error students overfit).
SPECS expected F's advantage to fade as N grows; at N = 1000 (about 5 samples per
parameter; 35-50 of 64 students at minima) it is largest (+0.74 to +0.89 against -0.63 to
-0.46), so that does not show at this size (the paper tier reaches N = 10,000).
corr(vec C, vec H) 0.982-0.985 at the SGD minimum, 0.76-0.81 at the random start, 0.14
for isotropic noise.
"""

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from complab.rng import seed_of
from complab.config import require
from complab.experiments.base import Check, Experiment, Results
from complab.learners.landscape_descent import descend
from complab.models.committee import CommitteeMachine
from complab.probes import free_energy as fe
from complab.probes.statistics import spearman
from complab.tasks.double_well import Config as WellConfig
from complab.tasks.double_well import DoubleWell

SHARP = 10.0
LOUD = 10.0
SE = 3.0
ALIGNED = 0.8
SIGNIFICANT = 2.0  # a rank correlation above 2 / sqrt(count) is unlikely (about 2.5%) without one


@dataclass(frozen=True)
class Config:
    well: WellConfig = field(default_factory=WellConfig)
    runs: int = 1000
    steps: int = 20000
    batches: tuple[int, ...] = (8, 4, 2, 1)
    inputs: int = 20
    teacher_units: int = 2
    label_noise: float = 0.5
    ns: tuple[int, ...] = (10, 30, 100, 1000)
    students: int = 64
    units: int = 10
    lr: float = 0.5
    train_steps: int = 5000
    test: int = 5000
    noise_units: int = 40
    noise_n: int = 1000
    noise_batch: int = 32
    noise_lr: float = 0.2
    noise_steps: int = 10000

    def __post_init__(self):
        require(self.runs >= 10 and self.steps >= 1 and self.batches and min(self.batches) >= 1,
                f"runs >= 10, steps >= 1 and batches >= 1; got {self.runs}, {self.steps}, {self.batches}")
        require(list(self.batches) == sorted(self.batches, reverse=True),
                f"batches run from large to small (less to more noise); got {self.batches}")
        require(self.ns and min(self.ns) >= 2 and self.students >= 8 and self.units >= 1 and self.inputs >= 1,
                f"ns >= 2, students >= 8, units and inputs >= 1; got {self}")
        require(self.noise_batch <= self.noise_n, f"noise_batch must be <= noise_n; got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"part": "landscape"}] + [{"part": "minima", "n": n} for n in cfg.ns] + [{"part": "noise"}]


def _landscape(cfg: Config, key, ctx) -> list[dict]:
    world = DoubleWell(cfg.well, seed_of(key))
    lm = world.landmarks
    lr = 1.0 / lm["curvature"][1]
    k0, key = jax.random.split(key)
    start = jax.random.uniform(k0, (cfg.runs,), minval=lm["wide"] - cfg.well.s_wide, maxval=lm["narrow"] + 0.5)
    arms = [("gd", 0, 0.0)] + [(f"sgd_{b}", b, 0.0) for b in cfg.batches] + [("langevin", 0, float(np.mean(
        lm["noise"])) / min(cfg.batches))]
    rows, chunk = [], max(1, cfg.steps // 40)
    for arm, batch, noise in arms:
        theta, done = start, 0
        while done < cfg.steps:
            n = min(chunk, cfg.steps - done)
            key, k = jax.random.split(key)
            theta, done = descend(world, theta, lr, n, k, batch, noise), done + n
            ctx.store.log_curve(ctx.run, arm, done, {"wide": float(np.mean(np.asarray(theta) < lm["barrier"]))})
        rows.append({"arm": arm, "batch": batch, "wide": float(np.mean(np.asarray(theta) < lm["barrier"])),
                     "final": np.asarray(theta)[:200].round(4).tolist()})
    return [{**r, "losses": [float(v) for v in lm["loss"]], "curvatures": [float(v) for v in lm["curvature"]],
             "noises": [float(v) for v in lm["noise"]], "barrier": float(lm["barrier"])} for r in rows]


def _problem(cfg: Config, units: int, seed: int):
    teacher = CommitteeMachine(cfg.teacher_units, cfg.inputs, key=jax.random.key(seed))
    _, unravel = jax.flatten_util.ravel_pytree(CommitteeMachine(units, cfg.inputs, key=jax.random.key(0)))

    @partial(jax.jit, static_argnums=1)
    def data(key, n):
        kx, ke = jax.random.split(key)
        x = jax.random.normal(kx, (n, cfg.inputs))
        return x, jax.vmap(teacher)(x) + cfg.label_noise * jax.random.normal(ke, (n,))

    def error(theta, x, y):
        return 0.5 * jnp.mean((jax.vmap(unravel(theta))(x) - y) ** 2)

    @jax.jit
    def start(key):
        return jax.flatten_util.ravel_pytree(CommitteeMachine(units, cfg.inputs, key=key))[0]

    return data, error, start


def _minima(cfg: Config, n: int, key, ctx) -> list[dict]:
    data, error, start = _problem(cfg, cfg.units, seed_of(key))
    kd, kt, ks = jax.random.split(key, 3)
    (x, y), (xt, yt) = data(kd, n), data(kt, cfg.test)
    thetas = jax.vmap(start)(jax.random.split(ks, cfg.students))
    chunk = max(1, cfg.train_steps // 20)

    @jax.jit
    def train(theta):
        return jax.lax.scan(lambda th, _: (th - cfg.lr * jax.grad(error)(th, x, y), None), theta, None, chunk)[0]

    mean_error = jax.jit(lambda ths: jax.vmap(error, (0, None, None))(ths, x, y).mean())
    for done in range(chunk, cfg.train_steps + 1, chunk):
        thetas = jax.vmap(train)(thetas)
        ctx.store.log_curve(ctx.run, "students", done, {"train_error": float(mean_error(thetas))})
    @jax.jit
    def assess(thetas):
        e_train = jax.vmap(error, (0, None, None))(thetas, x, y)
        e_test = jax.vmap(error, (0, None, None))(thetas, xt, yt)
        free = jax.lax.map(lambda th: fe.free_energy(error(th, x, y), jax.hessian(error)(th, x, y), n), thetas)
        return e_train, e_test, free

    e_train, e_test, free = (np.asarray(v) for v in assess(thetas))
    minima = np.isfinite(free)  # saddles (a negative Hessian eigenvalue) are left out of both rankings
    return [{"n": n, "params": int(thetas.shape[1]), "minima": int(minima.sum()),
             "rho_train": spearman(e_test[minima], e_train[minima]), "rho_free": spearman(e_test, free),
             "e_train": e_train.tolist(), "e_test": e_test.tolist(),
             "free": np.where(minima, free, np.nan).tolist()}]


def _noise(cfg: Config, key, ctx) -> list[dict]:
    data, error, start = _problem(cfg, cfg.noise_units, seed_of(key))
    kd, ks, key = jax.random.split(key, 3)
    x, y = data(kd, cfg.noise_n)
    theta0 = start(ks)

    @jax.jit
    def noise_and_curvature(theta):
        grads = jax.vmap(lambda xi, yi: jax.grad(error)(theta, xi[None], yi[None]))(x, y)
        return fe.gradient_noise(grads), jax.hessian(error)(theta, x, y)

    def structure(theta):
        c, h = noise_and_curvature(theta)
        return fe.matrix_correlation(c, h), fe.matrix_correlation(jnp.eye(h.shape[0]), h)

    chunk = max(1, cfg.noise_steps // 20)

    @jax.jit
    def sgd(theta, k):
        def step(th, kk):
            idx = jax.random.randint(kk, (cfg.noise_batch,), 0, cfg.noise_n)
            return th - cfg.noise_lr * jax.grad(error)(th, x[idx], y[idx]), None
        return jax.lax.scan(step, theta, jax.random.split(k, chunk))[0]

    theta, full_error = theta0, jax.jit(lambda th: error(th, x, y))
    for done in range(chunk, cfg.noise_steps + 1, chunk):
        key, k = jax.random.split(key)
        theta = sgd(theta, k)
        ctx.store.log_curve(ctx.run, "sgd", done, {"train_error": float(full_error(theta))})
    at_min, isotropic = structure(theta)
    at_start, _ = structure(theta0)
    return [{"corr_min": at_min, "corr_isotropic": isotropic, "corr_start": at_start,
             "e_start": float(full_error(theta0)), "e_end": float(full_error(theta))}]


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    if cell["part"] == "landscape":
        return _landscape(cfg, key, ctx)
    if cell["part"] == "minima":
        return _minima(cfg, cell["n"], key, ctx)
    return _noise(cfg, key, ctx)


def _wide(results: Results, seed: int) -> dict:
    return {r["arm"]: r["wide"] for r in results.select(seed=seed, part="landscape")}


def _se(p: float, q: float, runs: int) -> float:
    return float(np.sqrt((p * (1 - p) + q * (1 - q)) / runs))


def expect(results: Results, cfg: Config) -> list[Check]:
    pre_ok, sgd_ok, more_ok, free_ok, noise_ok = True, True, True, True, True
    pre_said, sgd_said, more_said, free_said, noise_said = [], [], [], [], []
    small = max(cfg.batches[-1], 1)
    for s in results.seeds:
        land = results.select(seed=s, part="landscape")
        if not land:
            pre_ok = sgd_ok = more_ok = False
            pre_said.append(f"seed {s}: no landscape")
        else:
            r, w = land[0], _wide(results, s)
            (l_wide, l_narrow, _), (c_wide, c_narrow), (n_wide, n_narrow) = r["losses"], r["curvatures"], r["noises"]
            pre_ok &= bool(l_narrow < l_wide and c_narrow >= SHARP * c_wide and n_narrow >= LOUD * n_wide)
            pre_said.append(f"seed {s}: depth {l_narrow:.2f} vs {l_wide:.2f}, curvature {c_narrow:.1f} vs "
                            f"{c_wide:.2f}, noise {n_narrow:.2f} vs {n_wide:.4f}")
            top = w[f"sgd_{small}"]
            sgd_ok &= all(top - w[o] > SE * _se(top, w[o], cfg.runs) for o in ("gd", "langevin"))
            sgd_said.append(f"seed {s}: SGD(batch {small}) {top:.3f}, GD {w['gd']:.3f}, Langevin {w['langevin']:.3f}")
            path = [w[f"sgd_{b}"] for b in cfg.batches]
            more_ok &= bool(all(b - a >= -SE * _se(a, b, cfg.runs) for a, b in zip(path, path[1:]))
                            and path[-1] - path[0] > SE * _se(path[0], path[-1], cfg.runs))
            more_said.append(f"seed {s}: " + ", ".join(f"batch {b}: {v:.3f}" for b, v in zip(cfg.batches, path)))
        under = [r for r in results.select(seed=s, part="minima") if r["n"] < r["params"]]
        free_ok &= bool(under) and all(r["rho_free"] > max(r["rho_train"], SIGNIFICANT / np.sqrt(r["minima"]))
                                       for r in under)
        free_said.append(f"seed {s}: " + ", ".join(
            f"N={r['n']}: {r['rho_free']:+.2f} vs {r['rho_train']:+.2f} ({r['minima']} minima)"
            for r in sorted(results.select(seed=s, part="minima"), key=lambda r: r["n"])))
        noise = results.select(seed=s, part="noise")
        noise_ok &= bool(noise) and noise[0]["corr_min"] > max(ALIGNED, noise[0]["corr_start"]) \
            and noise[0]["e_end"] < noise[0]["e_start"]
        noise_said.append(f"seed {s}: " + (f"{noise[0]['corr_min']:.3f} at the minimum (isotropic "
                                           f"{noise[0]['corr_isotropic']:.3f}; at the start "
                                           f"{noise[0]['corr_start']:.3f})" if noise else "not run"))
    return [
        Check(f"precondition: the narrow minimum is deeper, >= {SHARP:g}x more curved and >= {LOUD:g}x noisier under "
              "SGD than the wide one", bool(pre_ok), "; ".join(pre_said)),
        Check(f"SGD with batch {small} ends in the wide minimum more often than gradient descent and than Langevin "
              f"dynamics of matched mean noise (> {SE:g} standard errors)", bool(sgd_ok), "; ".join(sgd_said)),
        Check("more SGD noise, more wide minima: the wide fraction never falls as the batch shrinks and rises overall",
              bool(more_ok), "; ".join(more_said)),
        Check("undersampled (N < parameters), the free energy ranks the minima's test errors, and better than the "
              f"training error: Spearman(test, F) > {SIGNIFICANT:g} / sqrt(minima) and > Spearman(test, E_train) at "
              "each such N", bool(free_ok),
              "Spearman with test error, F vs E_train: " + "; ".join(free_said)),
        Check(f"at an SGD minimum the gradient noise has the Hessian's structure: corr(vec C, vec H) > {ALIGNED}, and "
              "more than at the random start",
              bool(noise_ok), "; ".join(noise_said)),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    seed = results.seeds[0]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    land = results.select(seed=seed, part="landscape")
    if land:
        world = DoubleWell(cfg.well, seed)
        grid = np.linspace(world.landmarks["wide"] - 2.5, world.landmarks["narrow"] + 0.8, 800)
        axes[0].plot(grid, world.loss(grid), color="k", lw=2, label="training loss")
        ends = axes[0].twinx()
        for i, r in enumerate(land):
            ends.hist(r["final"], bins=80, range=(grid[0], grid[-1]), histtype="step", density=True, color=f"C{i}",
                      label=r["arm"])
            st, wide = results.curve("wide", seed=seed, part="landscape", fit=r["arm"])
            axes[1].plot(st, wide, color=f"C{i}", label=r["arm"])
        ends.set_ylabel("density of final positions (first 200 runs)")
        ends.legend(fontsize=6, loc="upper left")
        axes[0].set_xlabel("theta")
        axes[0].set_ylabel("training loss")
        axes[1].legend(fontsize=6)
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("fraction of runs in the wide minimum")
    for i, r in enumerate(sorted(results.select(seed=seed, part="minima"), key=lambda r: r["n"])):
        test, train, free = (np.asarray(r[k]) for k in ("e_test", "e_train", "free"))
        z = lambda v: (v - v.mean()) / (v.std() + 1e-12)  # noqa: E731
        axes[2].scatter(z(free) + 6 * i, z(test), s=6, color=f"C{i}", label=f"N={r['n']} (F)")
        axes[2].scatter(z(train) + 6 * i, z(test) - 7, s=6, color=f"C{i}", marker="x")
    axes[2].set_xlabel("z-scored F (dots) / E_train (crosses), shifted per N")
    axes[2].set_ylabel("z-scored test error (E_train panel shifted down)")
    axes[2].legend(fontsize=6)
    for s in results.seeds:
        rows = sorted(results.select(seed=s, part="minima"), key=lambda r: r["n"])
        axes[3].plot([r["n"] for r in rows], [r["rho_free"] for r in rows], "o-", color="C0",
                     label="F" if s == seed else None)
        axes[3].plot([r["n"] for r in rows], [r["rho_train"] for r in rows], "x--", color="C1",
                     label="E_train" if s == seed else None)
    axes[3].set_xscale("log")
    axes[3].axhline(0, color="k", lw=0.5)
    axes[3].set_xlabel("samples N")
    axes[3].set_ylabel("Spearman correlation with test error")
    axes[3].legend(fontsize=7)
    fig.suptitle(f"Energy-entropy competition (seed {seed})")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="energy_entropy",
    title="Energy-entropy competition and the effectiveness of stochastic gradient descent",
    paper="Zhang, Saxe, Advani, Lee 2018, Energy-entropy competition and the effectiveness of stochastic gradient "
    "descent in machine learning",
    claim="SGD's curvature-shaped noise carries it to wide minima more than gradient descent or isotropic noise do, "
    "and when samples are scarce the free energy (training error plus entropy at temperature 1/N) predicts test error "
    "better than the training error.",
    tiers={
        "smoke": Config(runs=100, steps=1000, batches=(4, 1), ns=(10,), students=8, train_steps=200, test=200,
                        noise_units=5, noise_n=100, noise_steps=200),
        "cpu": Config(),
        "paper": Config(runs=10000, steps=100000, ns=(10, 30, 100, 300, 1000, 3000, 10000), students=256),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("ns",),
    x64=True,
)
