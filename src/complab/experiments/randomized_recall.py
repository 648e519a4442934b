"""Learning randomized algorithms with transformers (von Oswald, Kobayashi, Akram,
Steger 2024): associative recall with a memory too small for the input.

Claim: a model given a random seed beside its input and trained on a relaxed
worst-case objective (a q-norm over inputs of the mean loss over m seeds per input,
learners/adversarial.py) learns to use the seed: where a deterministic model fails
completely on some inputs, the randomized one succeeds on every input with
probability > 0 and has the better worst-case (95th-percentile) loss; a majority vote
over seeds amplifies its success; average-case training (q = 1) gives no reason to
use the seed.

Setup: tasks/associative_recall.py (N = 8 one-hot keys in random order, values in
{-1, +1}^8, one query) and models/seeded_memory.py (a linear-attention memory of key
width M = 4 < N whose keys and queries are MLP features of the key and the seed; 16
one-hot seeds). Squared error at the query, Adam. Arms: a fixed seed trained at q = 1
and at q = 8 (deterministic), fresh seeds at q = 8 with m = 8 (randomized), and fresh
seeds at q = 1 (the ablation).

Evaluation on 1,024 fixed inputs, each under 32 fresh seeds (a deterministic arm
always sees its one seed): per input the mean squared error and the probability of
exact recall (every bit's sign right); the 95th percentile over inputs of the former,
the share of inputs never recalled, and the recall of a majority vote (the sign of the
summed predictions) over 16 seeds.

Checks (each seed; levels from the claim's direction, ours where the paper gives none):
1. The randomized arm's 95th-percentile loss is below both deterministic arms', and
   the share of inputs it never recalls (in `eval_seeds` seeds) is at most half theirs,
   having learned (mean error <= 0.75: seeds alone spread an untrained model's misses).
2. A majority vote over 16 seeds recalls >= 90% of the inputs for the randomized arm,
   above its single-seed recall (a deterministic arm's vote is its recall).
3. Ablation: fresh seeds trained at q = 1 gain <= 0.1 from the vote (the seed unused),
   having learned as much as the fixed-seed q = 1 arm (mean error within 0.05).
4. The same randomized arm trained by ES (learners/evolution.ModelES, 32 antithetic
   pairs, Adam on the estimates) also passes 1 and 2's levels.
5. The specs' worst-case level: one seed of the randomized arm recalls every query key
   with probability >= M / (2N) (half of what storing a random M-subset gives), and
   the deterministic arms' worst key is <= 0.05.

Choices where the paper leaves room (its Appendix E was not retrievable): the model
is the memory part of a linear transformer only (one layer, MLP feature maps), the seed
is one of 16 one-hot codes rather than a Gaussian vector, N = 8 and M = 4 at the cpu
tier.

Measured at the cpu tier (3 seeds; 31 min wall beside another run, about 8 min a seed
alone, 6 of them the ES arm): checks 1-3 hold, 4 and 5 do not. The randomized arm's
95th-percentile error is 0.577-0.581 against 1.07-1.12 (fixed, q = 1) and 0.79-0.83
(fixed, q = 8); it never recalls 5.8-6.8% of the inputs in 32 seeds against 58-67% and
89-91%; its vote recalls 0.997-1.000 from a single-seed recall of 0.19. Average-case
training with seeds ignores them (vote gain 0.001-0.022). ES (8,000 steps) also
randomizes (p95 0.73, never 3-5%) but its vote reaches 0.924, 0.915, 0.876: short of 0.9
on seed 2. The specs' worst-key level is not met: the randomized arm's worst key is
recalled by one seed with probability 0.14-0.18, not >= 0.25, because under squared
error it hedges within each seed (recall 0.19 on average) instead of storing a clean
random M-subset (which gives 0.5); the fixed q = 8 arm's worst key is 0.050-0.064, just
above 0.05. At the paper tier (N = 20, M = 8, one seed on an H200, before the ES arm
and with 32 evaluation seeds) the p95 error is 0.657 against 1.032 / 0.855 and the vote
0.985 from a single-seed recall of 0.019; with recall that low, 32 seeds could not tell
"never" from "rarely" (64% against 88% / 99%), so that tier now evaluates 256.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results
from complab.learners import adversarial, evolution, optim, supervised
from complab.models import seeded_memory
from complab.tasks import associative_recall as recall
from complab.training import linear_steps

ARMS = {  # name: (random seeds, q, seeds per input)
    "fixed_q1": (False, 1.0, 1),
    "fixed_q8": (False, 8.0, 1),
    "random_q8": (True, 8.0, 8),
    "random_q1": (True, 1.0, 8),
    "random_q8_es": (True, 8.0, 8),  # trained by ES
}
DETERMINISTIC = ("fixed_q1", "fixed_q8")
RANDOMIZED = ("random_q8", "random_q8_es")
VOTE_SEEDS = 16
VOTED, UNUSED, LEARNED = 0.9, 0.1, 0.05
WORST_KEY, DETERMINISTIC_KEY = 0.5, 0.05  # the specs' worst-key levels: >= 0.5 M / N randomized, <= 0.05 deterministic
CURVE_POINTS, CURVE_INPUTS = 11, 256


@dataclass(frozen=True)
class Config:
    task: recall.Config
    model: seeded_memory.Config
    train: optim.Config
    es_train: optim.Config  # the ES arm's optimizer on its estimates
    q: float = 8.0  # the worst-case arms' q
    m: int = 8  # seeds per input in training
    batch_size: int = 256
    es_pairs: int = 32  # antithetic pairs per ES step (2 x pairs losses)
    es_sigma: float = 0.05
    es_batch: int = 128
    eval_inputs: int = 1024
    eval_seeds: int = 32  # seeds per evaluation input: resolves recall probabilities down to ~1 / eval_seeds

    def __post_init__(self):
        require(self.q >= 1 and min(self.m, self.batch_size, self.es_pairs, self.es_batch) >= 1 and self.es_sigma > 0
                and self.eval_inputs >= 20 and self.eval_seeds >= VOTE_SEEDS,
                f"q must be >= 1, m, batch sizes and es_pairs >= 1, es_sigma > 0, eval_inputs >= 20 and eval_seeds >= "
                f"{VOTE_SEEDS}; got {self}")

    def arm(self, name: str) -> tuple[bool, float, int]:
        random, q, m = ARMS[name]
        return random, (self.q if q > 1 else 1.0), (self.m if random else 1)


def cells(cfg: Config) -> list[dict]:
    return [{"arm": a} for a in ARMS]


def _squared(pred, target):
    return jnp.mean((pred - target) ** 2, -1)


def evaluate(model, task: recall.AssociativeRecall, random: bool, key: jax.Array, n: int,
             n_seeds: int) -> dict[str, np.ndarray]:
    """Per input: mean error and recall probability over `n_seeds` seeds, and a majority vote's recall."""
    batch = task.sample(key, "test", n)
    seeds = task.seeds(rng.named(key, "seeds"), (n, n_seeds)) if random else task.fixed_seed((n, n_seeds))
    pred = adversarial.predict_seeded(model, batch.x, seeds)  # [n, seeds, V]
    target = batch.y[:, -1]
    r = recall.recall(pred, target[:, None])
    vote = recall.recall(pred[:, :VOTE_SEEDS].sum(1), target)["success"]
    return {"error": r["error"].mean(1), "success": r["success"].mean(1), "vote": vote,
            "query_key": batch.info["query_key"]}


