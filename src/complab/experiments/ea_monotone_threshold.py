"""When hillclimbing fails on monotone functions (Lengler, Martinsson, Steger 2018, arXiv
1808.01137; HotTopic from Lengler & Steger 2018).

Claim: the (1+1) EA with mutation rate c/n optimises every strictly monotone function in
quasi-linear time for c <= 1 (and up to some c0 > 1), but needs exponential time on HotTopic
functions for c > 2.2: there the zero density settles above eps, so the L levels
(exponentially many in the construction) are climbed one by one.

Setup (SPECS "ea_monotone_threshold"; the function and values follow the public
simulations of zuxu/MuOneEA-HotTopic, see tasks/hot_topic.py): alpha = 0.25, beta = 0.05,
eps = 0.05, one function per seed and n; n in {1000, 3000}, c in {1, 2, 3, 4, 5},
L in {100, 200} levels, 8 runs each from uniform random strings, until the optimum or
150 n ln n steps (learners/hot_topic_ea.py). A small simulation cannot show exponential
time (L would be exponential in n); it shows the mechanism: whether the runs climb every
level one by one (the fraction of levels visited), and whether more levels cost more time.
Control: the same EA on OneMax (learners/one_plus_one.py), (e^c / c) n ln n.

Checks (each seed; "more levels cost time" compares the mean climb times, from the start
to the top level, with L and 2L levels, their difference against 3 standard errors of it:
the time to the optimum adds a OneMax phase at the top whose spread hides the levels' cost
with 8 runs; the fractions are our reading of "jumps" and "climbs one by one", not numbers
from the papers):
1. c <= 1 is easy: every run reaches the optimum within 20 n ln n (SPECS), visiting few
   levels (median fraction <= 0.25: the level jumps), and 2L levels take no longer to
   climb than L (the difference within 3 standard errors).
2. The largest c climbs: at the largest n its runs visit >= 90% of the levels (median),
   the zero density of the runs still climbing stays above eps (SPECS: the density settles
   above eps, so each new B_i starts unsatisfied; median over the climb), and 2L levels
   take longer to climb than L (by more than 3 standard errors).
3. The climbing regime widens with n: the fraction of levels visited at every c is at
   least as large at the larger n (within 0.05) and larger at some c. This is the finite
   size of the sets at work (a B_i of beta n positions is filled by chance less often as n
   grows); whether the threshold settles at the proven 2.2 needs n far beyond this tier
   (zuxu's simulations at n = 10^4 find the (1+1) EA climbing from c = 3.2 on).
4. Against OneMax at the same rate (the control without levels): at c <= 1 HotTopic takes
   at most 1.25x OneMax's median time at every n and L, and at the largest c and n with 2L
   levels at least 1.1x: the slowness is the function's, not the rate's.

Measured at the cpu tier (3 seeds, 30 cells, about 1150 s of compute; the claim holds):
c = 1: the slowest run 3.7-4.6 n ln n, 5-7% of the levels visited, 2L adds -0.10 to +0.05
(+- 0.03-0.11) n ln n to the climb. c = 5, n = 3000: every level visited, the climbing
runs' zero density 0.194-0.196 (eps = 0.05), 2L adds +8.0 +- 1.9, +8.0 +- 2.2 and
+9.9 +- 0.6 n ln n to the climb. Median fraction of levels visited at c = 1..5: n = 1000
5-7 / 7-9 / 8 / 10-13 / 15-18%, n = 3000 6-7 / 8-10 / 11-19 / 39-53 / 100%. HotTopic /
OneMax median time: 0.89-1.12 at c = 1, 1.22-1.55 (L = 100) and 1.64-2.11 (L = 200) at
c = 5, n = 3000. A first design measured the time to the optimum instead of the climb:
its OneMax tail at the top level made "2L costs more" 1.8-3.1 standard errors with 8 runs
(one seed failed), and the density "halfway" fell below eps once L = 100 levels were
climbed early; the climb is what the claim is about.
"""

from dataclasses import dataclass

import jax
import numpy as np

from complab.rng import seed_of
from complab.config import require
from complab.experiments.base import Check, Experiment, Results
from complab.learners import hot_topic_ea as ea
from complab.learners.one_plus_one import onemax_runtimes
from complab.tasks.hot_topic import Config as TopicConfig
from complab.tasks.hot_topic import HotTopic

