"""Dynamics of online SGD in two-layer teacher-student networks (Goldt, Advani, Saxe,
Krzakala, Zdeborova 2019, "Dynamics of stochastic gradient descent for two-layer
neural networks in the teacher-student setup", NeurIPS; and "Generalisation dynamics
of online learning in over-parameterised neural networks", 2019).

Claim: the ODEs for the order parameters (Q, R, T, and v when the second layer
learns; theory/committee_odes.py) predict the generalisation error of online SGD
over time, through the plateau and the specialisation; with a noisy teacher the
final error grows with the student's size K when only the first layer learns, and
not when both layers learn.

Cells: (layers in {first, both}) x (K in `ks`). Each run simulates online SGD on a
soft committee machine student (K units) of a noisy teacher (M units, v* = 1), one
fresh Gaussian sample per step, and records eps_g (exact, from the order
parameters of the current weights) at log-spaced steps; then integrates the ODEs
from the simulation's own initial overlaps (float64, Diffrax Tsit5, rtol 1e-7) to the
same times t = steps / N. The teacher of a seed is shared by all cells, and a K's
first-layer and both-layer students start from the same weights.

Checks:
1. The ODE tracks the simulation (every cell and seed): |ln eps_sim - ln eps_ode| <=
   0.2 at every evaluation time before the plateau exit (1 <= t <= t_exit / 1.25)
   and at the end; the plateau exit times agree within 25% (the drop itself, where
   a small shift in time is a large one in error, is judged by its time). The exit time is when the error
   crosses the geometric mean of the ODE's error just before its steepest drop and
   its final error (log-log interpolation), the same threshold for both curves. Both tolerances are
   our choice of "tracks" at N = 500 (finite-size fluctuations are O(1/sqrt N)).
2. The ablation of 1: the ODE with the second layer fixed, from the same initial
   overlaps, does not track the simulation in which both layers learn (K = the
   largest): the check of 1 can fail, and the v-equation matters.
3. First layer only: the final error grows with K, strictly (seed mean), as an
   excess over a control: the ODE without teacher noise from the same initial
   overlaps, whose error at the end is what is not yet learned (a larger student
   also converges more slowly, and starts higher, so the raw errors alone would grow
   even without noise). Every run must be past its plateau (a finite exit time).
4. Both layers: the final error does not grow with K: at every K it is at most 1.25 x
   the error at the smallest K (simulation; the ODE shown beside it).

Choices (the papers' exact values were not available to us): eta = eta_v = 0.5,
sigma = 0.1, M = 2, student weights w ~ N(0, 0.3^2) and v = 1 at the start (both
conditions), teacher w* ~ N(0, 1); a run lasts t = 1000 at the cpu tier (the first-layer
K = 6 student is then still slowly improving: its "final" error is an upper bound of
its asymptote, which only strengthens the growth with K).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import optim, supervised
from complab.models.committee import CommitteeMachine
from complab.theory import committee_odes as co
from complab.training import log_steps

LOG_TOLERANCE = 0.2  # |ln eps_sim - ln eps_ode| before the plateau exit and at the end
EXIT_TOLERANCE = 0.25  # relative difference of the exit times
NO_GROWTH = 1.25  # "does not grow": at most 25% above the smallest student's error
TINY = 1e-30  # errors are >= 0; the noise-free ODE can round to -1e-9


@dataclass(frozen=True)
class Config:
    ks: tuple[int, ...] = (2, 4, 6)  # student sizes (cells)
    inputs: int = 500  # N
    teachers: int = 2  # M
    lr: float = 0.5  # eta; eta_v = eta when both layers learn
    noise: float = 0.1  # sigma of the teacher's output noise
    init_std: float = 0.3  # student first-layer weights ~ N(0, init_std^2)
    time: float = 1000.0  # t = steps / N at the end of training
    eval_points: int = 40  # log-spaced evaluation times

    def __post_init__(self):
        require(len(self.ks) >= 2 and min(self.ks) >= 1 and len(set(self.ks)) == len(self.ks),
                f"ks must list at least two distinct student sizes >= 1, got {self.ks}")
        require(self.inputs >= 2 and self.teachers >= 1, f"inputs must be >= 2 and teachers >= 1, got "
                f"{self.inputs}, {self.teachers}")
        require(self.lr > 0 and self.noise >= 0 and self.init_std > 0,
                f"lr and init_std must be > 0 and noise >= 0, got {self.lr}, {self.init_std}, {self.noise}")
        require(self.time * self.inputs >= 10, f"time * inputs must give at least 10 steps, got {self.time}")
        require(self.eval_points >= 4, f"eval_points must be >= 4, got {self.eval_points}")

    @property
    def steps(self) -> int:
        return int(round(self.time * self.inputs))


def cells(cfg: Config) -> list[dict]:
    return [{"layers": layers, "k": k} for layers in ("first", "both") for k in cfg.ks]


def _sample(teacher: CommitteeMachine, noise, key, t):
    k_x, k_z = jax.random.split(key)
    x = jax.random.normal(k_x, teacher.w.shape[1:])
    return x, teacher(x) + noise * jax.random.normal(k_z, ())


def _loss(model, batch, key=None):
    x, y = batch
    return 0.5 * (model(x) - y) ** 2


def _order_parameters(teacher: CommitteeMachine, key, state):
    del key
    student = state.model
    Q, R = student.overlaps(teacher)
    T = teacher.overlaps(teacher)[0]
    return {"eg": co.generalisation_error(Q, R, T, student.v, teacher.v), "R": R, "v": student.v}


_integrate = jax.jit(co.integrate)  # rates traced: one compilation per student size


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    k, n = cell["k"], cfg.inputs
    k_teacher, k_student, k_init, k_train = rng.streams(key, "teacher", "student", "init", "train")
    teacher = CommitteeMachine(cfg.teachers, n, key=k_teacher, init_std=1.0)
    student = CommitteeMachine(k, n, key=rng.named(k_student, str(k)), init_std=cfg.init_std)
    eta_v = cfg.lr if cell["layers"] == "both" else 0.0
    # w: SGD at eta (the gradient carries the paper's 1/sqrt N); v: eta_v / N
    group = optim.Group(r"\.v$", scale=eta_v / (cfg.lr * n))
    learner = supervised.Supervised(optim.Config(kind="sgd", lr=cfg.lr, steps=cfg.steps, groups=(group,)), _loss)
    eval_at = log_steps(cfg.steps, cfg.eval_points, first=max(1, n // 100))
    ctx.fit("sgd", learner, learner.init(k_init, student), jax.tree_util.Partial(_sample, teacher, cfg.noise),
            key=k_train, steps=cfg.steps, evaluate=jax.tree_util.Partial(_order_parameters, teacher),
            eval_at=eval_at)
    Q0, R0 = student.overlaps(teacher)
    T = teacher.overlaps(teacher)[0]
    times = jnp.asarray(eval_at, float) / n
    *_, eg = _integrate(Q0, R0, student.v, T, teacher.v, eta=cfg.lr, eta_v=eta_v, sigma=cfg.noise, times=times)
    # the control: the same student without teacher noise (its error at the end is what is not yet learned)
    *_, eg0 = _integrate(Q0, R0, student.v, T, teacher.v, eta=cfg.lr, eta_v=eta_v, sigma=0.0, times=times)
    return [{"metric": "ode_t", "value": np.asarray(times).tolist()},
            {"metric": "ode_eg", "value": np.asarray(eg).tolist()},
            {"metric": "ode_noiseless_final", "value": float(eg0[-1])}]


def _crossing(t: np.ndarray, e: np.ndarray, level: float) -> float:
    """The first time a curve falls below `level` (log-log interpolation); inf if never."""
    below = np.nonzero(e < level)[0]
    if not len(below) or below[0] == 0:
        return float("inf") if not len(below) else float(t[0])
    i = below[0]
    a, b = np.log(e[i - 1]), np.log(e[i])
    f = (a - np.log(level)) / (a - b)
    return float(np.exp(np.log(t[i - 1]) + f * (np.log(t[i]) - np.log(t[i - 1]))))


def compare(t: np.ndarray, sim: np.ndarray, ode: np.ndarray) -> tuple[float, float, float]:
    """(the largest |ln eps_sim - ln eps_ode| before the plateau exit and at the end, the
    exit times of sim and ODE).

    "Before the plateau exit" is 1 <= t <= t_exit / (1 + EXIT_TOLERANCE), t_exit the ODE's:
    the drop itself, where a small shift in time is a large one in error, is judged by the
    exit times; after it, the last point (the error reached) is compared again."""
    pos = t > 0
    t, sim, ode = t[pos], np.maximum(sim[pos], TINY), np.maximum(ode[pos], TINY)
    drops = np.diff(np.log(ode)) / np.diff(np.log(t))
    before = int(np.argmin(drops))  # the point just before the ODE's steepest drop
    level = np.sqrt(ode[before] * ode[-1])
    t_ode, t_sim = _crossing(t, ode, level), _crossing(t, sim, level)
    judged = (t >= 1) & (t <= t_ode / (1 + EXIT_TOLERANCE))
    judged[-1] = True
    return float(np.max(np.abs(np.log(sim[judged]) - np.log(ode[judged])))), t_sim, t_ode


def _curves(results: Results, seed: int, cell: dict, n: int):
    steps, sim = results.curve("eg", seed=seed, **cell)
    ode = np.array(results.value(seed=seed, metric="ode_eg", **cell))
    return steps / n, sim, ode


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = sorted(results.by_seed(metric="ode_eg"))
    devs, exits = {}, {}
    for seed in seeds:
        for c in cells(cfg):
            t, sim, ode = _curves(results, seed, c, cfg.inputs)
            dev, t_sim, t_ode = compare(t, sim, ode)
            devs[(seed, c["layers"], c["k"])] = dev
            exits[(seed, c["layers"], c["k"])] = t_sim / t_ode - 1

    def final(layers, k, which):
        vals = [(_curves(results, s, {"layers": layers, "k": k}, cfg.inputs)[2 if which == "ode" else 1])[-1]
                for s in seeds]
        return float(np.mean(vals))

    ks = sorted(cfg.ks)
    # the ablation: the ODE of the other condition (same initial overlaps) must not track the simulation
    crossed = {}
    for seed in seeds:
        t, sim_both, _ = _curves(results, seed, {"layers": "both", "k": ks[-1]}, cfg.inputs)
        _, _, ode_first = _curves(results, seed, {"layers": "first", "k": ks[-1]}, cfg.inputs)
        crossed[seed] = compare(t, sim_both, ode_first)[0]
    first_sim, first_ode = [final("first", k, "sim") for k in ks], [final("first", k, "ode") for k in ks]
    control = [float(np.mean([results.value(seed=s, layers="first", k=k, metric="ode_noiseless_final")
                              for s in seeds])) for k in ks]
    excess = [a - b for a, b in zip(first_sim, control)]
    stuck = sorted(f"seed {key[0]} {key[1]} K={key[2]}" for key, e in exits.items() if not np.isfinite(e))
    both_sim, both_ode = [final("both", k, "sim") for k in ks], [final("both", k, "ode") for k in ks]
    worst_dev = max(devs, key=lambda key: devs[key] if np.isfinite(devs[key]) else np.inf)
    worst_exit = max(exits, key=lambda key: abs(exits[key]) if np.isfinite(exits[key]) else np.inf)

    def fmt(vals):
        return ", ".join(f"K={k}: {v:.2e}" for k, v in zip(ks, vals))

    def name(key):
        return f"seed {key[0]} {key[1]} K={key[2]}"

    return [
        Check(f"the ODE tracks the simulated error: within {LOG_TOLERANCE} in ln eps before the plateau exit "
              f"(t >= 1) and at the end, and the exit times within {EXIT_TOLERANCE:.0%}, in every cell and seed",
              all(np.isfinite(d) and d <= LOG_TOLERANCE for d in devs.values())
              and all(np.isfinite(e) and abs(e) <= EXIT_TOLERANCE for e in exits.values()),
              f"largest deviation {devs[worst_dev]:.3f} ({name(worst_dev)}); largest exit-time difference "
              f"{exits[worst_exit]:+.1%} ({name(worst_exit)}); per seed, K={ks[0]} first layer: log deviation "
              + per_seed({s: devs[(s, 'first', ks[0])] for s in seeds}, "{:.3f}") + ", exit "
              + per_seed({s: exits[(s, 'first', ks[0])] for s in seeds})),
        Check(f"ablation: the fixed-second-layer ODE does not track the both-layers simulation (K={ks[-1]}, "
              f"deviation > {LOG_TOLERANCE})",
              all(d > LOG_TOLERANCE for d in crossed.values()), f"deviation {per_seed(crossed, '{:.3f}')}"),
        Check("first layer only, noisy teacher: the final error's excess over the noiseless control grows with K "
              "(simulation minus the sigma = 0 ODE from the same start, seed mean; every run past its plateau)",
              all(b > a for a, b in zip(excess, excess[1:])) and not stuck,
              f"excess {fmt(excess)}; simulation {fmt(first_sim)}; ODE {fmt(first_ode)}; noiseless control "
              f"{fmt(control)}" + (f"; NOT PAST THE PLATEAU: {', '.join(stuck)}" if stuck else "")),
        Check(f"both layers: the final error does not grow with K (each <= {NO_GROWTH} x that of K={ks[0]}; "
              "simulation, seed mean)",
              all(v <= NO_GROWTH * both_sim[0] for v in both_sim),
              f"simulation {fmt(both_sim)}; ODE {fmt(both_ode)}"),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    s0 = results.seeds[0]
    ks = sorted(cfg.ks)
    for ax, layers in zip(axes, ("first", "both")):
        for i, k in enumerate(ks):
            t, sim, ode = _curves(results, s0, {"layers": layers, "k": k}, cfg.inputs)
            ax.loglog(t[1:], sim[1:], color=f"C{i}", label=f"K={k} simulation")
            ax.loglog(t[1:], ode[1:], color=f"C{i}", ls="--", label=f"K={k} ODE")
        ax.set_xlabel("t = steps / N")
        ax.set_ylabel("generalisation error")
        ax.set_title(f"{'first layer only' if layers == 'first' else 'both layers'} (seed {s0})")
        ax.legend(fontsize=7)
    for layers, marker in (("first", "o"), ("both", "s")):
        sims = np.array([[_curves(results, s, {"layers": layers, "k": k}, cfg.inputs)[1][-1] for k in ks]
                         for s in results.seeds])
        odes = np.array([[_curves(results, s, {"layers": layers, "k": k}, cfg.inputs)[2][-1] for k in ks]
                         for s in results.seeds])
        axes[2].errorbar(ks, sims.mean(0), yerr=sims.std(0), marker=marker, ls="none", capsize=3,
                         label=f"{layers} layer{'s' if layers == 'both' else ''}: simulation")
        axes[2].plot(ks, odes.mean(0), ls="--", label=f"{layers}: ODE")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("student units K")
    axes[2].set_ylabel(f"final error (t = {cfg.time:g})")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Soft committee machines, N={cfg.inputs}, M={cfg.teachers}, eta={cfg.lr}, sigma={cfg.noise} "
                 f"({len(results.seeds)} seeds)")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="teacher_student_odes",
    title="ODEs of online SGD in two-layer teacher-student networks",
    paper="Goldt, Advani, Saxe, Krzakala, Zdeborova 2019, Dynamics of stochastic gradient descent for two-layer "
    "neural networks in the teacher-student setup",
    claim="The order-parameter ODEs predict online SGD's generalisation error over time (plateau, specialisation); "
    "with a noisy teacher the final error grows with the student's size when only the first layer learns, and not "
    "when both layers learn.",
    tiers={
        "smoke": Config(ks=(2, 3), inputs=100, time=30.0, eval_points=12),
        "cpu": Config(),
        "paper": Config(ks=(2, 3, 4, 6, 8), inputs=1000, time=10_000.0, eval_points=60),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("ks",),
    steps=lambda cfg, cell: cfg.steps,
    x64=True,
)
