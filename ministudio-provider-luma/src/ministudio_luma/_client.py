"""The Agents API client (``luma_agents.AsyncLuma``) as ``luma`` builds it, and how its
errors map to MiniStudio's. Imported by the hooks only.

Errors (https://docs.agents.lumalabs.ai/guides/error-handling/, notes §1.5): 400/413/422 are
refusals with Luma's ``detail``; 401 is a wrong key and 403 a suspended or deactivated
client (both name LUMA_AGENTS_API_KEY); 402 is an empty balance (add funds); 429 (rate or
concurrency), 502 (upstream unavailable) and 503 (image ingestion unavailable) are worth
retrying, after ``Retry-After`` when given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import EngineError, EngineRefusal, MinistudioError, TransientError

from ministudio_luma._catalog import AGENTS, AGENTS_BASE_URL, AGENTS_KEYS, agents_spec
from ministudio_luma._errors import KeyRejected, detail, retry_after

if TYPE_CHECKING:
    from luma_agents import AsyncLuma

RETRYABLE = (429, 502, 503)  # Luma's "Retry? yes" statuses
REFUSED = (400, 413, 422)


def client(context: EngineContext, spec: EngineSpec | None = None) -> AsyncLuma:
    """A client for the render's key and ``LUMA_BASE_URL`` (from ``context.env``, never the
    process environment), with the SDK's retries off: the core retries, and only it knows
    whether a create may be sent again. ``spec``: the engine a missing key names (``luma``'s
    by default; ``luma-uni`` shares its key)."""
    import httpx
    from luma_agents import AsyncLuma
    from ministudio.http import tls_context

    key = context.key(spec or agents_spec())
    base = (context.env.get("LUMA_BASE_URL") or "").rstrip("/") or AGENTS_BASE_URL
    wait = httpx.Timeout(timeout(context), connect=5.0)
    return AsyncLuma(
        auth_token=key,
        base_url=base,
        max_retries=0,
        timeout=wait,
        # the process's shared TLS context: the SDK's own client builds a new one each time
        # (tens of milliseconds on every submit and status request)
        http_client=httpx.AsyncClient(timeout=wait, verify=tls_context(), follow_redirects=True),
    )


def timeout(context: EngineContext) -> float:
    """``LUMA_TIMEOUT``: seconds an HTTP read may take (default 60)."""
    try:
        return float(context.env.get("LUMA_TIMEOUT") or 60.0)
    except ValueError:
        return 60.0


def failure(exc: Any, what: str, engine: str = AGENTS) -> MinistudioError:
    """The typed error for an Agents API answer that is not a success (``APIStatusError``)
    to a request that creates nothing (a status, a file): refusals, keys, funds, retries;
    each names ``engine``."""
    status = int(exc.status_code)
    said = detail(exc)
    if status in (401, 403):
        hint = (
            ": the key is wrong"
            if status == 401
            else ": access denied, the client may be suspended"
        )
        return KeyRejected(engine, list(AGENTS_KEYS), status, hint)
    if status == 402:
        return EngineRefusal(
            engine,
            f"{what}: Luma says the account's balance is too low (HTTP 402): add funds at "
            f"platform.lumalabs.ai, then {'render' if engine == AGENTS else 'run'} again",
        )
    if status in REFUSED:
        return EngineRefusal(engine, f"{what}: {said} (HTTP {status})")
    if status in RETRYABLE or status >= 500:
        return TransientError(
            engine, f"{what}: {said} (HTTP {status})", retry_after=retry_after(exc)
        )
    return EngineError(engine, f"{what}: {said} (HTTP {status})")
