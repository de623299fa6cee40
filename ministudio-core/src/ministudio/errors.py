"""Typed errors. Each says what went wrong and what to do next, and never carries a secret."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class MinistudioError(Exception):
    """Base class of every error MiniStudio raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem found in a production file."""

    path: str  # dotted field path, e.g. "scenes[0].shots[2].dialogue[0].speaker"
    message: str
    line: int | None = None  # 1-based line in the file, when known

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '<root>'}: {self.message}"


def dotted(steps: Iterable[str | int]) -> str:
    """A field path as text: ``("scenes", 0, "shots")`` -> ``scenes[0].shots``."""
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


class ProductionError(MinistudioError):
    """A production file (or Python object) is not a valid production."""

    exit_code = 2

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}; fix these and run again:\n{lines}")


class PluginError(MinistudioError):
    """The plugin set is inconsistent (for example, two plugins claim one engine id)."""


class UnknownEngineError(MinistudioError):
    """Routing names an engine that no loaded plugin provides."""

    exit_code = 2


class EngineConflictError(UnknownEngineError, PluginError):
    """Routing names an engine id that two installed plugins declare: neither is used."""


class MissingKeyError(MinistudioError):
    """An engine needs a key that is neither in the environment nor in the key store."""

    def __init__(self, engine: str, variables: list[str]) -> None:
        self.engine = engine
        self.variables = variables
        names = " or ".join(variables)
        super().__init__(
            f"engine '{engine}' needs an API key: set {names}, or store it with "
            f"`ministudio keys set {engine}`, and run again"
        )


class EngineError(MinistudioError):
    """An engine failed to render a job. `retryable` says whether trying again may help."""

    def __init__(self, engine: str, message: str, *, retryable: bool = False) -> None:
        self.engine = engine
        self.retryable = retryable
        super().__init__(f"{engine}: {message}")


class EngineRefusal(EngineError):
    """The engine refused the job (safety filter, invalid input): change the shot, do not resend."""

    def __init__(self, engine: str, reason: str) -> None:
        super().__init__(engine, f"refused: {reason}", retryable=False)
        self.reason = reason


class CapabilityError(MinistudioError):
    """A shot asks for something its engine cannot render; caught before any money is spent."""

    exit_code = 2


class MediaError(MinistudioError):
    """A media file is missing, truncated or not what it claims to be."""


class TransientError(EngineError):
    """A passing failure (429, 5xx, a dropped connection): trying again later may work.

    ``retry_after`` carries the server's hint in seconds, when it gave one.
    """

    def __init__(self, engine: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(engine, message, retryable=True)
        self.retry_after = retry_after


class WebhookRejected(EngineError):
    """A push claiming to come from an engine failed its check (unsigned, badly signed, too
    old): it is refused and nothing it names is fetched."""


class AmbiguousSubmission(EngineError):
    """A submit whose answer was lost: the engine may or may not have accepted (and billed) it.

    The core never resends such a job blindly: it looks it up (``find_video_job``) or stops.
    """

    def __init__(self, engine: str, message: str) -> None:
        super().__init__(engine, message, retryable=False)


class StoreError(MinistudioError):
    """The content store cannot be used: a shared store's bucket is missing, its credentials
    are refused or absent, its URL is unreachable, or its backend is not installed. The message
    names the store's URL without credentials and says what to fix."""
