"""The 15 algorithmic tasks of Deletang et al. 2023 ("Neural networks and the Chomsky
hierarchy"), as used by Ruoss et al. 2023: one sampler per task, in plain Python, so a
task's data are drawn once from its data seed (tasks/chomsky.py holds the splits).

`TASKS[name]` gives the input and output vocabulary sizes, the output length for an
input length L, and `sample(rng, L) -> (inputs, outputs, accuracy_mask)`: lists of
token ids and a 0/1 list over the output positions. Definitions, as in the papers'
code (google-deepmind/neural_networks_chomsky_hierarchy):

Regular
- even_pairs: bits; the label is (#01 + #10) mod 2 over adjacent pairs (which is
  whether the first and last bits differ).
- modular_arithmetic: digits 0-4 at even positions, + - * at odd ones (an even L
  becomes L - 1 tokens), evaluated with the usual precedence, mod 5.
- parity_check: bits; the number of ones mod 2.
- cycle_navigation: actions 0, 1, 2 = a step of -1, 0, +1 on a cycle of 5; the end
  position.
Deterministic context-free (token ids: digits 0-4, + 5, - 6, * 7, ( 8, ) 9, x 10, = 11;
the original numbers them differently, which one-hot inputs do not see)
- stack_manipulation: bits of an initial stack (top first, length uniform in
  [1, L - 1]), then actions POP (2), PUSH 0 (3), PUSH 1 (4) (POP on empty does
  nothing); output the final stack top first, the end token 2, then 0s (L + 1
  outputs; accuracy up to the end token).
- reverse_string: bits reversed.
- modular_arithmetic_brackets: a random bracketed expression of exactly L tokens over
  digits 0-4, + - *, ( ); its value mod 5.
- solve_equation: a bracketed +/- expression of L - 2 tokens with one digit replaced by
  x (the position drawn uniformly, moved right cyclically to a digit), then "= r"
  (r its value mod 5); output the replaced digit.
Context-sensitive
- duplicate_string: bits, output twice (2 L outputs).
- missing_duplicate_string: w w (|w| = L // 2) with one position replaced by 2 (and a
  trailing 3 when L is odd); output the missing bit.
- odds_first: the symbols at odd (0-based) positions, then those at even positions.
- binary_addition / binary_multiplication: n 2 m (little-endian bits; |n| uniform in
  [1, L - 2], |m| = L - 1 - |n|, values uniform in [1, 2^|.| - 1]); output the sum
  (product) little-endian, the end token 2, then 0s (L + 1, resp. L outputs; accuracy
  up to the end token).
- compute_sqrt: a number uniform in [1, 2^L - 1], big-endian in L bits; output
  floor(sqrt), big-endian in ceil(L / 2) bits.
- bucket_sort: symbols 0-4, output sorted.
"""

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

MOD = 5
PLUS, MINUS, TIMES, OPEN, CLOSE, X, EQUALS = 5, 6, 7, 8, 9, 10, 11


@dataclass(frozen=True)
class Task:
    input_size: int
    output_size: int
    output_length: Callable[[int], int]
    sample: Callable[[np.random.Generator, int], tuple[list[int], list[int], list[int]]]
    level: str  # regular, dcf (deterministic context-free), cs (context-sensitive)


