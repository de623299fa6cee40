"""The plugin's own error: Google turned the credentials down. SDK-free."""

from __future__ import annotations

from ministudio.errors import MinistudioError, MissingKeyError


class KeyRejected(MissingKeyError):
    """Google turned the key or credentials down (401/403, or an invalid API key)."""

    def __init__(self, engine: str, variables: list[str], status: int) -> None:
        self.engine = engine
        self.variables = variables
        MinistudioError.__init__(
            self,
            f"engine '{engine}' was refused access (HTTP {status}): check "
            f"{' or '.join(variables)} (or the stored key: `ministudio keys list`) and run again",
        )