EASY_BUDGET = 20.0
JUMPY = 0.25
LONGER = 1.1
SE = 3.0
CLIMBS = 0.9
LIKE_ONEMAX = 1.25


@dataclass(frozen=True)
class Config:
    ns: tuple[int, ...] = (1000, 3000)
    cs: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0)
    levels: tuple[int, ...] = (100, 200)
    runs: int = 8
    budget: float = 150.0  # steps, in units of n ln n
    alpha: float = 0.25
    beta: float = 0.05
    eps: float = 0.05
    chunk: int = 2000

    def __post_init__(self):
        require(self.ns == tuple(sorted(set(self.ns))) and len(self.ns) >= 2,
                f"ns must be >= 2 increasing sizes; got {self.ns}")
        require(self.cs == tuple(sorted(set(self.cs))) and self.cs[0] <= 1 < self.cs[-1] <= 6,
                f"cs must increase from <= 1 to a value in (1, 6]; got {self.cs}")
        require(len(self.levels) == 2 and self.levels[1] == 2 * self.levels[0],
                f"levels must be (L, 2L), to compare the time L more levels cost; got {self.levels}")
        require(self.runs >= 2 and self.budget >= EASY_BUDGET and self.chunk >= 1,
                f"runs >= 2, budget >= {EASY_BUDGET} (n ln n) and chunk >= 1; got {self}")
        TopicConfig(n=self.ns[0], levels=self.levels[0], alpha=self.alpha, beta=self.beta, eps=self.eps)


def cells(cfg: Config) -> list[dict]:
    return [{"n": n, "c": c} for n in cfg.ns for c in cfg.cs]


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    n, c = cell["n"], cell["c"]
    scale = n * np.log(n)
    seed = seed_of(key)
    rows = []
    for levels in cfg.levels:
        world = HotTopic(TopicConfig(n=n, levels=levels, alpha=cfg.alpha, beta=cfg.beta, eps=cfg.eps),
                         jax.random.fold_in(jax.random.key(seed), n))  # per seed and n; 2L extends L
        state, k = ea.start(world, jax.random.fold_in(key, levels), cfg.runs), jax.random.fold_in(key, 7 * levels)
        climbing = []  # the mean zero density of the runs still below the top level, chunk by chunk
        while int(state["t"][0]) < cfg.budget * scale and bool((state["solved_at"] < 0).any()):
            k, sub = jax.random.split(k)
            state = ea.advance(world, state, c, sub, cfg.chunk)
            zeros, below = 1 - np.asarray(state["ones"]) / n, np.asarray(state["top_at"]) < 0
            if below.any():
                climbing.append(float(zeros[below].mean()))
            visited = float(np.mean(np.asarray(state["visited"]).sum(1)) / (levels + 1))
            ctx.store.log_curve(ctx.run, f"L{levels}", int(state["t"][0]), {"zeros": float(zeros.mean()),
                                                                             "visited": visited})
        solved = np.asarray(state["solved_at"])
        times = np.where(solved >= 0, solved, int(state["t"][0]) + 1) / scale
        top = np.asarray(state["top_at"])
        rows.append({"arm": f"hot_topic_L{levels}", "levels": levels, "solved": float(np.mean(solved >= 0)),
                     "time_median": float(np.median(times)), "times": times.round(4).tolist(),
                     "visited_median": float(np.median(np.asarray(state["visited"]).sum(1)) / (levels + 1)),
                     "climbs": (np.where(top >= 0, top, int(state["t"][0]) + 1) / scale).round(4).tolist(),
                     "zeros_climbing": float(np.median(climbing)) if climbing else float("nan")})
    steps = onemax_runtimes(n, lambda t: c / n, cfg.runs, np.random.default_rng([seed, n, round(1000 * c)]),
                            budget=int(cfg.budget * scale))
    rows.append({"arm": "onemax", "levels": 0, "solved": float(np.mean(steps <= cfg.budget * scale)),
                 "time_median": float(np.median(steps) / scale), "times": (steps / scale).round(3).tolist(),
                 "visited_median": float("nan")})
    return rows


