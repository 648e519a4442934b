import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from complab.errors import ComplabError
from complab.tasks import sraven
from complab.tasks.sraven import RULES, Config, SymbolicRaven

TASK = SymbolicRaven(Config())
PLAIN = SymbolicRaven(Config(permute_features=False))
SAMPLE = eqx.filter_jit(lambda task, key, split, n: task.sample(key, split, n))
PROBLEMS = eqx.filter_jit(lambda task, key, split, n: task.problems(key, split, n))


@jax.jit
def _instances(keys, rule):
    return jax.vmap(lambda k: sraven.rule_instance(k, rule, 3, 8))(keys)


def _follows(rule: str, rows: np.ndarray, v: int) -> bool:
    """Whether every row of one feature's [grid, grid] values obeys `rule`."""
    if rule == "constant":
        return bool((rows == rows[:, :1]).all())
    if rule.startswith("progression"):
        step = int(rule[len("progression"):])
        return bool((np.diff(rows, axis=1) % v == step % v).all())
    if rule in ("addition", "subtraction"):
        sign = 1 if rule == "addition" else -1
        return bool(((rows[:, 0] + sign * rows[:, 1:-1].sum(1)) % v == rows[:, -1]).all())
    sets = {tuple(sorted(r)) for r in rows}
    return len(sets) == 1 and len(set(rows[0])) == rows.shape[1]


def test_latent_counts_and_disjoint_held_out_combinations():
    assert len(sraven.rule_combinations(4)) == 330
    splits = {k: {tuple(r) for r in np.asarray(v)} for k, v in TASK.latents.items()}
    assert len(splits["ood"]) == 82 and splits["train"] == splits["test"] and len(splits["train"]) == 248
    assert not splits["train"] & splits["ood"]


@pytest.mark.parametrize("rule", range(len(RULES)))
def test_every_rule_instance_obeys_its_rule(rule):
    for rows in np.asarray(_instances(jax.random.split(jax.random.key(rule), 50), jnp.asarray(rule))):
        assert rows.shape == (3, 3) and rows.min() >= 0 and rows.max() < 8
        assert _follows(RULES[rule], rows, 8), (RULES[rule], rows)


def test_rules_are_distinguishable_from_each_other():
    """A constant row is not a progression, an addition row rarely a subtraction row, ..."""
    hits = np.zeros((len(RULES), len(RULES)))
    for r in range(len(RULES)):
        for rows in np.asarray(_instances(jax.random.split(jax.random.key(100 + r), 40), jnp.asarray(r))):
            hits[r] += [_follows(name, rows, 8) for name in RULES]
    off_diagonal = hits[~np.eye(len(RULES), dtype=bool)]
    assert (np.diag(hits) == 40).all() and off_diagonal.max() <= 6


def test_unpermuted_problems_follow_their_rules_feature_by_feature():
    panels, latent, rules, _ = PROBLEMS(PLAIN, jax.random.key(3), "ood", 32)
    grid, rules = np.asarray(panels).reshape(32, 3, 3, 4), np.asarray(rules)
    for b in range(32):
        assert (rules[b] == rules[b, :1]).all() and sorted(rules[b, 0]) == list(np.asarray(latent[b]))
        for f in range(4):
            assert _follows(RULES[int(rules[b, 0, f])], grid[b, :, :, f], 8)


def test_the_multiset_is_assigned_to_features_in_a_random_order():
    _, latent, rules, _ = PROBLEMS(PLAIN, jax.random.key(8), "train", 256)
    mixed = np.asarray(latent)[:, 0] != np.asarray(latent)[:, -1]
    assert (np.asarray(rules)[mixed, 0, 0] != np.asarray(latent)[mixed, 0]).mean() > 0.3  # not always ascending


def test_feature_permutation_is_per_column_and_shared_by_the_rows():
    panels, latent, rules, perms = PROBLEMS(TASK, jax.random.key(4), "train", 64)
    plain, _, plain_rules, _ = PROBLEMS(PLAIN, jax.random.key(4), "train", 64)
    a, b, perms = np.asarray(panels).reshape(64, 3, 3, 4), np.asarray(plain).reshape(64, 3, 3, 4), np.asarray(perms)
    for i in range(64):
        for c in range(3):  # column c's slot f holds feature perms[c, f], in every row
            np.testing.assert_array_equal(a[i, :, c], b[i, :, c][:, perms[i, c]])
            np.testing.assert_array_equal(np.asarray(rules)[i, c], np.asarray(plain_rules)[i, c][perms[i, c]])
    assert len({tuple(perms[i, c]) for i in range(64) for c in range(3)}) > 12  # permutations vary by column


def test_tokens_targets_and_accuracy():
    b = SAMPLE(TASK, jax.random.key(5), "ood", 16)
    assert b.x.shape == (16, 36, 8) and b.y.shape == (16, 36, 8)
    np.testing.assert_array_equal(b.x[:, :32].sum(-1), 1.0)
    assert (b.x[:, 32:] == 0).all() and (b.mask[:, 32:] == 1).all() and b.mask[:, :32].sum() == 0
    np.testing.assert_array_equal(b.y[:, 32:].sum(-1), 1.0)
    assert float(sraven.accuracy(b.y * 10.0, b, 4)) == 1.0
    wrong = b.y.at[:, -1].set(jnp.roll(b.y[:, -1], 1, axis=-1))
    assert float(sraven.accuracy(wrong, b, 4)) == 0.0
    assert float(TASK.loss(b.y * 50.0, b)) < 1e-6


def test_splits_draw_their_own_streams_and_latents():
    k = jax.random.key(6)
    train, test = SAMPLE(TASK, k, "train", 64), SAMPLE(TASK, k, "test", 64)
    assert not np.array_equal(train.x, test.x)
    ood = {tuple(r) for r in np.asarray(TASK.latents["ood"])}
    assert {tuple(r) for r in np.asarray(SAMPLE(TASK, k, "ood", 64).info["latent"])} <= ood


@pytest.mark.parametrize("kwargs, message", [
    (dict(values=4), "values >= max"), (dict(grid=2), "grid >= 3"), (dict(features=1, frac_ood=0.1), "at least one"),
])
def test_impossible_parameters_are_refused(kwargs, message):
    with pytest.raises(ComplabError, match=message):
        Config(**kwargs)
