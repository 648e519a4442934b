"""CTL++ (Csordás, Irie, Schmidhuber, EMNLP 2022; code RobertCsordas/ctlpp,
dataset/function_interface_test_*.py), read from the authors' code.

`functions` distinct random permutations f of the `symbols` = 8 symbols. A sample is a
walk of L functions (L in `depths`) through a graph of function groups, IN -> g_1 -> ...
-> g_L -> OUT, applied to a start symbol x; the input is written with the last-applied
function first, `f_L ... f_2 f_1 x` (the authors' reversed=1), and the target is the
8-way class f_L(...f_1(x)). Variants (the authors' group plans; "restricted" edges let
a function follow a group only for some of its input symbols):

- "R" (parallel_branch): groups a, b (half the functions each). Training walks stay in
  one group (a -> a, b -> b); the held-out pattern alternates (a -> b, b -> a).
- "A" (alternate): the same groups; training walks alternate, the held-out ones repeat.
- "S" (parallel_branch_2stage): `overlap` functions form a group o, the rest are dealt in
  order to a1, a2, b1, b2 (equal quarters). Training: IN -> {a1, b1}, a1 -> a2, b1 -> b2,
  {a2, b2, o} -> {a1, b1, OUT}, and restricted edges a1 -> f, b1 -> f for each f of o:
  the i-th function of o shares `symbol_overlap` input symbols between the two sides
  (positions i.so .. (i+1).so - 1, modulo 8, of a symbol order that starts as the
  identity and is reshuffled every ceil(8 / so) functions, as the authors'), the other
  symbols split between a1 (first half) and b1. Held out: a1 -> b2 and b1 -> a2 (then
  {a2, b2} -> {a1, b1, OUT}); OUT follows a2, b2 and o only, so walks have even length.

Sizes as the authors' sampler: the training pool (`train_size` + `iid_size` samples) is
spread as evenly as possible over the depths, each depth capped at `fill_factor` of its
distinct sequences and the remainder moved to the others; samples are distinct; `iid`
takes `iid_size` of the pool (the in-distribution validation), "train" the rest plus
every depth-2 sequence of the training plan (their train_on_pairs=1) that is not in
"iid" (the authors' pairs split adds them all, so their iid split is partly trained on;
here it never is). Asking for more distinct walks than a plan has is refused. The held-out
split "ood" draws `test_size` distinct samples of the held-out plan, evenly over the
depths (fill factor 1). Choice: a walk of a given depth is drawn uniformly among the
distinct sequences of that depth (the authors draw each function uniformly among the
allowed ones, which weighs sequences by their branching); the counts come from dynamic
programming over (group, symbol, steps left).

Tokens: functions 0..F-1, symbols F..F+7, then SOS, EOS (the models' own markers, as
the authors' classifiers add them); `x` is one-hot [batch, depth_max + 3, vocab] as
SOS f_L .. f_1 x EOS with zero padding after EOS, `valid` in `info`. The answer is one
token (`y` [batch, 1, 8], mask [batch, 1]); chance is 1/8.
"""

from dataclasses import dataclass
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from complab.config import require
from complab.errors import ConfigError
from complab.tasks.base import AbstractTask, Batch, one_hot_cross_entropy, seedless

Variant = Literal["R", "A", "S"]
SPLITS = ("train", "iid", "ood")
FUNCTIONS_STREAM, SYMBOLS_STREAM, SAMPLES_STREAM = 0, 1, 2  # NumPy streams of one split seed, kept apart


