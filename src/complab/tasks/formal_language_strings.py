"""String samplers and per-position targets of the eight formal languages of
Bhattamishra, Ahuja, Goyal 2020 (the data of Irie, Csordas, Schmidhuber 2023), in NumPy:
data sets are drawn once per task from its data seed.

Each language gives `sample(rng, lo, hi)`: one string (a list of symbol ids) with
lo <= length <= hi, or None to reject and redraw, and `targets(string)`: a
[length, units] 0/1 array, the target after reading each prefix.

- parity: {0, 1}, length uniform, bits uniform; 1 unit: the prefix has an even number
  of ones (is in the language).
- aa: (aa)*, {a}; an even length uniform in the range; 1 unit: prefix in the language.
- abab: (abab)*, {a, b}; a length divisible by 4, uniform; 1 unit: prefix in the language.
- counter2 / counter3: a^n b^n (c^n), n uniform over the n whose length fits; units
  a, b, (c,) T: the symbols allowed next (T: the string may end).
- dyck1: ( ) from the PCFG S -> (S) w.p. p, SS w.p. q, empty otherwise (p 0.5,
  q 0.25), drawn until the length fits; 1 unit: ")" allowed next (depth > 0).
- shuffle2: ( ) [ ] from the same PCFG with the bracket pair uniform (so, as in the
  original generator, Dyck-2 strings, a subset of the shuffle of two Dyck-1
  languages); units ")" and "]" allowed next (each pair's own depth > 0).
- reset_dyck1: ( ) r: a random prefix of one Dyck-1 string, r, then another Dyck-1
  string (one reset per string, as in the original generator); 1 unit: brackets opened
  since the last reset are still open.

Opening brackets, always allowed next, are left out of the targets: a constant unit
carries no information and would only add a bias to learn.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from complab.errors import ConfigError

P_OPEN, P_SPLIT = 0.5, 0.25


@dataclass(frozen=True)
class Language:
    symbols: int  # input alphabet size
    units: int  # target units per position
    sample: Callable[[np.random.Generator, int, int], list[int] | None]
    targets: Callable[[list[int]], np.ndarray]
    distinct: bool  # draw each split's strings without repeats (as the original generator)


MULTIPLE = {"aa": 2, "abab": 4, "counter2": 2, "counter3": 3}  # lengths these languages allow


def _uniform_length(rng, lo, hi, multiple=1):
    first = -(-lo // multiple) * multiple
    return first + multiple * int(rng.integers(0, (hi - first) // multiple + 1))


def _membership(in_language):
    return lambda s: np.array([[in_language(s[: t + 1])] for t in range(len(s))], np.int8)


def _parity(rng, lo, hi):
    return list(rng.integers(0, 2, _uniform_length(rng, lo, hi)))


def _aa(rng, lo, hi):
    return [0] * _uniform_length(rng, lo, hi, 2)


def _abab(rng, lo, hi):
    return [0, 1] * (_uniform_length(rng, lo, hi, 4) // 2)


def _counter(k):
    def sample(rng, lo, hi):
        n = _uniform_length(rng, lo, hi, k) // k
        return [i for i in range(k) for _ in range(n)]

    def targets(s):
        n, out = s.count(0), []
        for t in range(len(s)):
            seen = s[: t + 1]
            allowed = np.zeros(k + 1, np.int8)
            current, count = seen[-1], seen.count(seen[-1])
            if current == 0:
                allowed[[0, 1]] = 1
            elif count < n:
                allowed[current] = 1
            else:
                allowed[current + 1] = 1  # the next letter, or T after the last
            out.append(allowed)
        return np.array(out)

    return sample, targets


def _dyck(rng, hi, pairs):
    """One string of the bracket PCFG, or None once it grows past `hi` symbols."""
    out, stack, budget = [], ["S"], 50 * (hi + 1)
    while stack and budget:
        budget -= 1
        top = stack.pop()
        if top != "S":
            out.append(top)
            if len(out) > hi:
                return None
            continue
        u = rng.random()
        if u < P_OPEN:
            b = int(rng.integers(0, pairs))
            out.append(2 * b)
            stack += [2 * b + 1, "S"]
        elif u < P_OPEN + P_SPLIT:
            stack += ["S", "S"]
    return out if not stack else None


def _dyck_sampler(pairs):
    def sample(rng, lo, hi):
        s = _dyck(rng, hi, pairs)
        return s if s is not None and lo <= len(s) <= hi else None

    return sample


def _depth_targets(pairs, reset=None):
    def targets(s):
        depth, out = np.zeros(pairs, int), []
        for x in s:
            if x == reset:
                depth[:] = 0
            else:
                depth[x // 2] += 1 if x % 2 == 0 else -1
            out.append((depth > 0).astype(np.int8))
        return np.array(out)

    return targets


def _reset_dyck(rng, lo, hi):
    first, second = _dyck(rng, hi, 1), _dyck(rng, hi, 1)
    if first is None or second is None:
        return None
    s = first[: int(rng.integers(0, len(first) + 1))] + [2] + second
    return s if lo <= len(s) <= hi else None


LANGUAGES = {
    "parity": Language(2, 1, _parity, _membership(lambda p: sum(p) % 2 == 0), True),
    "aa": Language(1, 1, _aa, _membership(lambda p: len(p) % 2 == 0), False),
    "abab": Language(2, 1, _abab, _membership(lambda p: len(p) % 4 == 0), False),
    "counter2": Language(2, 3, *_counter(2), False),
    "counter3": Language(3, 4, *_counter(3), False),
    "dyck1": Language(2, 1, _dyck_sampler(1), _depth_targets(1), True),
    "shuffle2": Language(4, 2, _dyck_sampler(2), _depth_targets(2), True),
    "reset_dyck1": Language(3, 1, _reset_dyck, _depth_targets(1, reset=2), True),
}


def draw(language: str, rng: np.random.Generator, n: int, lo: int, hi: int,
         exclude: set | None = None) -> list[list[int]]:
    """n strings of `language` with lengths in [lo, hi] (distinct, and none in `exclude`,
    for the languages drawn without repeats)."""
    lang, out, seen = LANGUAGES[language], [], set(exclude or ())
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 2000 * n + 100_000:
            raise ConfigError(f"{language}: could not draw {n} distinct strings of lengths {lo}-{hi}; "
                              "fewer exist (lower the data set size or widen the lengths)")
        s = lang.sample(rng, lo, hi)
        if s is None:
            continue
        if lang.distinct:
            key = tuple(s)
            if key in seen:
                continue
            seen.add(key)
        out.append([int(x) for x in s])
    return out
