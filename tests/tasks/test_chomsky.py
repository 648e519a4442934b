"""Chomsky-hierarchy tasks: every sampler's answer checked against an independent
reference (Python arithmetic, string operations), the layout of input, empty tokens and
padding, determinism in the data seed, and the masked accuracy."""

import math

import numpy as np
import pytest

from complab.errors import ConfigError
from complab.tasks.chomsky import Chomsky, Config
from complab.tasks.chomsky_generators import TASKS

SYMBOLS = {5: "+", 6: "-", 7: "*", 8: "(", 9: ")"}


def _expression(tokens):
    return "".join(str(t) if t < 5 else SYMBOLS[t] for t in tokens)


def _le(bits):
    return sum(b << i for i, b in enumerate(bits))


def _answer(name, x):
    """The expected output (up to any end token) from the task's definition."""
    if name == "even_pairs":
        return [sum(a != b for a, b in zip(x, x[1:])) % 2]
    if name in ("modular_arithmetic", "modular_arithmetic_brackets"):
        return [eval(_expression(x)) % 5]  # noqa: S307 - digits and + - * ( ) only
    if name == "parity_check":
        return [sum(x) % 2]
    if name == "cycle_navigation":
        return [sum({0: -1, 1: 0, 2: 1}[a] for a in x) % 5]
    if name == "stack_manipulation":
        split = next((i for i, a in enumerate(x) if a >= 2), len(x))
        stack = list(reversed(x[:split]))  # top at the end
        for a in x[split:]:
            if a == 2 and stack:
                stack.pop()
            elif a in (3, 4):
                stack.append(a - 3)
        return list(reversed(stack)) + [2]
    if name == "reverse_string":
        return x[::-1]
    if name == "solve_equation":
        if len(x) < 3:
            return [0]
        lhs, rhs = x[:-2], x[-1]
        return [d for d in range(5) if eval(_expression([d if t == 10 else t for t in lhs])) % 5 == rhs]  # noqa: S307
    if name == "duplicate_string":
        return x + x
    if name == "missing_duplicate_string":
        if len(x) == 1:
            return [1]
        w = x[: len(x) // 2 * 2]
        i = w.index(2)
        half = len(w) // 2
        return [w[i + half] if i < half else w[i - half]]
    if name == "odds_first":
        return x[1::2] + x[::2]
    if name in ("binary_addition", "binary_multiplication"):
        if 2 not in x:
            return x + [2] if name == "binary_addition" else [0] * (len(x) - 1) + [2]
        i = x.index(2)
        a, b = _le(x[:i]), _le(x[i + 1:])
        v = a + b if name == "binary_addition" else a * b
        return [int(c) for c in reversed(bin(v)[2:])] + [2]
    if name == "compute_sqrt":
        root = math.isqrt(int("".join(map(str, x)), 2))
        return [int(c) for c in bin(root)[2:].zfill(-(-len(x) // 2))]
    if name == "bucket_sort":
        return sorted(x)
    raise AssertionError(name)


@pytest.mark.parametrize("name", list(TASKS))
def test_answers_match_the_definitions(name):
    task, gen = TASKS[name], np.random.default_rng(0)
    for n in list(range(1, 13)) + [40, 63]:
        for _ in range(5):
            x, y, mask = task.sample(gen, n)
            assert len(y) == len(mask) == task.output_length(n)
            assert max(x) < task.input_size and max(y) < task.output_size
            kept = [v for v, m in zip(y, mask) if m]
            want = _answer(name, x)
            if name == "solve_equation":
                assert kept[0] in want, (x, y)
            else:
                assert kept == want, (n, x, y, mask)
            if name not in ("modular_arithmetic", "solve_equation"):
                assert len(x) == n
    assert TASKS["modular_arithmetic"].sample(gen, 10)[0].__len__() == 9  # an even length loses a token


def test_layout_of_inputs_empty_answer_tokens_and_padding():
    task = Chomsky(Config(task="duplicate_string", test_lengths=(41, 60), test_buckets=2, train_size=50,
                          test_per_length=3))
    assert task.splits == ("train", "iid", "ood0", "ood1")
    assert task.cfg.split_lengths()["ood0"] == (41, 50) and task.cfg.split_lengths()["ood1"] == (51, 60)
    b = task.batch("ood1")
    lengths = np.asarray(b.info["lengths"])
    assert sorted(set(lengths)) == list(range(51, 61)) and b.x.shape[1] == 60 * 3
    for i in (0, len(lengths) - 1):
        n, valid = lengths[i], np.asarray(b.info["valid"][i])
        assert valid[: 3 * n].all() and not valid[3 * n:].any()
        assert (np.asarray(b.x[i, n: 3 * n]).argmax(-1) == 2).all()  # the empty token
        assert float(b.x[i, 3 * n:].sum()) == 0
        assert np.asarray(b.mask[i]).nonzero()[0].tolist() == list(range(n, 3 * n))
        xs, ys = np.asarray(b.x[i, :n]).argmax(-1), np.asarray(b.y[i, n: 3 * n]).argmax(-1)
        assert ys.tolist() == xs.tolist() * 2


def test_data_are_deterministic_in_the_seed():
    cfg = Config(task="bucket_sort", test_lengths=(41, 44), test_buckets=1, train_size=20, test_per_length=2)
    a, b = Chomsky(cfg), Chomsky(cfg)
    assert (np.asarray(a.batch("ood0").x) == np.asarray(b.batch("ood0").x)).all()
    c = Chomsky(Config(task="bucket_sort", test_lengths=(41, 44), test_buckets=1, train_size=20, test_per_length=2,
                       data_seed=1))
    assert not (np.asarray(a.batch("ood0").x) == np.asarray(c.batch("ood0").x)).all()


def test_accuracy_counts_only_the_positions_up_to_the_end_token():
    task = Chomsky(Config(task="binary_addition", test_lengths=(41, 44), test_buckets=1, train_size=20,
                          test_per_length=4))
    b = task.batch("ood0")
    perfect = b.y * 10.0
    assert float(task.metrics(perfect, b)["accuracy"]) == 1.0
    after_end = (b.mask > 0) & (b.info["accuracy_mask"] == 0)
    scrambled = np.where(np.asarray(after_end)[..., None], np.roll(np.asarray(perfect), 1, -1), perfect)
    assert float(task.metrics(scrambled, b)["accuracy"]) == 1.0  # beyond the end token nothing counts
    assert float(task.loss(scrambled, b)) > float(task.loss(perfect, b))  # but the loss sees it (as the papers')
    wrong = -perfect
    assert float(task.metrics(wrong, b)["accuracy"]) == 0.0


def test_impossible_parameters_are_refused():
    with pytest.raises(ConfigError, match="test_buckets"):
        Config(test_lengths=(41, 42), test_buckets=3)
    with pytest.raises(ConfigError, match="lengths must be"):
        Config(train_lengths=(0, 40))