@dataclass(frozen=True)
class Config:
    variant: Variant = "R"
    symbols: int = 8
    functions: int = 32
    depths: tuple[int, int] = (2, 6)  # inclusive
    train_size: int = 300_000
    iid_size: int = 1000
    test_size: int = 1000
    fill_factor: float = 0.5
    overlap: int = 0  # S: functions shared by both branches
    symbol_overlap: int = 0  # S: input symbols each shared function sees from both sides; 0: all of them
    split_seed: int = 0

    def __post_init__(self):
        require(self.variant in ("R", "A", "S"), f"the CTL++ variant is R, A or S, got {self.variant!r}")
        lo, hi = self.depths
        require(2 <= lo <= hi and self.symbols >= 2, f"CTL++ needs 2 <= depths[0] <= depths[1] and symbols >= 2; "
                f"got depths={self.depths}, symbols={self.symbols}")
        require(self.variant != "S" or hi >= 2 and any(d % 2 == 0 for d in range(lo, hi + 1)),
                f"the S variant's walks have even length; depths {self.depths} contain none")
        groups = 4 if self.variant == "S" else 2
        require(0 <= self.overlap and (self.functions - self.overlap) % groups == 0
                and self.functions - self.overlap >= groups,
                f"{self.functions} functions less overlap {self.overlap} must split into {groups} equal non-empty "
                "groups")
        require(self.variant == "S" or self.overlap == 0, "only the S variant has an overlap group")
        require(0 <= self.symbol_overlap <= self.symbols, f"symbol_overlap is in 0..{self.symbols}, got "
                f"{self.symbol_overlap}")
        require(self.train_size >= 1 and self.iid_size >= 1 and self.test_size >= 1 and 0 < self.fill_factor <= 1,
                f"CTL++ needs positive sizes and 0 < fill_factor <= 1; got {self}")


class Plan:
    """A group graph: `first` groups after IN, `edges[g]` groups after g, `last` groups
    before OUT, and `allowed[(g, f)]`: the input symbols function f accepts after g
    (absent: all)."""

    def __init__(self, groups: dict[str, list[int]], first, edges, last, allowed=None):
        self.groups, self.first, self.edges, self.last = groups, first, edges, set(last)
        self.allowed = allowed or {}

    def moves(self, group: str, symbol: int):
        """(next group, function) pairs allowed after `group` with current symbol `symbol`."""
        nxt = self.first if group == "IN" else self.edges.get(group, [])
        return [(h, f) for h in nxt for f in self.groups[h]
                if symbol in self.allowed.get((group, f), (symbol,))]


def permutations(cfg: Config) -> np.ndarray:
    """[functions, symbols]: distinct random permutations (f[i, s] = f_i(s))."""
    rng, out = np.random.default_rng([cfg.split_seed, FUNCTIONS_STREAM]), {}
    while len(out) < cfg.functions:
        p = tuple(rng.permutation(cfg.symbols))
        out.setdefault(p, len(out))
    return np.array(sorted(out, key=out.get), dtype=np.int32)


def plans(cfg: Config) -> tuple[Plan, Plan]:
    """(training plan, held-out plan) of the variant."""
    fs = list(range(cfg.functions))
    if cfg.variant in ("R", "A"):
        half = cfg.functions // 2
        g = {"a": fs[:half], "b": fs[half:]}
        repeat, alternate = {"a": ["a"], "b": ["b"]}, {"a": ["b"], "b": ["a"]}
        train, test = (repeat, alternate) if cfg.variant == "R" else (alternate, repeat)
        return Plan(g, ["a", "b"], train, ["a", "b"]), Plan(g, ["a", "b"], test, ["a", "b"])
    o, rest = fs[:cfg.overlap], fs[cfg.overlap:]
    q = len(rest) // 4
    g = {"o": o, "a1": rest[:q], "a2": rest[q:2 * q], "b1": rest[2 * q:3 * q], "b2": rest[3 * q:]}
    back = ["a1", "b1"]
    train_edges = {"a1": ["a2", "o"], "b1": ["b2", "o"], "a2": back, "b2": back, "o": back}
    test_edges = {"a1": ["b2"], "b1": ["a2"], "a2": back, "b2": back}
    return (Plan(g, back, train_edges, ["a2", "b2", "o"], _restrictions(cfg, o)),
            Plan(g, back, test_edges, ["a2", "b2"]))


