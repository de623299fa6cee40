"""Typed errors shared by both Luma engines: a rejected key, Luma's ``detail``, retry hints.

Both SDKs (``lumaai`` and ``luma-agents``) are Stainless-generated: an ``APIStatusError`` has
``status_code``, ``body`` (the decoded JSON) and ``response``; Luma's error bodies are
FastAPI-style ``{"detail": ...}`` (docs.agents.lumalabs.ai/guides/error-handling/: "branch on
the status code, then read `detail` for specifics"), ``detail`` a string or a list of field
errors.
"""

from __future__ import annotations

from typing import Any

from ministudio.errors import MinistudioError, MissingKeyError

DETAIL_CHARS = 500  # an error message quotes at most this much of Luma's detail


class KeyRejected(MissingKeyError):
    """Luma turned the key down (401/403): it is set, but wrong, revoked or suspended."""

    def __init__(self, engine: str, variables: list[str], status: int, hint: str = "") -> None:
        self.engine = engine
        self.variables = variables
        names = " or ".join(variables)
        MinistudioError.__init__(
            self,
            f"engine '{engine}' rejected its API key (HTTP {status}{hint}): check {names} (or "
            "the stored key: `ministudio keys list`) and run again",
        )


def detail(exc: Any) -> str:
    """Luma's words for a refused request: its ``detail`` (a string, or the messages of a
    list of field errors), else the status code. Never the request (it may hold a key)."""
    body = getattr(exc, "body", None)
    found = body.get("detail") if isinstance(body, dict) else None
    if isinstance(found, list):
        parts = []
        for item in found:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
                said = str(item.get("msg") or item.get("message") or item)
                parts.append(f"{where}: {said}" if where else said)
            else:
                parts.append(str(item))
        found = "; ".join(parts)
    if found:
        return str(found)[:DETAIL_CHARS]
    return f"HTTP {getattr(exc, 'status_code', '?')}"


def retry_after(exc: Any) -> float | None:
    """The server's ``Retry-After`` (or ``retry-after-ms``) on an error answer, in seconds."""
    from ministudio.http import retry_after as hint

    answer = getattr(exc, "response", None)
    headers = getattr(answer, "headers", None)
    return hint(headers) if headers is not None else None


def why(exc: BaseException) -> str:
    """An exception as a short clause: its type and, when it has one, its message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
