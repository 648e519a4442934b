"""Hierarchical subtask discovery with non-negative matrix factorisation (Earle, Saxe, Rosman
2018, arXiv 1708.00463).

Claim: factorising the desirability basis of a multitask linearly solvable MDP,
Z ≈ D W with D, W >= 0 (theory/lmdp.py), yields subtasks (the columns of D) that match the
rooms of a room grid world; the decomposition follows the ensemble of tasks; and the
procedure recurses (subtasks become the states of a higher-level LMDP) into a deeper
hierarchy.

Setup (SPECS "mlmdp_subtasks"; from the multitask-LMDP code of tomov/MLMDPs and tomov/RL,
which a co-worker of the authors wrote; the paper's own numbers were not retrievable):
passive random walk with weight 2 to stay and 1 to each open neighbour; every cell has its
own boundary state, reached with probability 0.05; interior reward -1; one basis task per
boundary state, so Z is 104 x 104 (interior states x tasks); lambda in {1, 5, 20, 100}.
Frobenius NMF by multiplicative updates, k = 4, best of 4 random starts of 3000 iterations
(the seed draws the starts; the LMDP itself is exact). Maps (tasks/rooms.py): Sutton's
four rooms, and the lopsided rooms (the same 104 cells in rooms of 12 / 49 / 18 / 21 that
the walls, not the quadrants, define). Our choices where the paper is silent:
- purity is the cluster purity of the room cells, each assigned to its largest factor;
- the control opens the lopsided map's inner walls (121 cells, the same room labels):
  NMF on an open grid splits space by distance, so if the factors matched the rooms there
  too, purity would not be evidence of subtasks;
- the task ensemble is restricted to the goals in rooms A and B (the spec's);
- the higher level follows tomov/RL's construction: from subtask t the walk starts where
  D's column t places it and leaves into subtask t' from state s with probability
  0.05 D[s, t'] / max D; those leaving probabilities are the level-2 passive dynamics
  (0.95 of them, 0.05 to an own boundary state), solved and factorised the same way with
  k = 2.

Checks (every map, lambda and seed):
1. Subtasks are rooms: purity >= 0.85 and the four factors' dominant rooms are the four
   rooms.
2. ... because of the walls: on the lopsided map without its inner walls purity < 0.85.
3. The factorisation is near the best low-rank one: NMF error <= 1.02 x the rank-4 SVD
   error.
4. The decomposition follows the tasks: with goals only in rooms A and B, every factor's
   dominant room is A or B, and both are covered. (This follows from where the goals are;
   it would hold on a grid without walls too: it tests the ensemble, not the rooms.)
5. Recursion: one level up, the passive dynamics among the four subtasks are the rooms'
   doorway graph: the weakest link between rooms a doorway joins is stronger than the
   strongest between rooms none joins, and that ratio is larger than on the same grid
   without inner walls (factors labelled by the walled map's rooms; distance alone gives
   a ratio of 2-3 there); the level-2 factors (k = 2) group the rooms into connected sets
   (a weak test on its own: 6 of the 7 two-way splits of a ring of four rooms are
   connected).

Measured at the cpu tier (3 seeds, 8 cells each, 18 s of compute on an idle machine; the
claim holds): purity 1.000 on both maps at every lambda and seed, the four factors on the
four rooms; without the lopsided map's inner walls purity 0.70-0.82 (on the open four-room
grid it stays 0.97-0.99: there the rooms are the quadrants, which is why the lopsided map is
the control); NMF error 1.0000-1.0019 x the rank-4 SVD error; with goals in rooms A and B
the factors split those two rooms between them (every factor's dominant room A or B); one
level up the weakest doorway link is 6.4-17x the strongest other, against 2.4-3.0x on the
grids without inner walls, and the level-2 factors pair adjacent rooms (four rooms) or
split off the 49-cell room from the chain of the other three (lopsided).
"""

import zlib
from dataclasses import dataclass

import jax
import numpy as np

from complab.rng import seed_of
from complab.config import require
from complab.experiments.base import Check, Experiment, Results
from complab.tasks import rooms as maps
from complab.theory import lmdp

PURE = 0.85
NEAR_SVD = 1.02
LINKED = 1.0  # every joined link beats every other: the level-2 graph is the doorway graph
MAPS = {"four_rooms": maps.four_rooms, "lopsided": maps.lopsided_rooms}