def _restrictions(cfg: Config, overlap_functions: list[int]) -> dict:
    """The input symbols each shared function accepts after a1 and after b1 (S)."""
    so = cfg.symbol_overlap or cfg.symbols
    if so >= cfg.symbols:
        return {}
    rng, order, out = np.random.default_rng([cfg.split_seed, SYMBOLS_STREAM]), np.arange(cfg.symbols), {}
    for i, f in enumerate(overlap_functions):  # as the authors: windows of `so` symbols that wrap around,
        if i and i % -(-cfg.symbols // so) == 0:  # the order reshuffled every ceil(symbols / so) functions
            order = rng.permutation(cfg.symbols)
        shared = {int(order[(i * so + j) % cfg.symbols]) for j in range(so)}
        others = [s for s in range(cfg.symbols) if s not in shared]
        cut = (len(others) + 1) // 2
        out[("a1", f)], out[("b1", f)] = shared | set(others[:cut]), shared | set(others[cut:])
    return out


class Walks:
    """Uniform sampling of the distinct sequences of a plan, by counting completions."""

    def __init__(self, plan: Plan, perms: np.ndarray, max_depth: int):
        self.plan, self.perms, n_sym = plan, perms, perms.shape[1]
        self.names = ["IN", *plan.groups]
        self.count = {}  # (group, symbol, steps left) -> number of completions
        for left in range(max_depth + 1):
            for g in self.names:
                for s in range(n_sym):
                    if left == 0:
                        self.count[g, s, 0] = int(g in plan.last)
                    else:
                        self.count[g, s, left] = sum(self.count[h, int(perms[f, s]), left - 1]
                                                     for h, f in plan.moves(g, s))

    def total(self, depth: int) -> int:
        return sum(self.count["IN", s, depth] for s in range(self.perms.shape[1]))

    def draw(self, rng: np.random.Generator, depth: int) -> tuple[int, tuple[int, ...]]:
        """(start symbol, functions in order of application)."""
        n_sym = self.perms.shape[1]
        w = np.array([self.count["IN", s, depth] for s in range(n_sym)], dtype=float)
        x = s = int(rng.choice(n_sym, p=w / w.sum()))
        g, fs = "IN", []
        for left in range(depth, 0, -1):
            options = self.plan.moves(g, s)
            w = np.array([self.count[h, int(self.perms[f, s]), left - 1] for h, f in options], dtype=float)
            g, f = options[int(rng.choice(len(options), p=w / w.sum()))]
            fs.append(f)
            s = int(self.perms[f, s])
        return x, tuple(fs)

    def every(self, depth: int) -> list[tuple[int, tuple[int, ...]]]:
        """All sequences of `depth` (for depth-2 pairs)."""
        out = []

        def extend(g, s, x, fs, left):
            if left == 0:
                if g in self.plan.last:
                    out.append((x, tuple(fs)))
                return
            for h, f in self.plan.moves(g, s):
                extend(h, int(self.perms[f, s]), x, fs + [f], left - 1)

        for x in range(self.perms.shape[1]):
            extend("IN", x, x, [], depth)
        return out


def _quota(total: int, capacity: dict[int, int]) -> dict[int, int]:
    """`total` spread as evenly as possible over the depths, none above its capacity."""
    quota, left = {d: 0 for d in capacity}, total
    while left > 0:
        open_ = [d for d in capacity if quota[d] < capacity[d]]
        if not open_:
            break
        share = max(1, left // len(open_))
        for d in open_:
            add = min(share, capacity[d] - quota[d], left)
            quota[d], left = quota[d] + add, left - add
    return quota


def check_sizes(cfg: Config) -> None:
    """Refuse sizes that the plans' distinct walks cannot fill (a cheap count, no sampling)."""
    perms, depths = permutations(cfg), range(cfg.depths[0], cfg.depths[1] + 1)
    for plan, total, fill, what in zip(plans(cfg), (cfg.train_size + cfg.iid_size, cfg.test_size),
                                       (cfg.fill_factor, 1.0), ("training", "held-out")):
        walks = Walks(plan, perms, cfg.depths[1])
        have = sum(int(fill * walks.total(d)) for d in depths)
        if have < total:
            raise ConfigError(f"the {cfg.variant} variant's {what} plan with {cfg.functions} functions (overlap "
                              f"{cfg.overlap}) has {have} distinct walks of depths {cfg.depths[0]}-{cfg.depths[1]} "
                              f"within the fill factor, fewer than the {total} asked for; lower the sizes or raise the "
                              "functions or the depths")


def _sample(walks: Walks, rng, depths, total: int, fill: float) -> list:
    capacity = {d: int(fill * walks.total(d)) for d in depths}
    out = []
    for d, n in _quota(total, capacity).items():
        got = set()
        while len(got) < n:
            got.add(walks.draw(rng, d))
        out += sorted(got)
    return out


def build(cfg: Config) -> tuple[np.ndarray, dict[str, list]]:
    """(permutations, {split: [(start symbol, functions)]}), deterministic in `split_seed`."""
    check_sizes(cfg)
    perms = permutations(cfg)
    train_plan, test_plan = plans(cfg)
    depths = range(cfg.depths[0], cfg.depths[1] + 1)
    rng = np.random.default_rng([cfg.split_seed, SAMPLES_STREAM])
    seen = Walks(train_plan, perms, cfg.depths[1])
    pool = _sample(seen, rng, depths, cfg.train_size + cfg.iid_size, cfg.fill_factor)
    order = rng.permutation(len(pool))
    iid = [pool[i] for i in order[:cfg.iid_size]]
    train = [pool[i] for i in order[cfg.iid_size:]]
    have = set(pool)
    train += [p for p in seen.every(2) if p not in have]
    ood = _sample(Walks(test_plan, perms, cfg.depths[1]), rng, depths, cfg.test_size, 1.0)
    return perms, {"train": train, "iid": iid, "ood": ood}


def evaluate(perms: np.ndarray, x: int, fs: tuple[int, ...]) -> int:
    for f in fs:
        x = int(perms[f, x])
    return x


class CTLpp(AbstractTask):
    cfg: Config  # seedless: the split seed is the array below
    split_seed: Int[Array, ""]
    perms: Int[Array, "functions symbols"]
    tokens: dict[str, Int[Array, "n time"]]
    targets: dict[str, Int[Array, " n"]]
    splits: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, cfg: Config):
        self.cfg, self.split_seed = seedless(cfg), jnp.asarray(cfg.split_seed, jnp.uint32)
        perms, data = build(cfg)
        self.perms, self.splits = jnp.asarray(perms), SPLITS
        self.tokens, self.targets = {}, {}
        width, sos = cfg.depths[1] + 3, cfg.functions + cfg.symbols
        for split, items in data.items():
            tok = np.full((len(items), width), -1, np.int32)
            for i, (x, fs) in enumerate(items):
                row = [sos, *reversed(fs), cfg.functions + x, sos + 1]
                tok[i, :len(row)] = row
            self.tokens[split] = jnp.asarray(tok)
            self.targets[split] = jnp.asarray([evaluate(perms, x, fs) for x, fs in items], dtype=jnp.int32)

    @property
    def vocab(self) -> int:
        return self.cfg.functions + self.cfg.symbols + 2

    @property
    def dims(self) -> tuple[int, int]:
        return self.vocab, self.cfg.symbols

    def size(self, split: str) -> int:
        return int(self.tokens[split].shape[0])

    def batch(self, split: str, index: Int[Array, " batch"]) -> Batch:
        tok = self.tokens[split][index]
        x = jax.nn.one_hot(tok, self.vocab)  # -1 (padding) is all zeros
        y = jax.nn.one_hot(self.targets[split][index], self.cfg.symbols)[:, None]
        return Batch(x=x, y=y, mask=jnp.ones((index.shape[0], 1)),
                     info={"valid": tok >= 0, "depth": (tok >= 0).sum(-1) - 3})  # less SOS, x, EOS

    def generate(self, key: jax.Array, split: str, batch_size: int) -> Batch:
        """Samples of `split` drawn uniformly with replacement."""
        return self.batch(split, jax.random.randint(key, (batch_size,), 0, self.tokens[split].shape[0]))

    def loss(self, pred: Float[Array, "batch 1 classes"], batch: Batch) -> Float[Array, ""]:
        return one_hot_cross_entropy(pred, batch)

    def metrics(self, pred: Float[Array, "batch 1 classes"], batch: Batch) -> dict[str, Array]:
        right = (pred.argmax(-1) == batch.y.argmax(-1))[:, 0]
        return {"loss": self.loss(pred, batch), "accuracy": right.mean()}
