"""Discovering modular solutions that generalize compositionally, in reinforcement
learning: compositional preferences and, at the paper tier, compositional goals (Schug,
Kobayashi, Akram, Wolczyk, Proca, von Oswald, Pascanu, Sacramento, Steger, ICLR 2024;
code smonsays/modular-hyperteacher). Each world is a grid axis ("world"); the goal world's
settings, students and metrics are in _modular_goals.py, the preference world's
evaluation in _modular_preferences.py.

Claim: meta-learned on tasks whose module combinations cover the modules
compositionally, a linear-hypernetwork student infers held-out combinations of
preference modules about as well as seen ones, where monolithic meta-learners (ANIL,
MAML) lose more; when the training tasks never show one module (non-compositional
support), every learner fails on the tasks that use it.

Setup: the preference grid of tasks/preference_grid.py (the authors' env: 7 x 7 two-room
map, 4 objects of 8 features, 8 random preference modules, tasks = 1-3 modules with
weights in (0.5, 1), targets the optimal Q-values of all five actions, 16 support and 16
query expert trajectories per task). Splits "random" (23 of 92 combinations held out,
drawn per seed) and "non_compositional" (the 29 that use the last module held out).
Students (models/students.py) learn by learners/maml.py on the authors' masked Q loss:
- "linear_hnet": ReLU MLP whose hidden weights are linear in a task embedding
  (templates meta-learned); the inner loop adapts the embedding and the output bias
  (Adam, lr 0.1, 10 steps, as the authors' config), second order from a meta-learned
  start, as the authors' (their hypernetwork also generates the biases and the output
  layer and rescales each embedding row to a fixed norm; ours shares the readout and has
  no hidden biases beyond the constant input);
- "anil": an MLP whose readout the inner loop adapts (Adam, second order; the authors
  take 100 steps of lr 0.01 on minibatches of a 4 x 512 MLP, the paper tier 100 steps on
  the full support, the cpu tier 20 of lr 0.03 with 2 x 128);
- "maml": an MLP, every parameter adapted (Adam lr 0.01, 10 steps, second order; 3 x 368
  as the authors' at the paper tier).
Outer loop: Adam with gradient clipping 1 and cosine decay (the authors: AdamW 3e-4,
weight decay 0.01, 100,000 steps of 128 tasks).

Metrics on `eval_tasks` fresh tasks per split (64 at a time) after adaptation on their 16
support trajectories. The authors log only the masked query Q loss (their code rolls no
policy out), so the checks read it:
- The task-blind reference: the Q-values of the optimal plan for the training tasks'
  average weights on the same query points (what a learner that never infers the task
  could plan). Its loss is 1.06-2.15 across seeds and splits (1.14 in distribution, seed
  0), a constant predictor's about 1.3 (seed 0).
- "Q fit", whether a student learned at all: 1 - loss / the reference's loss. 0 the
  task-blind planner, 1 exact Q (our normalisation). A ratio of losses says nothing about
  a student that learned nothing (both sit near the reference), hence this precondition.
- "Generalisation ratio": the in-distribution over the held-out Q loss, each relative to
  the reference's on the same points (1: held out as well as seen). Raw losses would
  compare targets of different scales: each seed draws its own modules and split, and
  held-out combinations' squared Q-values run 0.5-1.8 times the training ones' (seeds
  0-2, both splits). Under non-compositional support the reference is more than a scale:
  the planner knows nothing of the unseen module, so its held-out loss is high there,
  which raises that split's ratio and makes check 3 harder to pass, not easier.
Also reported, not checked: the discounted returns in `eval_episodes` fresh episodes per
task of the adapted student acting greedily on its Q-values, the expert and the
task-blind planner, as fractions of the expert's. Greedy acting needs far more accurate Q
than inferring the task does: the best action leads the second best by 0.10 on average,
and NOTHING, worth 0.9 V, ends the episode, so a student with Q loss 0.07 earns 0.44 of
the expert's return and one with 0.02 earns 0.91.

Checks (each seed; thresholds ours from the claim's direction, the paper shows curves):
1. The hypernetwork learned the training tasks (in-distribution Q fit >= 0.5) and on the
   random split its generalisation ratio is >= 0.85 (held-out relative loss at most 1.18
   times the in-distribution one).
2. ANIL learned (in-distribution Q fit >= 0.5) but its generalisation ratio on the random
   split is >= 0.1 below the hypernetwork's.
3. Non-compositional support: every learner learned its training tasks there (fit >=
   0.5; else a high held-out loss says nothing) and its generalisation ratio is >= 0.1
   below its ratio on the random split (the unseen module is not inferred).
The goal world states the same three checks on its own metrics (_modular_goals.py): the
fit is the accuracy fit (the share of the steps a student adapted on another task's
demonstration gets wrong that the task's own demonstration puts right), the
generalisation ratio the held-out over the in-distribution fit (the paper plots raw
accuracies; a student that only learned to walk the mazes would keep its accuracy on
held-out goals, so the ratio reads the part that depends on the task), and the unseen
part under non-compositional support is the bottom-right goal quadrant.
The precondition "learned" is not met by students that cannot infer the task: with zero
inner steps (H200, seed 0, random split, cpu-tier config) both fit 0.14-0.16 in
distribution (ratios 0.93 and 0.94).

The cpu tier: the hypernetwork and ANIL on both splits, 3,000 outer steps of 32 tasks,
outer lr 3e-3 (3e-4 learned far more slowly in a trial), evaluation on 256 tasks x 16
episodes. The paper tier: the authors' sizes and 100,000 steps.

Measured at the cpu tier, 3 seeds: the hypernetwork on 2 CPU cores shared with other jobs
(546-747 s a run, 65 min for the six), ANIL on one H200 (34-54 s a run; its config is the
same as on a CPU; it takes about 750 s a run on 2 cores).
In-distribution / held-out Q loss (fit in distribution), generalisation ratio:
- hypernetwork, random split: 0.074 / 0.078 (0.935), 0.101 / 0.113 (0.947), 0.079 /
  0.096 (0.937); ratios 0.884, 0.937, 0.800.
- hypernetwork, non-compositional: 0.073 / 0.150, 0.098 / 0.183, 0.085 / 0.146 (fit
  0.923-0.937); ratios 0.468, 0.414, 1.134.
- ANIL, random split: 0.157 / 0.168 (0.862), 0.206 / 0.225 (0.893), 0.176 / 0.207
  (0.859); ratios 0.872, 0.957, 0.826.
- ANIL, non-compositional: 0.156 / 0.236, 0.197 / 0.283, 0.171 / 0.274 (fit 0.845-0.874);
  ratios 0.634, 0.536, 1.216.
The claim does not hold at this tier; every check fails. Check 1 in seed 2 (ratio 0.800).
Check 2 in every seed: ANIL infers held-out combinations about as well as the
hypernetwork (0.872 / 0.957 / 0.826 against 0.884 / 0.937 / 0.800). Check 3 in seed 2
for both students: the unseen module halves the hypernetwork's ratio in seeds 0 and 1
(0.41-0.47 against 0.88-0.94) and lowers ANIL's in seeds 0 and 1 (0.63, 0.54), but in
seed 2 the task-blind reference is twice as bad on the held-out tasks (2.15 against 1.10)
and relative to it both students do as well as in distribution (raw losses 0.085 / 0.146
for the hypernetwork). Greedy returns in distribution: the hypernetwork 0.42-0.46 of the
expert's (0.20 in seed 2, non-compositional), ANIL 0.07-0.10, the task-blind planner
0.54-0.64. At the paper's sizes the hypernetwork's fit and returns are far higher (below);
whether ANIL then falls behind it is not measured: its paper-tier run was cut at 3,000
steps.

On one H200 (2026-11-27), seed 0, random split unless said:
- The paper tier's hypernetwork (3 x 64, 32 templates, second order) after 20,000 of its
  100,000 steps (240 s): Q loss 0.021 in distribution, 0.023 held out (fit 0.982 / 0.978,
  ratio 0.84); its greedy policy earns 0.908 of the expert's return on both.
- The paper tier's ANIL (4 x 512, 100 inner steps), stopped at 3,000 steps (250 s): query
  loss on the 64-task curve sets 0.093 seen, 0.118 held out (0.79 unnormalised: the
  curves carry no reference).
- First order from a fixed start (as modular_hyperteacher's), seeds 0-2: fit 0.563 /
  0.680 / 0.669 after 3,000 steps, 0.630 after 12,000 (seed 0), greedy returns 0.00-0.02
  of the expert's; from a learned start 0.207; second order 0.937 at the same budget.

The compositional-goals world (tasks/goal_grid.py) runs at the smoke and paper tiers, not
at the cpu tier; its measurements, on 2 CPU cores and on an H200, are in
_modular_goals.py's docstring.
"""

