"""Optimal Kronecker-sum approximation of real-time recurrent learning (Benzing, Gauy,
Mujika, Martinsson, Steger, ICML 2019): among unbiased approximations of RTRL's
sensitivity, OK(r) adds the least noise per step; its gradients are much less noisy
than UORO's and KF-RTRL's, and it learns a memorisation task further in the same number
of fully online updates.

Setup (the authors' `OK_rank_r_unbiased.py`): the gated cell of models/gated_cell.py
(n = 32 at the cpu tier, 128 in the paper; weights N(0, 0.01^2)); the estimators of
learners/rtrl.py; the string-memorisation stream of tasks/copy_stream.py (16 streams,
the curriculum raising T at 0.15 bits per character); Adam with gradient-norm clipping
at 1, one update per time step (learners/online_rtrl.py). Cells: exact RTRL (the
reference), UORO, KF-RTRL, OK(1) and OK(r) (r = 8 at the cpu tier, 16 in the paper).

Noise: along one fixed 200-step input (a string of 99 bits, then fillers; no restart),
`samples` independent sign streams of each approximation run beside exact RTRL; the
noise of G~ at the last step is E||G~ - G||^2 / ||G||^2 (in dB), and the mean's error is
compared with its standard error (unbiasedness). Each cell measures every estimator on
its own network after training, and the exact-RTRL cell also at initialisation.

Checks (each seed):
1. unbiased: every approximation's mean over the sign streams lies within 4 standard
   errors of exact RTRL (or equals it to float64 round-off, 1e-10 relative; the noise is
   measured in float64), on every network measured;
2. noise: UORO's noise is >= 10 dB (an order of magnitude) above KF's, KF's >= OK(1)'s
   and OK(1)'s above OK(r)'s, on every network measured (the paper's ordering; "much
   noisier" read as an order of magnitude);
3. learning: OK(r) reaches a longer string (T_cur) than KF and UORO, and KF at least as
   long as UORO, within the same number of online updates.

Choices: lr 1e-3 instead of the paper's 10^-3.5 and 40k updates instead of 2M (the
cpu tier); the clip is on the global norm of both weight matrices (the authors clip W's
gradient alone, after dividing it by the batch size twice, so their clip rarely acts);
the curriculum is the authors' (tasks/copy_stream.py) but tested at every step.

Measured at the cpu tier (3 seeds, 40k updates; 2260 s of compute in all, beside other
jobs; OK(8)'s training alone is about 100 s a seed): the claim holds in part.
- Unbiased: every mean within 1.9 standard errors (OK(8) on the young networks is exact
  to float64 round-off, -301 to -303 dB).
- Noise (dB of ||G||^2): at initialisation UORO +15.1 to +15.4, KF +1.6 to +2.5, OK(1)
  -32 to -34; on the trained networks UORO +26 to +47, KF and OK(1) within about 3 dB of
  each other (+1 to +24), OK(8) -1 to -118. In order on 12 of 15 networks; on three
  networks of seed 1 OK(1) is 0.5-0.8 dB noisier than KF: OK's optimality is per step,
  and the noise accumulated over 200 steps need not follow it. The check fails there.
- Strings memorised (T reached): RTRL 11 / 12 / 12, OK(8) 10 / 12 / 11, KF 9 / 8 / 7,
  OK(1) 7 / 8 / 7, UORO 3 / 4 / 4: the learning check holds, and OK(8) is close to exact
  RTRL. (With a faster curriculum average, rate 0.01 restarted at 1 bit, KF tied OK(8) in
  one seed; the authors' 0.001 and 0.3 are used now.)
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from complab import rng
from complab.config import require
from complab.experiments.base import Check, Experiment, Results
from complab.learners import online_rtrl, optim, rtrl
from complab.models.gated_cell import GatedCell
from complab.tasks import copy_stream as stream
from complab.training import linear_steps

UNBIASED_SE, ORDER_OF_MAGNITUDE_DB, ROUNDOFF = 4.0, 10.0, 1e-10
NOISE_STEPS, CURVE_POINTS = 200, 11


@dataclass(frozen=True)
class Config:
    stream: stream.Config
    train: optim.Config
    n: int = 32
    rank: int = 8  # OK(r)'s r beside OK(1)
    batch: int = 16
    samples: int = 64  # sign streams for the noise

    def __post_init__(self):
        require(self.n >= 1 and self.rank >= 2 and self.batch >= 1 and self.samples >= 2,
                f"rtrl_kronecker needs n >= 1, rank >= 2, batch >= 1 and samples >= 2; got {self}")


def estimators(cfg: Config) -> dict[str, rtrl.Estimator]:
    ests = [rtrl.Estimator("exact"), rtrl.Estimator("uoro"), rtrl.Estimator("kf"), rtrl.Estimator("ok", 1),
            rtrl.Estimator("ok", cfg.rank)]
    return {e.label: e for e in ests}


def cells(cfg: Config) -> list[dict]:
    return [{"estimator": label} for label in estimators(cfg)]


def _noise_input(key) -> jax.Array:
    t = NOISE_STEPS // 2 - 1
    bits = jax.random.bernoulli(key, 0.5, (t,)).astype(jnp.int32)
    symbols = jnp.concatenate([jnp.array([stream.START]), bits, jnp.full((NOISE_STEPS - t - 1,), stream.FILLER)])
    return jax.nn.one_hot(symbols, stream.VOCAB)


def noise(cell: GatedCell, est: rtrl.Estimator, samples: int, key) -> dict[str, jax.Array]:
    """The noise of `est` after NOISE_STEPS steps of a fixed input, against exact RTRL:
    E||G~ - G||^2 / ||G||^2 and the error of the mean over its standard error."""
    k_input, k_signs = jax.random.split(key)
    xs = _noise_input(k_input)
    exact = rtrl.Estimator("exact")
    n, a = cell.n, cell.w.shape[0]

    def body(carry, inp):
        h, g, gs = carry
        x, k = inp
        h, big_h, d, hat = cell.jacobians(h, x)
        g = rtrl.advance(exact, k, g, big_h, d, hat)
        # in groups of 16: XLA's CPU QR and SVD slow down by orders of magnitude past batch ~40
        gs = jax.lax.map(lambda kg: rtrl.advance(est, kg[0], kg[1], big_h, d, hat), (jax.random.split(k, samples), gs),
                         batch_size=16)
        return (h, g, gs), None

    gs0 = jax.vmap(lambda _: rtrl.start(est, n, a, cell.w.dtype))(jnp.arange(samples))
    carry = (cell.init_state(), rtrl.start(exact, n, a, cell.w.dtype), gs0)
    (_, g, gs), _ = jax.lax.scan(body, carry, (xs, jax.random.split(k_signs, NOISE_STEPS)))
    target = rtrl.dense(exact, g)
    draws = jax.vmap(lambda gg: rtrl.dense(est, gg))(gs)
    sq = jnp.sum((draws - target[None]) ** 2, (1, 2, 3))
    norm = jnp.sum(target**2)
    err = jnp.linalg.norm(draws.mean(0) - target)
    return {"noise_db": 10 * jnp.log10(sq.mean() / norm), "bias_se": err / jnp.sqrt(sq.mean() / samples),
            "mean_rel_error": err / jnp.sqrt(norm)}


def _noise_rows(cell: GatedCell, cfg: Config, key, network: str) -> list[dict]:
    """Every approximation's noise on `cell`, in float64 (so that an estimator exact to
    round-off, OK(r) on a young network, is told apart from a biased one)."""
    rows = []
    with jax.enable_x64(True):
        cell = jax.tree.map(lambda a: a.astype(jnp.float64), cell)
        for label, est in estimators(cfg).items():
            if est.kind == "exact":
                continue
            out = eqx.filter_jit(noise)(cell, est, cfg.samples, key)
            rows.append({"kind": "noise", "network": network, "approximation": label,
                         **{k: float(v) for k, v in out.items()}})
    return rows


def _evaluate(key, state):
    del key
    return {"t_cur": state.t_cur.astype(jnp.float32), "average_bits": state.average}


def run(cfg: Config, cell: dict, key: jax.Array, ctx) -> list[dict]:
    label = cell["estimator"]
    est = estimators(cfg)[label]
    k_init, k_train, k_noise = rng.streams(key, "init", "train", "noise")
    model = GatedCell(cfg.n, stream.VOCAB, stream.VOCAB, key=k_init)
    learner = online_rtrl.OnlineRTRL(cfg.train, est, cfg.stream, cfg.batch)
    state = ctx.fit("train", learner, learner.init(k_init, model), None, key=k_train, steps=cfg.train.steps,
                    evaluate=_evaluate, eval_at=linear_steps(cfg.train.steps, CURVE_POINTS))
    rows = [{"kind": "score", "t_cur": int(state.t_cur)}]
    rows += _noise_rows(state.cell, cfg, k_noise, label)
    if est.kind == "exact":
        rows += _noise_rows(model, cfg, k_noise, "init")
    return rows


def _labels(cfg: Config) -> tuple[str, str, str, str]:
    return "UORO", "KF", "OK(1)", f"OK({cfg.rank})"


def expect(results: Results, cfg: Config) -> list[Check]:
    uoro, kf, ok1, okr = _labels(cfg)
    approx = (uoro, kf, ok1, okr)
    networks = ["init"] + list(estimators(cfg))
    seeds = results.seeds

    def noise(seed, network):
        rows = {r["approximation"]: r for r in results.select(seed=seed, kind="noise", network=network)}
        return rows if set(rows) == set(approx) else None

    measured = {s: {n: noise(s, n) for n in networks} for s in seeds}
    complete = bool(seeds) and all(m is not None for per in measured.values() for m in per.values())
    # where the mean already equals exact RTRL to float64 round-off, standard errors are round-off too
    worst_bias = {s: max((r["bias_se"] for m in per.values() if m for r in m.values()
                          if r["mean_rel_error"] >= ROUNDOFF), default=0.0) for s, per in measured.items()}
    ok1_ = complete and all(b < UNBIASED_SE for b in worst_bias.values())
    said1 = ", ".join(f"seed {s}: worst {b:.1f} standard errors" for s, b in worst_bias.items()) or "no seed"
    said1 += f" (means within {ROUNDOFF:g} of exact RTRL count as exact)"

    def ordered(m):
        db = {a: m[a]["noise_db"] for a in approx}
        return (db[uoro] >= db[kf] + ORDER_OF_MAGNITUDE_DB and db[kf] >= db[ok1] and db[ok1] > db[okr])

    ok2 = complete and all(ordered(m) for per in measured.values() for m in per.values())
    lines = []
    for s, per in measured.items():
        for n in ("init", okr):
            m = per.get(n)
            if m:
                lines.append(f"seed {s}, {n} network: " + ", ".join(f"{a} {m[a]['noise_db']:+.1f} dB" for a in approx))
    broken = [f"seed {s} {n}" for s, per in measured.items() for n, m in per.items() if m and not ordered(m)]
    said2 = "; ".join(lines) + (f"; out of order on: {', '.join(broken)}" if broken else "; in order on all "
                                f"{sum(len(p) for p in measured.values())} networks")

    score = {s: {c["estimator"]: r["t_cur"] for c in cells(cfg)
                 for r in results.select(seed=s, kind="score", estimator=c["estimator"])} for s in seeds}
    full = bool(seeds) and all(len(v) == len(cells(cfg)) for v in score.values())
    ok3 = full and all(v[okr] > max(v[kf], v[uoro]) and v[kf] >= v[uoro] for v in score.values())
    said3 = "; ".join(f"seed {s}: " + ", ".join(f"{k} {t}" for k, t in v.items()) for s, v in score.items())
    return [
        Check(f"unbiased: every approximation's mean over {cfg.samples} sign streams lies within {UNBIASED_SE:g} "
              "standard errors of exact RTRL after 200 steps, on every network", ok1_, said1),
        Check(f"noise: UORO >= KF + {ORDER_OF_MAGNITUDE_DB:g} dB, KF >= OK(1) > {okr}, on the initial and every "
              "trained network", ok2, said2),
        Check(f"learning: in {cfg.train.steps} online updates {okr} memorises longer strings (T reached) than KF and "
              "UORO, and KF at least as long as UORO", ok3, said3),
    ]


def plot(results: Results, cfg: Config):
    import matplotlib.pyplot as plt

    fig, (ax_n, ax_t) = plt.subplots(1, 2, figsize=(11, 4.2))
    approx = _labels(cfg)
    for j, network in enumerate(["init"] + list(estimators(cfg))):
        vals = [np.mean([r["noise_db"] for r in results.select(kind="noise", network=network, approximation=a)]
                        or [np.nan]) for a in approx]
        ax_n.plot(range(len(approx)), vals, "o-", color=f"C{j}", label=f"{network} network")
    ax_n.set_xticks(range(len(approx)), approx)
    ax_n.set(ylabel="noise of G~: E||G~ - G||^2 / ||G||^2 (dB)", title="noise after 200 steps (mean over seeds)")
    ax_n.legend(fontsize=7)
    for j, c in enumerate(cells(cfg)):
        for s in results.seeds:
            try:
                steps, t = results.curve("t_cur", seed=s, estimator=c["estimator"])
            except ValueError:
                continue
            ax_t.plot(steps, t, color=f"C{j + 1}", alpha=0.7, label=c["estimator"] if s == results.seeds[0] else None)
    ax_t.set(xlabel="online update", ylabel="string length T reached", title="curriculum on string memorisation")
    ax_t.legend(fontsize=8)
    fig.suptitle("Kronecker-sum approximations of RTRL: noise and learning")
    fig.tight_layout()
    return fig


EXPERIMENT = Experiment(
    id="rtrl_kronecker",
    title="The optimal Kronecker-sum approximation of RTRL is the least noisy unbiased one and learns furthest",
    paper="Benzing, Gauy, Mujika, Martinsson, Steger 2019, Optimal Kronecker-sum approximation of real time "
    "recurrent learning",
    claim="Unbiased approximations of RTRL's sensitivity order by noise UORO >> KF >= OK(1) > OK(r), and OK(r) "
    "memorises longer strings than KF and UORO in the same number of fully online updates.",
    tiers={
        "smoke": Config(stream=stream.Config(max_length=8), train=optim.Config(lr=1e-3, steps=20, clip=1.0), n=4,
                        rank=2, batch=2, samples=4),
        "cpu": Config(stream=stream.Config(), train=optim.Config(lr=1e-3, steps=40_000, clip=1.0)),
        "paper": Config(stream=stream.Config(max_length=128), train=optim.Config(lr=10**-3.5, steps=2_000_000,
                        clip=1.0), n=128, rank=16, samples=256),
    },
    run=run,
    expect=expect,
    plot=plot,
    cells=cells,
    steps=lambda cfg, cell: cfg.train.steps,
)
