"""The errors kerazoo raises for things a user can fix, in one place.

Each says what was wrong and what is accepted. Every kind subclasses `KerazooError` and the built-in
it replaces (`ValueError`, `KeyError`, `FileNotFoundError`, ...), so code written against the built-in
types keeps working, and a builder, `kerazoo.get` and the CLI raise the same kind for the same mistake
(a bad `variant` is a `ConfigError` from all three). The CLI prints them as one line and exits with
code 2. Importing this module imports nothing else.
"""
from __future__ import annotations

__all__ = ["KerazooError", "ConfigError", "UnknownModelError", "WeightsError", "ArtifactError", "DataError",
           "DataNotFoundError", "StrategyError", "TuningError", "ChiefUnreachableError", "RunLockedError",
           "UnknownWordError", "OutputError"]


class KerazooError(Exception):
    """Base of every error kerazoo raises on purpose (as opposed to a bug).

    Its message is one line whatever it quotes (a file name with a newline in it, a YAML value, bytes that
    are not UTF-8): control characters and lone surrogates are shown escaped (`\\n`, `\\x00`, `\\udce9`).
    """

    def __str__(self) -> str:
        return _one_line(super().__str__())


def _one_line(text: str) -> str:
    """`text` with its control characters and lone surrogates shown escaped."""
    if text.isprintable():
        return text
    return text.translate(_ESCAPES).encode("utf-8", "backslashreplace").decode("utf-8")


_ESCAPES = ({c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
            | {0x2028: "\\u2028", 0x2029: "\\u2029"})  # and the line and paragraph separators


class ConfigError(KerazooError, ValueError):
    """A builder argument, a config, an overlay or an override is unknown, of the wrong type or out of range."""


class UnknownModelError(KerazooError, ValueError):
    """The name is not in the catalogue (the message lists the closest names)."""


class WeightsError(KerazooError, ValueError):
    """Weights were asked for that do not exist or do not verify."""


class ArtifactError(WeightsError):
    """An artifact folder is missing a file, differs from its card, or cannot be written as asked."""


class DataError(KerazooError, ValueError):
    """A data file or array is not what the loader or the model expects (the message names the file)."""


class DataNotFoundError(KerazooError, FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message says what to put where."""


class StrategyError(KerazooError, ValueError):
    """A distribution strategy was asked for that this machine or this operation cannot give."""


class TuningError(KerazooError, ValueError):
    """A search cannot run as asked (unknown tuner, objective, resume mismatch, ...)."""


class ChiefUnreachableError(TuningError, ConnectionError):
    """A worker found no KerasTuner chief (oracle) at the address it was given."""


class RunLockedError(KerazooError, RuntimeError):
    """A run or search directory is in use by another live process."""


class UnknownWordError(KerazooError, KeyError):
    """A word that is not in a vocabulary (a `KeyError` whose message reads plainly)."""

    def __str__(self):
        return _one_line(str(self.args[0]) if self.args else "")


class OutputError(KerazooError, OSError):
    """A folder or file kerazoo was asked to write (an output, a store, a destination) cannot be written:
    read-only, full, or not a folder (the message names it and the system's reason)."""