import dataclasses
from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments import _modular_goals as goal_world
from complab.experiments import _modular_preferences as pref_world
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import maml, meta, optim
from complab.tasks import preference_grid as pg
from complab.training import linear_steps

SPLITS = ("random", "non_compositional")
STUDENTS = ("linear_hnet", "anil", "maml")
WORLDS = ("preferences", "goals")
LEARNED, KEEPS, MARGIN = 0.5, 0.85, 0.1
CURVE_POINTS = 7
CHUNK = 64  # tasks per evaluation call


@dataclass(frozen=True)
class Config:
    task: pg.Config = pg.Config()
    train: optim.Config = optim.Config(lr=3e-3, steps=3000, final_lr_frac=0.1, clip=1.0)
    students: tuple[str, ...] = ("linear_hnet", "anil")
    splits: tuple[str, ...] = SPLITS
    hidden: int = 32  # hypernetwork's generated layers
    layers: int = 2
    modules: int = 16  # templates
    anil_mlp: tuple[int, int] = (128, 2)  # (hidden width, hidden layers)
    maml_mlp: tuple[int, int] = (128, 2)
    hnet_inner: meta.Inner = meta.Inner(kind="adam", lr=0.1, steps=10)
    hnet_first_order: bool = False  # the authors' second order (first order fits Q far worse: see the docstring)
    hnet_learn_init: bool = True  # the authors meta-learn the embedding's starting value
    anil_inner: meta.Inner = meta.Inner(kind="adam", lr=0.03, steps=20)
    maml_inner: meta.Inner = meta.Inner(kind="adam", lr=0.01, steps=10)
    meta_batch: int = 32
    shots: int = 16  # support trajectories per task, and as many query trajectories
    eval_tasks: int = 256
    eval_episodes: int = 16
    worlds: tuple[str, ...] = ("preferences",)
    goals: goal_world.Goals = goal_world.Goals()  # the goal world's own settings (its splits are `splits`)

    def __post_init__(self):
        require(len(self.worlds) >= 1 and set(self.worlds) <= set(WORLDS),
                f"worlds are among {', '.join(WORLDS)}; got {self.worlds}")
        require(set(self.students) <= set(STUDENTS) and "linear_hnet" in self.students,
                f"students are among {', '.join(STUDENTS)} and include linear_hnet; got {self.students}")
        require(set(self.splits) <= set(SPLITS) and "random" in self.splits,
                f"splits are among {', '.join(SPLITS)} and include random; got {self.splits}")
        require(min(self.hidden, self.layers, self.modules, *self.anil_mlp, *self.maml_mlp, self.meta_batch, self.shots,
                    self.eval_tasks, self.eval_episodes) >= 1, f"sizes must be >= 1; got {self}")
        for name, n in (("eval_tasks", self.eval_tasks), ("goals.eval_tasks", self.goals.eval_tasks)):
            require(n <= CHUNK or n % CHUNK == 0,
                    f"{name} is at most {CHUNK} or a multiple of it (evaluated {CHUNK} at a time); got {n}")