@dataclass(frozen=True)
class Config:
    maps: tuple[str, ...] = ("four_rooms", "lopsided")
    lams: tuple[float, ...] = (1.0, 5.0, 20.0, 100.0)
    k: int = 4
    k_upper: int = 2
    iters: int = 3000
    restarts: int = 4
    exit_prob: float = 0.05
    self_weight: float = 2.0
    reward: float = -1.0
    task_rooms: tuple[str, ...] = ("A", "B")

    def __post_init__(self):
        require(self.maps and set(self.maps) <= set(MAPS), f"maps are from {sorted(MAPS)}; got {self.maps}")
        require(all(lam > 0 for lam in self.lams) and self.lams, f"lams must be positive; got {self.lams}")
        require(self.k == 4 and self.k_upper == 2,
                f"the maps have four rooms, so k = 4 subtasks and k_upper = 2 pairs; got k={self.k}, "
                f"k_upper={self.k_upper}")
        require(self.iters >= 1 and self.restarts >= 1 and 0 < self.exit_prob < 1 and self.self_weight >= 0,
                f"iters, restarts >= 1, 0 < exit_prob < 1 and self_weight >= 0; got {self}")
        require(set(self.task_rooms) < set("ABCD") and self.task_rooms,
                f"task_rooms are some (not all) of the rooms A-D; got {self.task_rooms}")


def cells(cfg: Config) -> list[dict]:
    return [{"map": m, "lam": lam} for m in cfg.maps for lam in cfg.lams]


def _factorise(world: maps.Rooms, cfg: Config, lam: float, rng, tasks=None, every: int = 0):
    p_ii, p_ib = lmdp.passive(world.neighbours(), cfg.self_weight, cfg.exit_prob)
    z = lmdp.basis(p_ii, p_ib, cfg.reward, lam)
    z = z if tasks is None else z[:, tasks]
    d, _, err, trace = lmdp.nmf(z, cfg.k, rng, cfg.iters, cfg.restarts, every)
    return p_ii, z, d, err, trace


def _link_ratio(h, dominant, cfg: Config, adjacent) -> float:
    """How strongly the level-2 passive dynamics h link rooms a doorway joins against rooms
    none joins: the weakest joined pair over the strongest other pair (NaN unless the k
    factors sit on k different rooms)."""
    if len(set(dominant.tolist())) < cfg.k:
        return float("nan")
    link = {frozenset((int(dominant[a]), int(dominant[b]))): h[a, b] + h[b, a]
            for a in range(cfg.k) for b in range(a + 1, cfg.k)}
    return float(min(v for p, v in link.items() if p in adjacent) / max(v for p, v in link.items()
                                                                       if p not in adjacent))


def _upper(p_ii, d, dominant, cfg: Config, lam: float, rng, adjacent) -> dict:
    """Level 2: the link ratio, and its factorisation's grouping of the rooms (each room
    subtask joins its largest factor)."""
    h = lmdp.abstract(p_ii, d, cfg.exit_prob)
    z2 = lmdp.basis((1 - cfg.exit_prob) * h, cfg.exit_prob * np.eye(cfg.k), cfg.reward, lam)
    d2 = lmdp.nmf(z2, cfg.k_upper, rng, cfg.iters, cfg.restarts)[0]
    join = d2.argmax(1)
    groups = [sorted(int(dominant[t]) for t in np.flatnonzero(join == g)) for g in range(cfg.k_upper)]
    return {"upper_link_ratio": _link_ratio(h, dominant, cfg, adjacent), "upper_groups": groups,
            "upper_connected": all(g and _connected(g, adjacent) for g in groups)}