def _curve(key, state, task, random, n_seeds):
    """Worst-case loss, recall, vote and never-recalled share on fixed inputs (the key is fixed)."""
    del key
    ev = evaluate(state.model, task, random, jax.random.key(0), CURVE_INPUTS, n_seeds)
    return {"p95_error": jnp.percentile(ev["error"], 95), "success": ev["success"].mean(), "vote": ev["vote"].mean(),
            "never": jnp.mean(ev["success"] == 0)}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    arm = cell["arm"]
    random, q, m = cfg.arm(arm)
    task = recall.AssociativeRecall(cfg.task)
    k_init, k_learner, k_train, k_eval = rng.streams(key, "init", "learner", "train", "eval")
    t = cfg.task
    model = seeded_memory.SeededMemory(cfg.model, t.keys, t.value_bits, t.seed_width, key=rng.named(k_init, arm))
    draw = task.seeds if random else (lambda k, shape: task.fixed_seed(shape))
    loss = adversarial.seeded_loss(_squared, draw, q, m)
    if arm.endswith("_es"):
        learner = evolution.ModelES(evolution.Antithetic(cfg.es_pairs, cfg.es_sigma), loss, cfg.es_train)
        n_steps, batch_size = cfg.es_train.steps, cfg.es_batch
    else:
        learner, n_steps, batch_size = supervised.Supervised(cfg.train, loss), cfg.train.steps, cfg.batch_size
    curve = jax.tree_util.Partial(_curve, task=task, random=random, n_seeds=cfg.eval_seeds)
    state = ctx.fit(arm, learner, learner.init(k_learner, model), task, key=k_train, steps=n_steps,
                    batch_size=batch_size, evaluate=curve, eval_at=linear_steps(n_steps, CURVE_POINTS))
    ev = {k: np.asarray(v) for k, v in eqx.filter_jit(evaluate)(state.model, task, random, k_eval, cfg.eval_inputs,
                                                                  cfg.eval_seeds).items()}
    per_key = [float(ev["success"][ev["query_key"] == k].mean()) for k in range(t.keys)]
    return [{"p95_error": float(np.percentile(ev["error"], 95)), "mean_error": float(ev["error"].mean()),
             "success": float(ev["success"].mean()), "never": float(np.mean(ev["success"] == 0)),
             "vote": float(ev["vote"].mean()), "worst_key": min(per_key), "per_key": per_key}]


