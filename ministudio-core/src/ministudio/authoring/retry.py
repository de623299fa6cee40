"""One engine call of an authoring command, tried again on a passing failure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ministudio.errors import TransientError

T = TypeVar("T")
ATTEMPTS = 3  # tries of one call on a TransientError
LONGEST_WAIT = 30.0  # seconds, whatever the engine asks


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """``await call()``; on a ``TransientError`` wait what the engine asked (else 1, 2, 4 s...)
    and try again, at most ``attempts`` times in all; then the last error."""
    for attempt in range(attempts - 1):
        try:
            return await call()
        except TransientError as exc:
            await anyio.sleep(min(exc.retry_after or 2.0**attempt, LONGEST_WAIT))
    return await call()