def _row(results: Results, seed: int, n: int, c: float, arm: str) -> dict | None:
    rows = results.select(seed=seed, n=n, c=c, arm=arm)
    return rows[0] if rows else None


def _more_time(short: dict, long: dict) -> tuple[float, float]:
    """The mean climb time (to the top level) that 2L levels add over L, and its standard error."""
    a, b = np.asarray(short["climbs"]), np.asarray(long["climbs"])
    return float(b.mean() - a.mean()), float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))


def expect(results: Results, cfg: Config) -> list[Check]:
    short, long = (f"hot_topic_L{v}" for v in cfg.levels)
    easy_ok, climb_ok, shift_ok, ctrl_ok = True, True, True, True
    easy_said, climb_said, shift_said, ctrl_said = [], [], [], []
    big, top = cfg.ns[-1], cfg.cs[-1]
    for s in results.seeds:
        for c in [c for c in cfg.cs if c <= 1]:
            for n in cfg.ns:
                a, b = _row(results, s, n, c, short), _row(results, s, n, c, long)
                if a is None or b is None:
                    easy_ok = False
                    easy_said.append(f"seed {s} n={n} c={c:g}: not run")
                    continue
                more, se = _more_time(a, b)
                easy_ok &= bool(all(max(r["times"]) <= EASY_BUDGET and r["visited_median"] <= JUMPY for r in (a, b))
                                and more <= SE * se)
                easy_said.append(f"seed {s} n={n} c={c:g}: slowest {max(max(a['times']), max(b['times'])):.1f} n ln "
                                 f"n, levels visited {a['visited_median']:.0%}, 2L adds {more:+.2f} +- {se:.2f} n ln n "
                                 "to the climb")
        a, b = _row(results, s, big, top, short), _row(results, s, big, top, long)
        if a is None or b is None:
            climb_ok = False
            climb_said.append(f"seed {s}: not run")
        else:
            more, se = _more_time(a, b)
            climb_ok &= bool(min(a["visited_median"], b["visited_median"]) >= CLIMBS and more > SE * se
                             and min(a["zeros_climbing"], b["zeros_climbing"]) > cfg.eps)
            climb_said.append(f"seed {s}: levels visited {a['visited_median']:.0%} / {b['visited_median']:.0%}, zero "
                              f"density while climbing {a['zeros_climbing']:.3f} / {b['zeros_climbing']:.3f}, 2L adds "
                              f"{more:+.2f} +- {se:.2f} n ln n to the climb")
        fractions = {n: [(_row(results, s, n, c, short) or {}).get("visited_median", np.nan) for c in cfg.cs]
                     for n in cfg.ns}
        lo, hi = np.array(fractions[cfg.ns[0]]), np.array(fractions[big])
        shift_ok &= bool(np.all(hi >= lo - 0.05) and np.any(hi > lo + 0.05))
        shift_said.append(f"seed {s}: " + "; ".join(
            f"n={n}: " + ", ".join(f"c={c:g} {v:.0%}" for c, v in zip(cfg.cs, fractions[n])) for n in cfg.ns))
        for n in cfg.ns:
            for c in cfg.cs:
                om = _row(results, s, n, c, "onemax")
                for arm in (short, long):
                    r = _row(results, s, n, c, arm)
                    if om is None or r is None:
                        ctrl_ok = False
                        continue
                    ratio = r["time_median"] / om["time_median"]
                    if c <= 1:
                        ctrl_ok &= bool(ratio <= LIKE_ONEMAX)
                    elif (n, c, arm) == (big, top, long):
                        ctrl_ok &= bool(ratio >= LONGER)
                    if c <= 1 or (n, c) == (big, top):
                        ctrl_said.append(f"seed {s} n={n} c={c:g} {arm}: {ratio:.2f}")
    return [
        Check(f"c <= 1 is easy: the optimum within {EASY_BUDGET:g} n ln n in every run, <= {JUMPY:.0%} of the levels "
              f"visited (the level jumps), and {cfg.levels[1]} levels take no longer to climb than {cfg.levels[0]} "
              f"(within {SE:g} standard errors)",
              bool(easy_ok and easy_said), "; ".join(easy_said)),
        Check(f"c = {top:g} climbs at n = {big}: >= {CLIMBS:.0%} of the levels visited one by one, the zero density "
              f"while climbing above eps = {cfg.eps}, and {cfg.levels[1]} levels take longer to climb than "
              f"{cfg.levels[0]} (> {SE:g} standard errors)", bool(climb_ok),
              "; ".join(climb_said)),
        Check(f"the climbing regime widens with n: the fraction of levels visited is at least as large at n = {big} as "
              f"at n = {cfg.ns[0]} for every c, and larger for some", bool(shift_ok), " | ".join(shift_said)),
        Check(f"against OneMax at the same rate: at c <= 1 HotTopic takes <= {LIKE_ONEMAX}x its time, at c = {top:g} "
              f"and n = {big} with {cfg.levels[1]} levels >= {LONGER}x", bool(ctrl_ok and ctrl_said),
              "HotTopic / OneMax median time: " + "; ".join(ctrl_said)),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    seed = results.seeds[0]
    for i, n in enumerate(cfg.ns):
        for levels, ls in zip(cfg.levels, ("-", "--")):
            v = [np.mean([r["visited_median"] for r in results.select(n=n, c=c, arm=f"hot_topic_L{levels}")])
                 for c in cfg.cs]
            t = [np.mean([r["time_median"] for r in results.select(n=n, c=c, arm=f"hot_topic_L{levels}")])
                 for c in cfg.cs]
            axes[0].plot(cfg.cs, v, ls, marker="o", color=f"C{i}", label=f"n={n}, L={levels}")
            axes[1].plot(cfg.cs, t, ls, marker="o", color=f"C{i}", label=f"HotTopic n={n}, L={levels}")
        om = [np.mean([r["time_median"] for r in results.select(n=n, c=c, arm="onemax")]) for c in cfg.cs]
        axes[1].plot(cfg.cs, om, ":", marker="x", color=f"C{i}", label=f"OneMax n={n}")
    grid = np.linspace(cfg.cs[0], cfg.cs[-1], 100)
    axes[1].plot(grid, np.exp(grid) / grid, color="k", lw=0.8, label="e^c / c")
    axes[0].axvline(2.2, color="k", lw=0.6, ls=":")
    axes[0].set_xlabel("mutation constant c")
    axes[0].set_ylabel("fraction of levels visited (median run)")
    axes[0].legend(fontsize=7)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("mutation constant c")
    axes[1].set_ylabel("median steps to the optimum / (n ln n)")
    axes[1].legend(fontsize=6)
    n, c = cfg.ns[-1], cfg.cs[-1]
    for levels, ls in zip(cfg.levels, ("-", "--")):
        for j, cc in enumerate((cfg.cs[0], c)):
            st, z = results.curve("zeros", seed=seed, n=n, c=cc, fit=f"L{levels}")
            axes[2].plot(st / (n * np.log(n)), z, ls, color=f"C{j + 2}", label=f"c={cc:g}, L={levels}")
    axes[2].axhline(cfg.eps, color="k", lw=0.6, label="eps (B_i's allowance)")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("steps / (n ln n)")
    axes[2].set_ylabel(f"mean zero density (n = {n}, seed {seed})")
    axes[2].legend(fontsize=7)
    fig.suptitle("(1+1) EA on HotTopic: jumping levels (small c) against climbing them one by one (large c)")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="ea_monotone_threshold",
    title="When hillclimbing fails on monotone functions: the (1+1) EA's mutation-rate threshold on HotTopic",
    paper="Lengler, Martinsson, Steger 2018, When does hillclimbing fail on monotone functions: an entropy "
    "compression argument; Lengler & Steger 2018, Drift analysis and evolutionary algorithms revisited",
    claim="With mutation rate c/n the (1+1) EA jumps the levels of a HotTopic function for small c and solves it "
    "fast, but for large c climbs them one by one, in time that grows with their number (exponential in n in the "
    "construction); the climbing regime widens as n grows.",
    tiers={
        "smoke": Config(ns=(100, 200), cs=(1.0, 5.0), levels=(10, 20), runs=2, budget=EASY_BUDGET, chunk=1000),
        "cpu": Config(),
        "paper": Config(ns=(1000, 3000, 10000), cs=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0), levels=(200, 400),
                        runs=20),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("ns", "cs"),
)
