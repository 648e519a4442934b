"""User-facing errors: one sentence naming what was wrong and what is allowed.

Anything raised as a `ComplabError` is printed by the CLI as that sentence alone
(no traceback), with a non-zero exit code. Everything else is a bug and keeps its
traceback.
"""


class ComplabError(Exception):
    """Bad input or an unrecoverable condition the user can act on."""


class ConfigError(ComplabError):
    """An override names an unknown key or carries a value of the wrong type."""


class NaNLossError(ComplabError):
    """Training produced a non-finite loss."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


class CheckpointError(ComplabError):
    """A checkpoint file is damaged, foreign or inconsistent (never loaded)."""
