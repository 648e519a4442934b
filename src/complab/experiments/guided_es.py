"""ES with past descent directions (Meier, Mujika, Gauy, Steger 2019, "Improving
gradient estimation in evolutionary strategies with past descent directions").

Claim: using the previous gradient estimate as a surrogate direction, combined with
random directions, gives better gradient estimates than plain ES at the same number
of function evaluations (on a linear function the estimate converges to the true
gradient), and so faster optimisation.

Cells: (objective in {linear, quadratic, network}) x (estimator in {plain, guided,
past}); learners/evolution.py has the three estimators, all at 2P evaluations per
step. Each cell runs one fit per step size in `lrs` (SGD on the estimate; the
comparison of optimisation uses each estimator's best step size, so no estimator is
judged at a step size that suits another) and records, on log-spaced steps, the
objective and the cosine between a fresh estimate and the true gradient (jax.grad,
for measurement only).

Objectives (d = `dim`): linear f(x) = a.x, a ~ N(0, I/d); quadratic f(x) = 1/2 sum_i
h_i x_i^2, h log-uniform in [1e-2, 1]; network: the mean squared error of a tanh MLP
(`net_in` -> `net_hidden` -> 1, d = its parameter count) against a fixed teacher of
the same shape on 128 fixed Gaussian inputs. x0 ~ N(0, I) (network: the student's
init). The objective of a seed is shared by all its cells.

Checks (each seed):
1. Linear: the past-direction estimate converges to the true gradient: cos^2 >= 0.95
   by step `converge_by` (the rate (1 - (P-1)/(d-1))^t of the paper's linear-case
   argument gives 1 - cos^2 ~ 0.03 at d = 1000, P = 10, t = 400), while plain ES
   stays near P/(P + d) (mean cos^2 <= 0.02).
2. Quadratic and network: the past-direction estimate has a higher mean cosine with
   the true gradient, averaged over training time, than plain ES and Guided ES (each
   at its best step size).
3. Quadratic and network: at equal evaluations, the past-direction method ends at a
   lower objective than plain ES and Guided ES (each at its best step size, which
   must lie inside the grid: a best step size at the grid's edge fails the check).

Choices (the paper's settings could not be read): P = 10, sigma = 0.01, Guided ES with
alpha = 0.5 and its k = 1 subspace the previous estimate; the network is a small
synthetic regression instead of the paper's MNIST.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from complab import rng
from complab.config import require
from complab.errors import NaNLossError
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import evolution
from complab.training import log_steps

OBJECTIVES = ("linear", "quadratic", "network")
METHODS = ("plain", "guided", "past")
LINEAR_COS2 = 0.95
PLAIN_COS2 = 0.02


@dataclass(frozen=True)
class Config:
    dim: int = 1000  # d of the linear and quadratic objectives
    pairs: int = 10  # P: 2P evaluations per step
    sigma: float = 0.01
    alpha: float = 0.5  # Guided ES
    steps: int = 2000
    converge_by: int = 400  # check 1's step
    # half-decades wide enough to bracket every estimator's best: their scales differ by ~d/P
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
    net_in: int = 10
    net_hidden: int = 16
    eval_points: int = 30

    def __post_init__(self):
        require(self.dim >= 2 and self.pairs >= 2, f"dim and pairs must be >= 2, got {self.dim}, {self.pairs}")
        require(self.pairs <= min(self.dim, self.net_in * self.net_hidden),
                f"pairs must not exceed the dimension, got pairs={self.pairs}")
        require(1 <= self.converge_by <= self.steps, f"converge_by must be in [1, steps], got {self.converge_by}")
        require(len(self.lrs) >= 1 and min(self.lrs) > 0, f"lrs must be positive step sizes, got {self.lrs}")
        names = [f"{lr:g}" for lr in self.lrs]
        require(len(set(names)) == len(names), f"lrs must be distinct (to 6 significant digits), got {self.lrs}")
        evolution.Guided(self.pairs, self.sigma, self.alpha)  # refuses sigma <= 0, alpha outside (0, 1]
        require(self.net_in >= 1 and self.net_hidden >= 1 and self.eval_points >= 2,
                "net_in, net_hidden must be >= 1 and eval_points >= 2")


def cells(cfg: Config) -> list[dict]:
    return [{"objective": o, "method": m} for o in OBJECTIVES for m in METHODS]


def _estimator(cfg: Config, method: str):
    if method == "plain":
        return evolution.Antithetic(cfg.pairs, cfg.sigma)
    if method == "guided":
        return evolution.Guided(cfg.pairs, cfg.sigma, cfg.alpha)
    return evolution.PastDirection(cfg.pairs, cfg.sigma)


def _linear(a, x):
    return a @ x


def _quadratic(h, x):
    return 0.5 * jnp.sum(h * x**2)


def _network(unravel, static, inputs, targets, theta):
    mlp = eqx.combine(unravel(theta), static)
    return jnp.mean((jax.vmap(mlp)(inputs)[:, 0] - targets) ** 2)


def _objective(cfg: Config, name: str, key: jax.Array):
    """(f, x0) for one objective: f a jax Partial (its arrays traced, not baked in)."""
    k_f, k_x, k_teacher, k_in = rng.streams(key, "f", "x0", "teacher", "inputs")
    P = jax.tree_util.Partial
    if name == "linear":
        return P(_linear, jax.random.normal(k_f, (cfg.dim,)) / jnp.sqrt(cfg.dim)), jax.random.normal(k_x, (cfg.dim,))
    if name == "quadratic":
        h = jnp.exp(jax.random.uniform(k_f, (cfg.dim,), minval=jnp.log(1e-2), maxval=0.0))
        return P(_quadratic, h), jax.random.normal(k_x, (cfg.dim,))

    def mlp(k):
        return eqx.nn.MLP(cfg.net_in, 1, cfg.net_hidden, 1, activation=jnp.tanh, key=k)

    inputs = jax.random.normal(k_in, (128, cfg.net_in))
    targets = jax.vmap(mlp(k_teacher))(inputs)[:, 0]
    params, static = eqx.partition(mlp(k_x), eqx.is_array)
    theta0, unravel = ravel_pytree(params)
    return P(_network, unravel, static, inputs, targets), theta0


def _measure(learner, key, state):
    return {"loss": learner.objective(state.x), "cosine": learner.cosine(key, state)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    f, x0 = _objective(cfg, cell["objective"], rng.named(key, cell["objective"]))
    estimator = _estimator(cfg, cell["method"])
    lrs = cfg.lrs[:1] if cell["objective"] == "linear" else cfg.lrs  # the cosine on a linear f needs no lr sweep
    eval_at = tuple(sorted(set(log_steps(cfg.steps, cfg.eval_points)) | {cfg.converge_by}))
    rows = []
    for lr in lrs:
        learner = evolution.ES(estimator, f, lr)
        try:
            state = ctx.fit(f"lr{lr:g}", learner, learner.init(rng.named(key, "init"), x0), None,
                            key=rng.named(key, "es"),
                            steps=cfg.steps, evaluate=jax.tree_util.Partial(_measure, learner), eval_at=eval_at)
            final = float(f(state.x))
        except NaNLossError:  # this step size diverges: an outcome of the sweep, not a failure of the run
            final = float("inf")
        rows.append({"lr": lr, "metric": "final_loss", "value": final})
    return rows


def _best(results: Results, cfg: Config, seed: int, objective: str, method: str) -> tuple[float, float, float]:
    """(best final objective over step sizes, its lr, the mean cosine of that fit)."""
    finals = results.select(seed=seed, objective=objective, method=method, metric="final_loss")
    best = min(finals, key=lambda r: r["value"] if np.isfinite(r["value"]) else np.inf)
    steps, cos = results.curve("cosine", seed=seed, objective=objective, method=method, fit=f"lr{best['lr']:g}")
    return best["value"], best["lr"], _time_mean(steps, cos)


def _time_mean(steps: np.ndarray, values: np.ndarray) -> float:
    """The mean over training time of a curve sampled at (log-spaced) steps: trapezoids,
    so the many early points of a log grid do not outweigh the rest of the run."""
    return float(np.sum(np.diff(steps) * (values[1:] + values[:-1]) / 2) / (steps[-1] - steps[0]))


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = sorted(results.by_seed(metric="final_loss"))
    lr0 = f"lr{cfg.lrs[0]:g}"

    def cos2_at(seed, method, step):
        steps, cos = results.curve("cosine", seed=seed, objective="linear", method=method, fit=lr0)
        return float(cos[list(steps).index(step)] ** 2)

    past_lin = {s: cos2_at(s, "past", cfg.converge_by) for s in seeds}
    plain_lin = {}
    for s in seeds:
        steps, cos = results.curve("cosine", seed=s, objective="linear", method="plain", fit=lr0)
        plain_lin[s] = _time_mean(steps, cos**2)
    checks = [Check(f"linear f: the past-direction estimate converges to the gradient (cos^2 >= {LINEAR_COS2} by step "
                    f"{cfg.converge_by}); plain ES stays near P/(P+d) (mean cos^2 <= {PLAIN_COS2})",
                    all(v >= LINEAR_COS2 for v in past_lin.values())
                    and all(v <= PLAIN_COS2 for v in plain_lin.values()),
                    f"past cos^2 at step {cfg.converge_by}: {per_seed(past_lin, '{:.3f}')}; plain mean cos^2: "
                    f"{per_seed(plain_lin, '{:.4f}')} (P/(P+d) = {cfg.pairs / (cfg.pairs + cfg.dim):.4f})")]
    for obj in ("quadratic", "network"):
        best = {(s, m): _best(results, cfg, s, obj, m) for s in seeds for m in METHODS}

        def show(i, fmt, best=best):
            return "; ".join(f"{m} " + per_seed({s: best[s, m][i] for s in seeds}, fmt) for m in METHODS)

        edge = sorted({f"{m} (seed {s})" for (s, m), b in best.items() if b[1] in (min(cfg.lrs), max(cfg.lrs))})
        unbracketed = f"; NOT BRACKETED, best step size at the grid's edge: {', '.join(edge)}" if edge else ""

        checks += [
            Check(f"{obj}: the past-direction estimate's mean cosine with the true gradient exceeds plain ES's and "
                  "Guided ES's (each at its best step size)",
                  all(best[s, "past"][2] > max(best[s, "plain"][2], best[s, "guided"][2]) for s in seeds),
                  f"mean cosine: {show(2, '{:.3f}')}"),
            Check(f"{obj}: at equal evaluations ({cfg.steps} steps x {2 * cfg.pairs}), past directions end lower than "
                  "plain ES and Guided ES (each at its best step size)",
                  all(best[s, "past"][0] < min(best[s, "plain"][0], best[s, "guided"][0]) for s in seeds)
                  and not edge,
                  f"final objective: {show(0, '{:.3g}')}; best step sizes: {show(1, '{:g}')}{unbracketed}"),
        ]
    return checks


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    s0 = results.seeds[0]
    lr0 = f"lr{cfg.lrs[0]:g}"
    for m in METHODS:
        steps, cos = results.curve("cosine", seed=s0, objective="linear", method=m, fit=lr0)
        axes[0].plot(steps[1:], cos[1:] ** 2, label=m)
    t = np.arange(cfg.steps + 1)
    axes[0].plot(t, 1 - (1 - (cfg.pairs - 1) / (cfg.dim - 1)) ** t, "k:", lw=1, label="1 - (1 - (P-1)/(d-1))^t")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("cos^2(estimate, gradient)")
    axes[0].set_title(f"linear, d={cfg.dim}, P={cfg.pairs} (seed {s0})")
    axes[0].legend(fontsize=7)
    for ax, obj in zip(axes[1:], ("quadratic", "network")):
        for m in METHODS:
            _, lr, _ = _best(results, cfg, s0, obj, m)
            steps, loss = results.curve("loss", seed=s0, objective=obj, method=m, fit=f"lr{lr:g}")
            ax.plot(steps[1:], loss[1:], label=f"{m} (lr {lr:g})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"step ({2 * cfg.pairs} evaluations each)")
        ax.set_ylabel("objective")
        ax.set_title(f"{obj} (seed {s0}, best step size each)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="guided_es",
    title="Evolution strategies with past descent directions",
    paper="Meier, Mujika, Gauy, Steger 2019, Improving gradient estimation in evolutionary strategies with past "
    "descent directions",
    claim="Using the previous gradient estimate as a surrogate direction gives better gradient estimates than plain "
    "ES at equal cost (converging to the true gradient on linear functions) and faster optimisation.",
    tiers={
        "smoke": Config(dim=50, pairs=4, steps=60, converge_by=60, lrs=(0.03, 0.3, 3.0), net_in=4, net_hidden=4,
                        eval_points=8),
        "cpu": Config(),
        "paper": Config(dim=10_000, pairs=50, steps=20_000, converge_by=2000,
                        net_in=50, net_hidden=64, eval_points=60),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=lambda cfg, cell: cfg.steps * (1 if cell["objective"] == "linear" else len(cfg.lrs)),
)