def cells(cfg: Config) -> list[dict]:
    names = {"preferences": cfg.students, "goals": cfg.goals.students}
    return [{"world": w, "student": s, "split": p} for w in cfg.worlds for s in names[w] for p in cfg.splits]


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps if cell["world"] == "preferences" else cfg.goals.student(cell["student"]).train.steps


@eqx.filter_jit
def _query_loss(learn: maml.MAML, model, episodes: dict):
    return meta.per_task(lambda sx, sy, qx, qy: learn.loss(learn.adapt(model, sx, sy)[0], qx, qy), episodes).mean()


def _curve(key, state, learn, train, test):
    """Query losses after adaptation during training (the returns and accuracies only at the end)."""
    del key
    return {f"{split}_loss": _query_loss(learn, state.model, ep) for split, ep in (("train", train), ("test", test))}


def _train_episodes(task, n, shots, key, t=None):
    return task.episodes(key, "train", n, shots, shots)


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    name, split, world = cell["student"], cell["split"], cell["world"]
    if world == "preferences":
        task = pg.PreferenceGrid(dataclasses.replace(cfg.task, split=split, split_seed=rng.seed_of(key)))
        own, helper, root = cfg, pref_world, key
    else:
        task, own, helper, root = goal_world.task(cfg.goals, split, key), cfg.goals, goal_world, rng.named(key, "goals")
    body, learn = helper.student(own, name)
    k_eval, k_curve, k_model = rng.streams(root, "eval", "curve", "model")
    k_init, k_train = rng.streams(rng.named(k_model, f"{name}/{split}"), "init", "train")
    model = body.build(*task.dims, key=k_init)
    episodes = eqx.filter_jit(task.episodes)

    def draw(k, s, n):
        return episodes(k, s, n, own.shots, own.shots)

    chunk = min(own.eval_tasks, CHUNK)  # tasks per evaluation call: one compiled shape
    evaluate = jax.tree_util.Partial(_curve, learn=learn, train=draw(k_curve, "train", chunk),
                                     test=draw(k_curve, "test", chunk))
    data = jax.tree_util.Partial(_train_episodes, task, own.meta_batch, own.shots)
    n_steps = steps(cfg, cell)
    state = ctx.fit(name, learn, learn.init(k_init, model), data, key=k_train, steps=n_steps,
                    evaluate=evaluate, eval_at=linear_steps(n_steps, CURVE_POINTS))
    return helper.rows(own, learn, state.model, task, draw, k_eval, chunk)


