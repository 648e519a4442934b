"""Relational problems: held-out objects never appear in training problems, and every
problem's answer is what its rule says."""

import jax
import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks import relational as rel


@pytest.mark.parametrize("problem", list(rel.PROBLEMS))
def test_train_and_test_objects_are_disjoint_when_held_out(problem):
    task = rel.Relational(rel.Config(problem=problem, held_out=95))
    train = task.sample(jax.random.key(0), "train", 256).info["objects"]
    test = task.sample(jax.random.key(0), "test", 256).info["objects"]
    assert set(np.unique(train)) <= set(np.asarray(task.pools["train"])) and len(task.pools["train"]) == 5
    assert not set(np.unique(train)) & set(np.unique(test))
    assert len(set(map(bytes, np.asarray(rel.objects(), np.float32)))) == 100  # the objects are distinct images


def _check(problem, idx, answer):
    i = [int(v) for v in idx]
    if problem == "same_diff":
        return answer == int(i[0] == i[1])
    if problem == "rmts":
        rel_src, rel_1, rel_2 = i[0] == i[1], i[2] == i[3], i[4] == i[5]
        return rel_1 != rel_2 and answer == (0 if rel_1 == rel_src else 1) and len(set(i)) == (4 if rel_src else 5)
    if problem == "dist3":
        row1, row2, choices = i[:3], i[3:5], i[5:]
        missing = (set(row1) - set(row2)).pop()
        return len(set(row1)) == 3 and sorted(set(choices) & set(row1)) == sorted(row1) and choices[answer] == missing
    row1, row2, choices = i[:3], i[3:5], i[5:]
    same = [row1[0] == row1[1], row1[1] == row1[2], row1[0] == row1[2]]
    third = choices[answer]
    problem_objects = set(row1) | set(row2) | {third}
    return same == [row2[0] == row2[1], row2[1] == third, row2[0] == third] and len(set(choices)) == 4 and (
        not set(row1) & {row2[0], row2[1], third}) and problem_objects <= set(choices)


@pytest.mark.parametrize("problem", list(rel.PROBLEMS))
def test_every_answer_follows_the_rule_and_classes_are_balanced(problem):
    b = rel.Relational(rel.Config(problem=problem, held_out=50)).sample(jax.random.key(1), "test", 400)
    answers = np.asarray(b.info["answer"])
    assert all(_check(problem, idx, int(a)) for idx, a in zip(np.asarray(b.info["objects"]), answers))
    counts = np.bincount(answers, minlength=rel.PROBLEMS[problem][1]) / len(answers)
    assert counts.min() > 0.15  # no class dominates: chance is 1 / classes
    assert b.x.shape == (400, rel.PROBLEMS[problem][0], 64)


def test_too_many_held_out_objects_are_refused():
    with pytest.raises(ConfigError, match="held_out"):
        rel.Config(held_out=99)
