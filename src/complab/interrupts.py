"""Ctrl-C and SIGTERM, so that none is lost and none crashes the process.

During start-up (`starting_up`, around the imports of JAX and the experiments)
nothing has been stored yet, and an interrupt that lands inside an extension
module's initialisation can crash the interpreter: there the process says so and
exits at once with 130. Afterwards (`handled`, which nests) an interrupt raises
KeyboardInterrupt as usual *and* is remembered until the outermost block ends: one
that lands where Python swallows it (a finalizer, a gc callback: its unraisable
hook, which would print a traceback, only remembers it) is raised again at the next
`check` (between training chunks and between runs), and the CLI's exit
code says the command was interrupted. Outside `handled`, `check` does nothing.
"""

import contextlib
import os
import signal
import sys
import threading

_pending = False
_depth = 0


def _exit_now(signum, frame):
    os.write(2, b"complab: interrupted during start-up; nothing was stored\n")
    os._exit(130)


def _remember_and_raise(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


def _swap(handler) -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore(previous: dict) -> None:
    for s, h in previous.items():
        signal.signal(s, h)


@contextlib.contextmanager
def starting_up():
    previous = _swap(_exit_now)
    try:
        yield
    finally:
        _restore(previous)


def _unraisable(previous):
    """Python's hook for exceptions it cannot raise (in a finalizer, a gc callback): an
    interrupt there is remembered, to be raised at the next `check`, not printed."""
    def hook(unraisable):
        global _pending
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            _pending = True
        else:
            previous(unraisable)
    return hook


@contextlib.contextmanager
def handled():
    """SIGINT and SIGTERM raise KeyboardInterrupt and are remembered until the outermost block ends."""
    global _pending, _depth
    outermost = _depth == 0
    previous = _swap(_remember_and_raise) if outermost else {}
    hook = sys.unraisablehook
    if outermost:
        _pending = False
        sys.unraisablehook = _unraisable(hook)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if outermost:
            _pending = False
            _restore(previous)
            sys.unraisablehook = hook


def pending() -> bool:
    return _pending


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt came and was swallowed on its way."""
    if _pending:
        raise KeyboardInterrupt