def _randint(rng, lo, hi):
    """Uniform in [lo, hi) for Python integers of any size (by rejection)."""
    span = hi - lo
    while True:
        v = int.from_bytes(rng.bytes(-(-span.bit_length() // 8)), "little") & ((1 << span.bit_length()) - 1)
        if v < span:
            return lo + v


def _bits(rng, n, k=2):
    return [int(b) for b in rng.integers(0, k, n)]


def _label(f):
    return lambda rng, n: (lambda x: (x, [f(x)], [1]))(_bits(rng, n))


def _modular_arithmetic(rng, n):
    n = n - 1 if n % 2 == 0 else n
    x = [int(rng.integers(0, MOD)) if i % 2 == 0 else int(rng.choice([PLUS, MINUS, TIMES])) for i in range(n)]
    total, term, sign = 0, x[0], 1
    for op, d in zip(x[1::2], x[2::2]):
        if op == TIMES:
            term *= d
        else:
            total += sign * term
            term, sign = d, (1 if op == PLUS else -1)
    return x, [(total + sign * term) % MOD], [1]


def _cycle_navigation(rng, n):
    x = _bits(rng, n, 3)
    return x, [sum(a - 1 for a in x) % MOD], [1]


def _stack_manipulation(rng, n):
    if n == 1:
        stack, actions = _bits(rng, 1), []
    else:
        size = int(rng.integers(1, n))
        stack, actions = _bits(rng, size), [int(a) for a in rng.integers(2, 5, n - size)]
    final = list(stack)
    for a in actions:
        if a == 2:
            final = final[1:]
        else:
            final = [a - 3] + final
    out = final + [2]
    mask = [1] * len(out)
    pad = n + 1 - len(out)
    return stack + actions, out + [0] * pad, mask + [0] * pad


def _bracket_expression(rng, n, mult):
    """Tokens of a random bracketed expression of exactly n tokens, and its value."""
    if n == 1:
        d = int(rng.integers(0, MOD))
        return [d], d
    if n == 2:
        d = int(rng.integers(0, MOD))
        return [MINUS, d], -d
    if n == 3:
        d = int(rng.integers(0, MOD))
        return [OPEN, d, CLOSE], d
    if n == 4:
        d = int(rng.integers(0, MOD))
        return [OPEN, MINUS, d, CLOSE], -d
    left = int(rng.integers(1, n - 3))
    a, va = _bracket_expression(rng, left, mult)
    b, vb = _bracket_expression(rng, n - 3 - left, mult)
    op = int(rng.choice([PLUS, MINUS, TIMES] if mult else [PLUS, MINUS]))
    value = va + vb if op == PLUS else va - vb if op == MINUS else va * vb
    return [OPEN] + a + [op] + b + [CLOSE], value


def _modular_arithmetic_brackets(rng, n):
    x, value = _bracket_expression(rng, n, mult=True)
    return x, [value % MOD], [1]


def _solve_equation(rng, n):
    if n < 3:
        return [0] * n, [0], [1]
    x, value = _bracket_expression(rng, n - 2, mult=False)
    i = int(rng.integers(0, len(x)))
    while x[i] >= MOD:  # move right (cyclically) to a digit
        i = (i + 1) % len(x)
    digit, x[i] = x[i], X
    return x + [EQUALS, value % MOD], [digit], [1]


def _missing_duplicate(rng, n):
    if n == 1:
        return [1], [1], [1]
    w = _bits(rng, n // 2)
    x = w + w
    i = int(rng.integers(0, len(x)))
    missing, x[i] = x[i], 2
    return x + [3] * (n % 2), [missing], [1]


def _little_endian(v, width=None):
    bits = [int(b) for b in reversed(bin(v)[2:])] if v > 0 else [0]
    return bits + [0] * ((width or len(bits)) - len(bits))


def _binary(op):
    def sample(rng, n):
        if n <= 2:
            v = _randint(rng, 0, 2 ** n - 1)
            x = _little_endian(v, n)
            out = (x if op == "add" else [0] * (n - 1)) + [2]
        else:
            a = int(rng.integers(1, n - 1))
            b = n - 1 - a
            va, vb = _randint(rng, 1, 2 ** a), _randint(rng, 1, 2 ** b)
            x = _little_endian(va, a) + [2] + _little_endian(vb, b)
            out = _little_endian(va + vb if op == "add" else va * vb) + [2]
        length = n + 1 if op == "add" else n
        return x, out + [0] * (length - len(out)), [1] * len(out) + [0] * (length - len(out))

    return sample


def _compute_sqrt(rng, n):
    v = _randint(rng, 1, 2 ** n)
    out_len = -(-n // 2)
    return [int(b) for b in bin(v)[2:].zfill(n)], [int(b) for b in bin(math.isqrt(v))[2:].zfill(out_len)], [1] * out_len


def _seq(f, k=2):
    def sample(rng, n):
        x = _bits(rng, n, k)
        out = f(x)
        return x, out, [1] * len(out)

    return sample


ONE = lambda n: 1  # noqa: E731

TASKS = {
    "even_pairs": Task(2, 2, ONE, _label(lambda x: sum(a != b for a, b in zip(x, x[1:])) % 2), "regular"),
    "modular_arithmetic": Task(9, MOD, ONE, _modular_arithmetic, "regular"),
    "parity_check": Task(2, 2, ONE, _label(lambda x: sum(x) % 2), "regular"),
    "cycle_navigation": Task(3, MOD, ONE, _cycle_navigation, "regular"),
    "stack_manipulation": Task(5, 3, lambda n: n + 1, _stack_manipulation, "dcf"),
    "reverse_string": Task(2, 2, lambda n: n, _seq(lambda x: x[::-1]), "dcf"),
    "modular_arithmetic_brackets": Task(11, MOD, ONE, _modular_arithmetic_brackets, "dcf"),
    "solve_equation": Task(12, MOD, ONE, _solve_equation, "dcf"),
    "duplicate_string": Task(2, 2, lambda n: 2 * n, _seq(lambda x: x + x), "cs"),
    "missing_duplicate_string": Task(4, 2, ONE, _missing_duplicate, "cs"),
    "odds_first": Task(2, 2, lambda n: n, _seq(lambda x: x[1::2] + x[::2]), "cs"),
    "binary_addition": Task(3, 3, lambda n: n + 1, _binary("add"), "cs"),
    "binary_multiplication": Task(3, 3, lambda n: n, _binary("mul"), "cs"),
    "compute_sqrt": Task(2, 2, lambda n: -(-n // 2), _compute_sqrt, "cs"),
    "bucket_sort": Task(5, 5, lambda n: n, _seq(sorted, k=5), "cs"),
}