def _get(results: Results, world: str, student_: str, split: str, tasks: str, field: str) -> dict[int, float]:
    return {s: rows[0][field] for s, rows in results.by_seed(world=world, student=student_, split=split,
                                                             split_of_tasks=tasks).items()}


def _ratio(results: Results, world: str, student_: str, split: str) -> dict[int, float]:
    """The generalisation ratio (1: held out as well as seen). Preferences: the in-distribution over the held-out Q
    loss, each relative to the task-blind planner's on the same points (whatever the targets' scale). Goals: the
    held-out over the in-distribution accuracy fit."""
    if world == "goals":
        return goal_world.ratio({t: _get(results, world, student_, split, t, "fit") for t in ("train", "test")})
    rel = {}
    for t in ("train", "test"):
        loss = _get(results, world, student_, split, t, "loss")
        blind = _get(results, world, student_, split, t, "blind_loss")
        rel[t] = {s: loss[s] / blind[s] for s in loss if s in blind}
    return {s: rel["train"][s] / rel["test"][s] if rel["test"][s] > 0 else float("nan")
            for s in rel["train"] if s in rel["test"]}


def _said(results: Results, world: str, student_: str, split: str) -> str:
    def get(tasks, field):
        return per_seed(_get(results, world, student_, split, tasks, field), "{:.3f}")

    ratio = f"generalisation ratio {per_seed(_ratio(results, world, student_, split), '{:.3f}')}"
    if world == "goals":
        return (f"accuracy fit in-distribution {get('train', 'fit')}, held-out {get('test', 'fit')}; {ratio}; "
                f"accuracy in-distribution {get('train', 'accuracy')} (adapted on another task "
                f"{get('train', 'accuracy_other')}), held-out {get('test', 'accuracy')} ("
                f"{get('test', 'accuracy_other')}); demonstrations solved in-distribution {get('train', 'solved')}, "
                f"held-out {get('test', 'solved')}")
    return (f"Q fit in-distribution {get('train', 'fit')}, held-out {get('test', 'fit')}; {ratio}; Q loss "
            f"in-distribution {get('train', 'loss')} (task-blind planner {get('train', 'blind_loss')}), held-out "
            f"{get('test', 'loss')} ({get('test', 'blind_loss')}); greedy return / expert's in-distribution "
            f"{get('train', 'return')} (task-blind planner {get('train', 'blind_return')})")


