"""How a render fails: over budget before anything is paid, lines that could not be spoken,
shots that failed (the others kept)."""

from __future__ import annotations

from pathlib import Path

from ministudio.errors import MinistudioError
from ministudio.run.manifest import Manifest


class BudgetError(MinistudioError):
    """The render would cost more than the production's budget; nothing was spent."""

    exit_code = 2


class SpeechError(MinistudioError):
    """Some lines could not be spoken; no video was rendered (nothing was spent on it)."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        listing = "\n".join(f"  - {where}: {why}" for where, why in failures.items())
        super().__init__(
            f"{len(failures)} line(s) could not be spoken; fix the voices and run again "
            f"(lines already spoken are kept):\n{listing}"
        )


class RenderError(MinistudioError):
    """Some shots failed; the others are kept in the store and the next render reuses them.

    ``film`` is the film assembled anyway, a slate in place of each failed shot (None when
    it was not: ``RenderOptions.partial`` off, or a slate could not be made), and ``result``
    the manifest written (for a summary). The first failure's exception is the cause
    (``__cause__``, with its traceback: ``--debug`` prints it)."""

    def __init__(
        self,
        failures: dict[str, str],
        manifest: Path,
        *,
        film: Path | None = None,
        result: Manifest | None = None,
        crashed: bool = False,
    ) -> None:
        self.failures = failures
        self.film = film
        self.result = result
        listing = "\n".join(f"  - {shot}: {why}" for shot, why in failures.items())
        assembled = (
            f"; the film was assembled anyway, with a slate in place of each: {film}"
            if film is not None
            else ""
        )
        debug = " (`ministudio --debug render` prints the crash's traceback)" if crashed else ""
        super().__init__(
            f"{len(failures)} shot(s) failed{assembled}; finished shots are kept and will not "
            f"be rendered again. Fix the cause and run render again (details in {manifest})"
            f"{debug}:\n{listing}"
        )
