"""Learning randomized algorithms with transformers (von Oswald, Kobayashi, Akram,
Steger 2024): symmetry breaking in graph colouring and exploration trained by ES.

Claims: (1) a permutation-equivariant transformer with neighbourhood attention masks
cannot colour a symmetric graph, but given a random seed per node it learns to break
the symmetry and colours properly with probability > 1/2, and retrying with fresh
seeds (a proper colouring is checkable) colours every graph almost surely; (2) an
exploring policy trained by evolution strategies (its moves are discrete: no gradient)
on the relaxed worst-case objective (learners/adversarial.py's q-norm over goal cells
of the mean cost over m seeds) learns to use its seed and beats every deterministic
policy's worst case.

Colouring (tasks/symmetric_graphs.py, models/graph_attention.py): C5, C6, C8, K_{3,3},
the 3-cube and the Petersen graph with permuted nodes, 3 colours; each node's input is
a Gaussian seed (8 numbers), or zeros for the deterministic arm; the loss is the share
of edges whose ends would draw the same colour, a q-norm (q = 8) over graphs of its
mean over m = 8 seed draws, Adam.

Exploration (tasks/ring_search.py): a ring of 8 cells, the goal hidden in any cell but
the start, 16 moves; the policy is an MLP of (seed, cell, time) whose sign picks the
move; seeds are Gaussian (4 numbers) or zeros; ModelES (antithetic, 32 pairs) with Adam
on the estimates, every goal in each objective (the adversary's choices are few).

Checks (each seed):
1. colouring: the deterministic model colours no graph properly (symmetry), and the
   randomized one colours every graph properly with probability > 1/2 (over 256 seeds),
   so that retrying with fresh seeds (a proper colouring is checkable) fails 16 times in
   a row with probability < 2e-5 (the share of 16 groups of 16 seeds is reported);
2. exploration: the deterministic policy's worst case is >= n - 1 moves (any
   deterministic order; a check of the environment), and the randomized policy's
   worst-case expected cost is <= 3/4 of that bound and below the deterministic one's.

Choices where the paper leaves room (graph families, sizes, the grid world and the
model sizes are not retrievable): the graph family and the ring above; the paper's
agent explores in a first episode and exploits in a second, here only the search.

Measured at the cpu tier (3 seeds, 17 min on 2 cores beside another run): the claim
holds. Colouring: the randomized model's worst graph is coloured properly with
probability 0.61, 0.68, 0.72 (training conflict 0.042-0.046), the deterministic
model's never (its conflict stays at 1/3, one colour for all); 16 tries colour every
graph in all 16 groups. Exploration: the deterministic policy's worst goal costs 7.00
moves (n - 1, as it must), the randomized one's 4.22-4.31 in expectation (n / 2 = 4
is the best possible; mean over goals 4.04-4.15). At the paper tier (one seed on an
H200, 101 s; before never-found cost horizon + 1, which only the search uses) the
worst graph is coloured with probability 0.875 and the 16-cell ring's randomized
worst case is 8.48 moves against 15.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results, per_seed
from complab.learners import adversarial, evolution, optim, supervised
from complab.models import graph_attention
from complab.tasks import ring_search
from complab.tasks import symmetric_graphs as graphs
from complab.training import linear_steps

EVAL_SEEDS, TRIES = 256, 16
COLOURS_WELL, SEARCH_GAIN = 0.5, 0.75
CURVE_POINTS = 11


@dataclass(frozen=True)
class Config:
    graphs: graphs.Config
    model: graph_attention.Config
    train: optim.Config
    search: ring_search.Config
    es_train: optim.Config
    seed_dim: int = 8  # per node
    search_seed_dim: int = 4
    q: float = 8.0
    m: int = 8
    batch_size: int = 60  # graphs per step (the family in turn)
    es_pairs: int = 32
    es_sigma: float = 0.05
    policy_width: int = 32

    def __post_init__(self):
        require(min(self.seed_dim, self.search_seed_dim, self.m, self.batch_size, self.es_pairs, self.policy_width)
                >= 1 and self.q >= 1 and self.es_sigma > 0,
                f"sizes must be >= 1, q >= 1 and es_sigma > 0; got {self}")


def cells(cfg: Config) -> list[dict]:
    return [{"task": t, "arm": a} for t in ("colouring", "search") for a in ("fixed", "random")]


def _node_seeds(key, shape, random: bool):
    return jax.random.normal(key, shape) if random else jnp.zeros(shape)


def _colour_logits(model, batch, seeds):
    """Logits [graphs, draws, nodes, colours] for node seeds [graphs, draws, nodes, R]."""
    return jax.vmap(lambda a, v, s: jax.vmap(lambda ss: model(ss, a, v))(s))(batch["adjacency"], batch["valid"], seeds)


def _colouring_loss(family: graphs.SymmetricGraphs, cfg: Config, random: bool):
    n = cfg.graphs.max_nodes

    def loss(model, batch, key):
        k_graphs, k_seeds = jax.random.split(key)
        b = family.sample(k_graphs, cfg.batch_size)
        seeds = _node_seeds(k_seeds, (cfg.batch_size, cfg.m, n, cfg.seed_dim), random)
        probs = jax.nn.softmax(_colour_logits(model, b, seeds))
        per_graph = graphs.conflict(probs, b["adjacency"][:, None]).mean(1)
        return adversarial.q_norm(per_graph, cfg.q)

    return loss


def _colouring_eval(model, family: graphs.SymmetricGraphs, cfg: Config, random: bool, key):
    """Per graph of the family: the probability of a proper colouring over EVAL_SEEDS seed draws."""
    count, n = len(cfg.graphs.graphs), cfg.graphs.max_nodes
    k_graphs, k_seeds = jax.random.split(key)
    b = family.sample(k_graphs, count, jnp.arange(count))
    seeds = _node_seeds(k_seeds, (count, EVAL_SEEDS, n, cfg.seed_dim), random)
    colours = _colour_logits(model, b, seeds).argmax(-1)
    return graphs.proper(colours, b["adjacency"][:, None])  # [graphs, draws]


def _colouring_curve(key, state, family, cfg, random):
    del key
    ok = _colouring_eval(state.model, family, cfg, random, jax.random.key(0))
    return {"worst_graph": ok.mean(1).min(), "mean_graph": ok.mean()}


def _search_curve(key, state, cfg, random):
    del key
    seeds = _node_seeds(jax.random.key(0), (cfg.search.cells - 1, EVAL_SEEDS, cfg.search_seed_dim), random)
    costs = _costs(state.model, cfg, seeds).mean(1)
    return {"worst_cost": costs.max(), "mean_cost": costs.mean()}


def _policy(cfg: Config, key):
    d_in = cfg.search_seed_dim + cfg.search.cells + 1
    return eqx.nn.MLP(d_in, "scalar", cfg.policy_width, 2, activation=jnp.tanh, key=key)


def _costs(model, cfg: Config, seeds):
    """Costs [goals, draws] of the policy under seeds [goals, draws, R]."""
    s = cfg.search

    def one(seed, goal):
        return ring_search.cost(s, lambda r, obs: model(jnp.concatenate([r, obs])), seed, goal)

    return jax.vmap(lambda g, ss: jax.vmap(lambda r: one(r, g))(ss))(s.goals, seeds)


def _search_loss(cfg: Config, random: bool):
    m = cfg.m if random else 1
    goals = cfg.search.cells - 1

    def loss(model, batch, key):
        seeds = _node_seeds(key, (goals, m, cfg.search_seed_dim), random)
        return adversarial.q_norm(_costs(model, cfg, seeds).mean(1) / cfg.search.cells, cfg.q)

    return loss


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    random = cell["arm"] == "random"
    name = f"{cell['task']}_{cell['arm']}"
    k_init, k_learner, k_train, k_eval = rng.streams(rng.named(key, name), "init", "learner", "train", "eval")
    if cell["task"] == "colouring":
        family = graphs.SymmetricGraphs(cfg.graphs)
        model = graph_attention.GraphAttention(cfg.model, cfg.seed_dim, cfg.graphs.colours, key=k_init)
        learner = supervised.Supervised(cfg.train, _colouring_loss(family, cfg, random))
        curve = jax.tree_util.Partial(_colouring_curve, family=family, cfg=cfg, random=random)
        state = ctx.fit(name, learner, learner.init(k_learner, model), None, key=k_train, steps=cfg.train.steps,
                        evaluate=curve, eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
        ok = np.asarray(eqx.filter_jit(_colouring_eval)(state.model, family, cfg, random, k_eval))
        tries = ok.reshape(len(cfg.graphs.graphs), -1, TRIES).any(-1).mean(-1)
        return [{"graph": g, "proper": float(ok[i].mean()), "retried": float(tries[i])}
                for i, g in enumerate(cfg.graphs.graphs)]
    model = _policy(cfg, k_init)
    learner = evolution.ModelES(evolution.Antithetic(cfg.es_pairs, cfg.es_sigma), _search_loss(cfg, random),
                                cfg.es_train)
    curve = jax.tree_util.Partial(_search_curve, cfg=cfg, random=random)
    state = ctx.fit(name, learner, learner.init(k_learner, model), None, key=k_train, steps=cfg.es_train.steps,
                    evaluate=curve, eval_at=linear_steps(cfg.es_train.steps, CURVE_POINTS))
    seeds = _node_seeds(k_eval, (cfg.search.cells - 1, EVAL_SEEDS, cfg.search_seed_dim), random)
    costs = np.asarray(eqx.filter_jit(_costs)(state.model, cfg, seeds)).mean(1)
    return [{"goal": int(g), "cost": float(c)} for g, c in zip(np.asarray(cfg.search.goals), costs)]


def _by_seed(results: Results, **where) -> dict[int, list[dict]]:
    return {s: results.select(seed=s, **where) for s in results.seeds}


def expect(results: Results, cfg: Config) -> list[Check]:
    n_graphs, bound = len(cfg.graphs.graphs), cfg.search.cells - 1
    fixed, rand = _by_seed(results, task="colouring", arm="fixed"), _by_seed(results, task="colouring", arm="random")
    complete = bool(results.seeds) and all(len(fixed[s]) == len(rand[s]) == n_graphs for s in results.seeds)

    def worst(rows, key):
        return min(r[key] for r in rows) if rows else float("nan")

    ok1 = complete and all(worst(rand[s], "proper") > COLOURS_WELL and max(r["proper"] for r in fixed[s]) == 0.0
                           for s in results.seeds)
    best_fixed = {s: max((r["proper"] for r in fixed[s]), default=np.nan) for s in results.seeds}
    said1 = (f"randomized worst graph {per_seed({s: worst(rand[s], 'proper') for s in results.seeds}, '{:.3f}')}; "
             f"deterministic best graph {per_seed(best_fixed, '{:.3f}')}; with {TRIES} tries (a proper colouring is "
             f"checkable) the randomized worst graph is coloured in "
             f"{per_seed({s: worst(rand[s], 'retried') for s in results.seeds}, '{:.0%}')} of {EVAL_SEEDS // TRIES} "
             "groups")
    sf, sr = _by_seed(results, task="search", arm="fixed"), _by_seed(results, task="search", arm="random")
    done = bool(results.seeds) and all(len(sf[s]) == len(sr[s]) == bound for s in results.seeds)

    def worst_cost(rows):
        return max(r["cost"] for r in rows) if rows else float("nan")

    ok3 = done and all(worst_cost(sf[s]) >= bound and worst_cost(sr[s]) <= SEARCH_GAIN * bound
                       and worst_cost(sr[s]) < worst_cost(sf[s]) for s in results.seeds)
    said3 = "; ".join(f"seed {s}: deterministic worst {worst_cost(sf[s]):.2f} moves, randomized worst "
                      f"{worst_cost(sr[s]):.2f} (mean over goals {np.mean([r['cost'] for r in sr[s]] or [np.nan]):.2f})"
                      for s in results.seeds)
    return [
        Check(f"colouring: the deterministic model colours no graph properly; with a seed per node every graph is "
              f"coloured properly with probability > {COLOURS_WELL} (so {TRIES} tries fail with probability < "
              f"{(1 - COLOURS_WELL) ** TRIES:.0e})", ok1, said1),
        Check(f"exploration (ES): the deterministic policy's worst case is >= n - 1 = {bound} moves and the "
              f"randomized policy's worst-case expected cost is <= {SEARCH_GAIN} x {bound} and below it", ok3, said3),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = cfg.graphs.graphs
    for j, arm in enumerate(("fixed", "random")):
        vals = [[r["proper"] for r in results.select(task="colouring", arm=arm, graph=g)] or [np.nan] for g in names]
        ax_c.bar(np.arange(len(names)) + 0.4 * j, [np.mean(v) for v in vals], 0.4,
                 label={"fixed": "no seed (deterministic)", "random": "seed per node"}[arm])
    ax_c.set_xticks(np.arange(len(names)) + 0.2, names)
    ax_c.set_ylabel("probability of a proper 3-colouring")
    ax_c.legend(fontsize=8)
    goals = np.asarray(cfg.search.goals)
    for arm in ("fixed", "random"):
        for s in results.seeds:
            rows = sorted(results.select(task="search", arm=arm, seed=s), key=lambda r: r["goal"])
            if rows:
                ax_s.plot([r["goal"] for r in rows], [r["cost"] for r in rows], "o-",
                          color="C0" if arm == "fixed" else "C1", alpha=0.7,
                          label=f"{'no seed' if arm == 'fixed' else 'seed'}" if s == results.seeds[0] else None)
    ax_s.axhline(cfg.search.cells / 2, color="k", ls=":", lw=1, label="n / 2: best worst case")
    ax_s.set_xticks(goals)
    ax_s.set_xlabel("goal cell")
    ax_s.set_ylabel("expected moves to find it")
    ax_s.legend(fontsize=8)
    fig.suptitle("Symmetry breaking and exploration with a random seed")
    fig.tight_layout()
    return fig


def steps(cfg: Config, cell: dict) -> int:
    return cfg.train.steps if cell["task"] == "colouring" else cfg.es_train.steps


EXPERIMENT = Experiment(
    id="randomized_coloring_exploration",
    title="A random seed lets a model break symmetry in colouring and explore better, also when trained by ES",
    paper="von Oswald, Kobayashi, Akram, Steger 2024, Learning randomized algorithms with transformers",
    claim="An equivariant transformer cannot colour symmetric graphs but with a seed per node colours them properly "
    "with probability > 1/2, and retries make it certain; an exploring policy trained by ES on the worst-case "
    "objective uses its seed to beat every deterministic policy's worst case.",
    tiers={
        "smoke": Config(graphs=graphs.Config(graphs=("C5", "K33")), model=graph_attention.Config(width=8, heads=2,
                        layers=1), train=optim.Config(lr=3e-3, steps=10), search=ring_search.Config(cells=4, horizon=6),
                        es_train=optim.Config(lr=1e-2, steps=10), batch_size=4, m=2, es_pairs=4, policy_width=8),
        "cpu": Config(graphs=graphs.Config(), model=graph_attention.Config(), train=optim.Config(lr=1e-3, steps=3000),
                      search=ring_search.Config(), es_train=optim.Config(lr=1e-2, steps=1500)),
        "paper": Config(graphs=graphs.Config(), model=graph_attention.Config(width=64, heads=8, layers=4),
                        train=optim.Config(lr=1e-3, steps=20_000), search=ring_search.Config(cells=16, horizon=32),
                        es_train=optim.Config(lr=1e-2, steps=10_000), es_pairs=128),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=steps,
)