FIT = {"preferences": "Q fit: 0 the task-blind planner's Q loss, 1 exact Q",
       "goals": "accuracy fit: 0 no better than adapted on another task's demonstration, 1 every step right"}
RATIO = {"preferences": "in-distribution / held-out Q loss, each relative to the task-blind planner's",
         "goals": "held-out / in-distribution accuracy fit"}


def _world_checks(results: Results, cfg: Config, world: str) -> list[Check]:
    seeds, fmt = results.seeds, "{:.3f}"
    names = cfg.students if world == "preferences" else cfg.goals.students

    def full(d):
        return bool(seeds) and all(s in d and np.isfinite(d[s]) for s in seeds)

    def fit(b, split):
        return _get(results, world, b, split, "train", "fit")

    idl, ratio = fit("linear_hnet", "random"), _ratio(results, world, "linear_hnet", "random")
    ok1 = full(idl) and full(ratio) and all(idl[s] >= LEARNED and ratio[s] >= KEEPS for s in seeds)
    checks = [Check(f"{world}: the linear hypernetwork learned (in-distribution {FIT[world]}; >= {LEARNED}) and its "
                    f"generalisation ratio ({RATIO[world]}) is >= {KEEPS} (random split)", ok1,
                    _said(results, world, "linear_hnet", "random"))]
    for b in [s for s in names if s != "linear_hnet"]:
        b_id, b_ratio = fit(b, "random"), _ratio(results, world, b, "random")
        ok = (full(b_id) and full(b_ratio) and full(ratio)
              and all(b_id[s] >= LEARNED and b_ratio[s] <= ratio[s] - MARGIN for s in seeds))
        checks.append(Check(f"{world}: {b} learned (in-distribution fit >= {LEARNED}) but generalises less: its "
                            f"generalisation ratio is >= {MARGIN} below the hypernetwork's (random split)", ok,
                            f"{b}: {_said(results, world, b, 'random')}; hypernetwork ratio {per_seed(ratio, fmt)}"))
    if "non_compositional" in cfg.splits:
        ok, said = True, []
        for b in names:
            nc, rd = _ratio(results, world, b, "non_compositional"), _ratio(results, world, b, "random")
            nc_id = fit(b, "non_compositional")
            ok &= (full(nc) and full(rd) and full(nc_id)
                   and all(nc_id[s] >= LEARNED and nc[s] <= rd[s] - MARGIN for s in seeds))
            said.append(f"{b}: ratio non-compositional {per_seed(nc, fmt)} vs random {per_seed(rd, fmt)} "
                        f"(non-compositional in-distribution fit {per_seed(nc_id, fmt)})")
        unseen = "a module" if world == "preferences" else "a goal quadrant"
        checks.append(Check(f"{world}: with {unseen} never seen in training (non-compositional support) every learner "
                            f"learned its training tasks (fit >= {LEARNED}) and its generalisation ratio is >= "
                            f"{MARGIN} below its ratio on the random split", ok, "; ".join(said)))
    return checks


def expect(results: Results, cfg: Config) -> list[Check]:
    return [c for w in cfg.worlds for c in _world_checks(results, cfg, w)]