def _connected(group: list[int], adjacent) -> bool:
    seen, todo = {group[0]}, [group[0]]
    while todo:
        a = todo.pop()
        for b in group:
            if b not in seen and frozenset((a, b)) in adjacent:
                seen.add(b)
                todo.append(b)
    return len(seen) == len(group)


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    seed = seed_of(key)
    lam, world = cell["lam"], MAPS[cell["map"]]()
    rng = np.random.default_rng([seed, zlib.crc32(cell["map"].encode()), round(1000 * lam)])
    p_ii, z, d, err, trace = _factorise(world, cfg, lam, rng, every=max(1, cfg.iters // 50))
    for i, e in trace:  # no learner: the kept start's NMF error goes to the store as a curve
        ctx.store.log_curve(ctx.run, "nmf", i, {"error": e})
    dominant = lmdp.room_mass(d, world.room, cfg.k).argmax(1)
    opened = maps.without_inner_walls(world)
    p_open, _, d_open, _, _ = _factorise(opened, cfg, lam, rng)
    # the open grid's level 2, its factors labelled by the walled map's rooms (the control for check 5)
    open_ratio = _link_ratio(lmdp.abstract(p_open, d_open, cfg.exit_prob),
                             lmdp.room_mass(d_open, opened.room, cfg.k).argmax(1), cfg, world.adjacent_rooms())
    task_ids = [world.names.index(r) for r in cfg.task_rooms]
    d_ens = _factorise(world, cfg, lam, rng, tasks=np.isin(world.room, task_ids))[2]
    upper = _upper(p_ii, d, dominant, cfg, lam, rng, world.adjacent_rooms()) if len(set(dominant.tolist())) == cfg.k \
        else {"upper_link_ratio": float("nan"), "upper_groups": [], "upper_connected": False}  # no room subtasks
    return [{
        "purity": lmdp.purity(d, world.room), "dominant": dominant.tolist(),
        "nmf_error": err, "svd_error": lmdp.svd_error(z, cfg.k),
        "open_purity": lmdp.purity(d_open, opened.room),
        "ensemble_dominant": lmdp.room_mass(d_ens, world.room, cfg.k).argmax(1).tolist(), "task_rooms": task_ids,
        **upper, "upper_link_ratio_open": open_ratio,
        "factors": d.T.round(4).tolist(), "ensemble_factors": d_ens.T.round(4).tolist(),
        "open_factors": d_open.T.round(4).tolist(),
    }]


def _each(results: Results, test) -> tuple[bool, list[str]]:
    ok, bad = True, []
    for r in results.rows:
        good = bool(test(r))
        ok &= good
        if not good:
            bad.append(f"{r['map']} lambda={r['lam']:g} seed {r['seed']}")
    return ok, bad


def _range(results: Results, key: str, **where) -> str:
    v = [r[key] for r in results.select(**where) if np.isfinite(r[key])]
    return f"{min(v):.3f}-{max(v):.3f}" if v else "none"


def expect(results: Results, cfg: Config) -> list[Check]:
    def failing(bad):
        return f"; fails at {', '.join(bad[:6])}" + (" ..." if len(bad) > 6 else "") if bad else ""

    rooms_ok, bad1 = _each(results, lambda r: r["purity"] >= PURE and sorted(r["dominant"]) == list(range(cfg.k)))
    open_ok, bad2 = _each(results.__class__(results.select(map="lopsided")), lambda r: r["open_purity"] < PURE)
    has_lopsided = bool(results.select(map="lopsided"))
    svd_ok, bad3 = _each(results, lambda r: r["nmf_error"] <= NEAR_SVD * r["svd_error"])
    ens_ok, bad4 = _each(results, lambda r: set(r["ensemble_dominant"]) == set(r["task_rooms"]))
    up_ok, bad5 = _each(results, lambda r: r["upper_link_ratio"] > LINKED and r["upper_connected"]
                        and not r["upper_link_ratio"] <= r["upper_link_ratio_open"])
    by_map = "; ".join(f"{m}: purity {_range(results, 'purity', map=m)}" for m in cfg.maps)
    ratio = [r["nmf_error"] / r["svd_error"] for r in results.rows]
    return [
        Check(f"the k = {cfg.k} subtasks are the rooms: purity >= {PURE} and the factors' dominant rooms are all "
              f"four rooms, on every map, lambda and seed", bool(rooms_ok), by_map + failing(bad1)),
        Check(f"the subtasks follow the walls: without its inner walls the lopsided map's purity falls below {PURE}",
              bool(open_ok and has_lopsided),
              (f"open lopsided grid: purity {_range(results, 'open_purity', map='lopsided')}" if has_lopsided
               else "the lopsided map was not run") + failing(bad2)),
        Check(f"the factorisation is near the best rank-{cfg.k} one: NMF error <= {NEAR_SVD} x SVD error",
              bool(svd_ok), f"NMF / SVD error {min(ratio):.4f}-{max(ratio):.4f}" + failing(bad3)),
        Check(f"the decomposition follows the tasks: with goals in rooms {', '.join(cfg.task_rooms)} only, every "
              f"factor's dominant room is one of them and each is covered", bool(ens_ok),
              "dominant rooms: " + ", ".join(sorted({str(r["ensemble_dominant"]) for r in results.rows}))
              + failing(bad4)),
        Check(f"recursion: one level up, the subtasks' passive dynamics link rooms a doorway joins more than rooms "
              f"none joins, and more so than on the same grid without inner walls (the level-2 graph is the doorway "
              f"graph), and the level-2 factors (k = {cfg.k_upper}) group rooms into connected sets",
              bool(up_ok), f"weakest joined / strongest other link {_range(results, 'upper_link_ratio')}, without "
              f"inner walls {_range(results, 'upper_link_ratio_open')}; level-2 groups: "
              + ", ".join(sorted({str(r["upper_groups"]) for r in results.rows})) + failing(bad5)),
    ]


def _show(ax, world: maps.Rooms, values, title: str) -> None:
    grid = np.full((len(world.grid), len(world.grid[0])), np.nan)
    for (i, j), v in zip(world.cells, values):
        grid[i, j] = v
    ax.imshow(grid, cmap="viridis")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    lam, seed = cfg.lams[len(cfg.lams) // 2], results.seeds[0]
    panels = [(m, key) for m in cfg.maps for key in ("factors", "ensemble_factors", "open_factors")]
    fig, axes = plt.subplots(len(panels) + 1, cfg.k, figsize=(1.9 * cfg.k, 1.9 * (len(panels) + 1)))
    for row, (m, key) in zip(axes, panels):
        world = MAPS[m]() if key != "open_factors" else maps.without_inner_walls(MAPS[m]())
        r = results.select(map=m, lam=lam, seed=seed)[0]
        for t, ax in enumerate(row):
            _show(ax, world, r[key][t], f"{m} {key.replace('_', ' ')} {t}")
    purity_ax = axes[-1]
    for i, m in enumerate(cfg.maps):
        for key, ls in (("purity", "-"), ("open_purity", ":")):
            ys = [np.mean([r[key] for r in results.select(map=m, lam=la)]) for la in cfg.lams]
            purity_ax[0].plot(cfg.lams, ys, ls, marker="o", color=f"C{i}", label=f"{m} {key.replace('_', ' ')}")
    purity_ax[0].axhline(PURE, color="k", lw=0.6)
    purity_ax[0].set_xscale("log")
    purity_ax[0].set_xlabel("lambda", fontsize=7)
    purity_ax[0].set_ylabel("purity", fontsize=7)
    purity_ax[0].legend(fontsize=5)
    for i, m in enumerate(cfg.maps):
        r = results.select(map=m, lam=lam, seed=seed)[0]
        steps, err = results.curve("error", seed=seed, map=m, lam=lam, fit="nmf")
        purity_ax[1].plot(steps, err, color=f"C{i}", label=f"{m} NMF")
        purity_ax[1].axhline(r["svd_error"], color=f"C{i}", ls="--", lw=0.8, label=f"{m} rank-{cfg.k} SVD")
    purity_ax[1].set_xlabel("NMF iteration", fontsize=7)
    purity_ax[1].set_ylabel("relative error", fontsize=7)
    purity_ax[1].legend(fontsize=5)
    for ax in purity_ax[2:]:
        ax.axis("off")
    fig.suptitle(f"NMF subtasks of the multitask LMDP (lambda = {lam:g}, seed {seed})", fontsize=9)
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="mlmdp_subtasks",
    title="Hierarchical subtask discovery with non-negative matrix factorisation",
    paper="Earle, Saxe, Rosman 2018, Hierarchical subtask discovery with non-negative matrix factorization",
    claim="Non-negative factors of a multitask LMDP's desirability basis are subtasks that match the rooms of a grid "
    "world, follow the task ensemble, and recurse into a deeper hierarchy.",
    tiers={
        "smoke": Config(maps=("lopsided",), lams=(20.0,), iters=300, restarts=1),
        "cpu": Config(),
        # the paper's scale is this one; more starts and iterations at more temperatures
        "paper": Config(lams=(1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0), iters=10000, restarts=16),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    grid=("maps", "lams"),
)