def _row(results: Results, arm: str, seed: int) -> dict | None:
    rows = results.select(arm=arm, seed=seed)
    return rows[0] if rows else None


def _beats_deterministic(by: dict, arm: str) -> bool:
    """Better in the worst case, having learned (mean error <= 0.75; an untrained model's is about 1, and seeds
    alone spread an untrained model's failures over inputs)."""
    det = [by[a] for a in DETERMINISTIC]
    return by[arm]["p95_error"] < min(r["p95_error"] for r in det) and \
        by[arm]["never"] <= 0.5 * min(r["never"] for r in det) and by[arm]["mean_error"] <= 0.75


def _amplified(by: dict, arm: str) -> bool:
    return by[arm]["vote"] >= VOTED and by[arm]["vote"] > by[arm]["success"]


def expect(results: Results, cfg: Config) -> list[Check]:
    seeds = results.seeds
    rows = {s: {a: _row(results, a, s) for a in ARMS} for s in seeds}
    complete = bool(seeds) and all(all(r is not None for r in by.values()) for by in rows.values())

    def each(test, say) -> tuple[bool, str]:
        if not complete:
            missing = {s: sorted(a for a, r in by.items() if r is None) for s, by in rows.items()}
            return False, "an arm did not run: " + ", ".join(f"seed {s}: {m}" for s, m in missing.items())
        return all(bool(test(by)) for by in rows.values()), "; ".join(f"seed {s}: {say(by)}" for s, by in rows.items())

    def worst(arms):
        return lambda by: ", ".join(f"{a} p95 error {by[a]['p95_error']:.3f}, never recalled {by[a]['never']:.1%}"
                                    for a in arms)

    def votes(arms):
        return lambda by: ", ".join(f"{a} recall {by[a]['success']:.3f} -> vote {by[a]['vote']:.3f}" for a in arms)

    q, n = f"{cfg.q:g}", cfg.eval_seeds
    gd = ("random_q8",) + DETERMINISTIC
    ok1, said1 = each(lambda by: _beats_deterministic(by, "random_q8"), worst(gd))
    ok2, said2 = each(lambda by: _amplified(by, "random_q8"), votes(gd))
    ok3, said3 = each(lambda by: by["random_q1"]["vote"] - by["random_q1"]["success"] <= UNUSED
                      and by["random_q1"]["mean_error"] <= by["fixed_q1"]["mean_error"] + LEARNED
                      and by["fixed_q1"]["mean_error"] <= 0.75,
                      lambda by: votes(("random_q1",))(by) + f", never recalled {by['random_q1']['never']:.1%}, mean "
                      f"error {by['random_q1']['mean_error']:.3f} (fixed_q1 {by['fixed_q1']['mean_error']:.3f})")
    ok4, said4 = each(lambda by: _beats_deterministic(by, "random_q8_es") and _amplified(by, "random_q8_es"),
                      lambda by: worst(("random_q8_es",))(by) + "; " + votes(("random_q8_es",))(by))
    level = WORST_KEY * cfg.model.key_width / cfg.task.keys
    ok5, said5 = each(lambda by: by["random_q8"]["worst_key"] >= level
                      and all(by[a]["worst_key"] <= DETERMINISTIC_KEY for a in DETERMINISTIC),
                      lambda by: ", ".join(f"{a} {by[a]['worst_key']:.3f}" for a in gd))
    return [
        Check(f"the randomized model (seeds, q = {q}) has a lower 95th-percentile loss than the deterministic ones "
              f"(q = 1 and q = {q}) and at most half as many inputs never recalled (in {n} seeds), having learned "
              "(mean error <= 0.75)", ok1, said1),
        Check(f"a majority vote over {VOTE_SEEDS} seeds recalls >= {VOTED:.0%} of the inputs for the randomized model, "
              "above its single-seed recall", ok2, said2),
        Check(f"ablation: with seeds but average-case training (q = 1) the vote gains <= {UNUSED} (the seed is not "
              f"used), the model having learned (mean error within {LEARNED} of the fixed-seed q = 1 model's, which is "
              "<= 0.75; an untrained one's is about 1)", ok3, said3),
        Check("trained by ES instead, the randomized model also beats the deterministic ones in the worst case and "
              f"its vote recalls >= {VOTED:.0%}", ok4, said4),
        Check(f"worst query key, the specs' level: one seed of the randomized model recalls every key with probability "
              f">= {WORST_KEY} M / N = {level:.3f}; the deterministic models' worst key <= {DETERMINISTIC_KEY}",
              ok5, said5),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    seeds = results.seeds
    fig, (ax_key, ax_bar) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, arm in enumerate(ARMS):
        per = np.array([r["per_key"] for s in seeds for r in results.select(arm=arm, seed=s)])
        if len(per):
            ax_key.plot(np.sort(per, 1).mean(0), "o-", color=f"C{i}", label=arm)
    ax_key.set_xlabel("query key, from worst recalled to best")
    ax_key.set_ylabel("probability of exact recall (one seed)")
    ax_key.legend(fontsize=8)
    names = ("success", "vote", "never")
    for j, name in enumerate(names):
        means = [np.mean([r[name] for r in results.select(arm=a)] or [np.nan]) for a in ARMS]
        ax_bar.bar(np.arange(len(ARMS)) + 0.27 * j, means, 0.27,
                   label={"success": "recall, one seed", "vote": f"recall, vote of {VOTE_SEEDS} seeds",
                          "never": "inputs never recalled"}[name])
    ax_bar.set_xticks(np.arange(len(ARMS)) + 0.27, list(ARMS), fontsize=8)
    ax_bar.legend(fontsize=8)
    t = cfg.task
    fig.suptitle(f"Associative recall, {t.keys} keys, memory of key width {cfg.model.key_width} ({len(seeds)} seeds)")
    fig.tight_layout()
    return fig


def steps(cfg: Config, cell: dict) -> int:
    return cfg.es_train.steps if cell["arm"].endswith("_es") else cfg.train.steps


EXPERIMENT = Experiment(
    id="randomized_recall",
    title="Transformers learn to use a random seed when trained for the worst case",
    paper="von Oswald, Kobayashi, Akram, Steger 2024, Learning randomized algorithms with transformers",
    claim="Given a random seed and trained on a relaxed worst-case objective, a recall model with too small a memory "
    "randomizes which keys it keeps: unlike a deterministic model it recalls every input with probability > 0, has "
    "the better 95th-percentile loss, and a majority vote over seeds amplifies it; average-case training ignores "
    "the seed.",
    tiers={
        "smoke": Config(task=recall.Config(keys=4, value_bits=2, seed_count=4), model=seeded_memory.Config(
            key_width=2, hidden=8), train=optim.Config(lr=3e-3, steps=20), es_train=optim.Config(lr=1e-2, steps=10),
            batch_size=16, es_pairs=4, es_batch=8, eval_inputs=32, eval_seeds=16),
        "cpu": Config(task=recall.Config(), model=seeded_memory.Config(), train=optim.Config(lr=3e-3, steps=4000),
                      es_train=optim.Config(lr=1e-2, steps=8000)),
        "paper": Config(task=recall.Config(keys=20, value_bits=16, seed_count=64), model=seeded_memory.Config(
            key_width=8, hidden=256), train=optim.Config(lr=1e-3, steps=50_000),
            es_train=optim.Config(lr=1e-2, steps=100_000), batch_size=1024, es_pairs=128, es_batch=512,
            eval_inputs=8192, eval_seeds=256),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=steps,
)