def _bars(ax, results: Results, cfg: Config, world: str) -> None:
    """Per cell the in-distribution and held-out metric (mean and sd over seeds), with the reference marked."""
    mine = [c for c in cells(cfg) if c["world"] == world]
    field, ref, ref_label = (("loss", "blind_loss", "task-blind planner") if world == "preferences" else
                             ("accuracy", "accuracy_other", "adapted on another task"))
    for i, c in enumerate(mine):
        for tasks, off, hatch in (("train", -0.2, ""), ("test", 0.2, "//")):
            v = list(_get(results, world, c["student"], c["split"], tasks, field).values())
            r = list(_get(results, world, c["student"], c["split"], tasks, ref).values())
            ax.bar(i + off, np.mean(v) if v else np.nan, 0.4, yerr=np.std(v) if v else None, hatch=hatch,
                   color=f"C{STUDENTS.index(c['student'])}", label=tasks if i == 0 else None)
            if r:
                ax.plot(i + off, np.mean(r), "k_", ms=14, label=ref_label if (i, tasks) == (0, "train") else None)
    ax.set_xticks(range(len(mine)), [f"{c['student']}\n{c['split']}" for c in mine], fontsize=7)
    if world == "preferences":
        ax.set_yscale("log")
    ax.set_ylabel(f"{world}: query {'Q loss' if world == 'preferences' else 'accuracy'} (hatched: held out)")
    ax.legend(fontsize=7)


def _curves(ax, results: Results, cfg: Config, world: str) -> None:
    if not results.seeds:
        return
    s0 = results.seeds[0]
    for st in cfg.students if world == "preferences" else cfg.goals.students:
        for tasks, ls in (("train", "-"), ("test", "--")):
            x, y = results.curve(f"{tasks}_loss", seed=s0, world=world, student=st, split="random")
            ax.plot(x, y, color=f"C{STUDENTS.index(st)}", ls=ls, label=f"{st} ({tasks})")
    ax.set_xlabel(f"outer step (seed {s0}, random split)")
    ax.set_ylabel(f"{world}: query {'Q' if world == 'preferences' else 'cross-entropy'} loss after adaptation, "
                  f"up to {CHUNK} tasks")
    ax.set_yscale("log")
    ax.legend(fontsize=7)


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(cfg.worlds), 2, figsize=(12, 4.2 * len(cfg.worlds)), squeeze=False)
    for (ax_bars, ax_curves), world in zip(axes, cfg.worlds):
        _bars(ax_bars, results, cfg, world)
        _curves(ax_curves, results, cfg, world)
    fig.suptitle(f"Compositional {' and '.join(cfg.worlds)} ({len(results.seeds)} seeds)")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="modular_preferences_goals",
    title="Modular hypernetworks infer unseen combinations of preferences and goals",
    paper="Schug, Kobayashi, Akram, Wolczyk, Proca, von Oswald, Pascanu, Sacramento, Steger 2024, Discovering "
    "modular solutions that generalize compositionally",
    claim="Meta-learned on compositional support, a linear-hypernetwork student predicts the optimal action values "
    "of held-out combinations of preference modules (and, at the paper tier, the optimal actions of held-out "
    "combinations of goals) about as well as of seen ones, while ANIL and MAML lose more; with a module unseen in "
    "training every learner does worse on the tasks that use it.",
    tiers={
        "smoke": Config(train=optim.Config(lr=1e-3, steps=10, final_lr_frac=0.1, clip=1.0), hidden=8, modules=4,
                        anil_mlp=(16, 2), meta_batch=4, shots=2, eval_tasks=4, eval_episodes=2,
                        hnet_inner=meta.Inner(kind="adam", lr=0.1, steps=3),
                        anil_inner=meta.Inner(kind="adam", lr=0.03, steps=3), worlds=WORLDS, goals=goal_world.smoke()),
        "cpu": Config(),
        "paper": Config(train=optim.Config(lr=3e-4, steps=100_000, final_lr_frac=0.1, clip=1.0, weight_decay=0.01),
                        students=STUDENTS, hidden=64, layers=3, modules=32, anil_mlp=(512, 4), maml_mlp=(368, 3),
                        meta_batch=128,
                        anil_inner=meta.Inner(kind="adam", lr=0.01, steps=100), eval_tasks=1024, worlds=WORLDS,
                        goals=goal_world.paper()),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("students", "splits", "worlds", "goals.students"),
    steps=steps,
)
