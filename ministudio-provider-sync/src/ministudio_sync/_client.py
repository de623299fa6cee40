"""The SDK client for one call, and sync.'s failures as MiniStudio's typed errors.

``AsyncSync`` (syncsdk 0.3.0) is built on our own ``httpx.AsyncClient``: the process's shared
TLS context, no proxies for loopback, and a response hook that keeps the last answer's
headers, because the SDK's ``ApiError`` carries only ``status_code`` and ``body`` and the
``Retry-After`` of a 429 would be lost. Requests go with ``max_retries: 0`` (the core retries).

Status codes (sync.so/docs/developer-guides/error-handling, "HTTP Status Codes"): 401 a bad
or missing key; 402 no credits or a plan limit; 413 an upload over 20 MB; 429 the rate limit
(60 a minute on POST /v2/generate) or the plan's concurrency; 500 and 503 passing. 400 is an
invalid request (the SDK's ``BadRequestError``). Error bodies are ``{message, statusCode}``
(syncsdk ``GenerationError``), ``message`` a string or a list of strings.

No message the plugin raises quotes the key: what sync. says is blanked of it first (a
server that echoes a header must not leak it into the journal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ministudio.engines import EngineContext
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)

from ministudio_sync import DEFAULT_BASE_URL, ENGINE, KEY_VAR, __version__, spec

if TYPE_CHECKING:
    import httpx
    from sync import AsyncSync

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DETAIL_CHARS = 300


class KeyRejected(MissingKeyError):
    """sync. turned the key down (401): set, but wrong or revoked."""

    def __init__(self, status: int) -> None:
        self.engine = ENGINE
        self.variables = [KEY_VAR]
        MinistudioError.__init__(
            self,
            f"engine '{ENGINE}' rejected its API key (HTTP {status}): check {KEY_VAR} (or the "
            "stored key: `ministudio keys list`) and run again",
        )


@dataclass
class Api:
    """One call's client, its key (to blank it) and the last answer's headers."""

    key: str
    base: str
    timeout: float
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, context: EngineContext) -> Api:
        env = context.env
        key = context.key(spec())
        base = (env.get("SYNC_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        return cls(key, base, seconds(env.get("SYNC_TIMEOUT"), 60.0))

    def client(self) -> tuple[AsyncSync, httpx.AsyncClient]:
        """The SDK client and its transport (close the transport after the call)."""
        import httpx
        from ministudio.http import tls_context
        from sync import AsyncSync

        async def keep(answer: httpx.Response) -> None:
            self.headers = dict(answer.headers)

        http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=5.0),
            verify=tls_context(),
            trust_env=urlsplit(self.base).hostname not in LOOPBACK,
            follow_redirects=True,
            event_hooks={"response": [keep]},
            headers={"User-Agent": f"ministudio-provider-sync/{__version__}"},
        )
        sdk = AsyncSync(api_key=self.key, base_url=self.base, httpx_client=http)
        return sdk, http

    def options(self, **headers: str) -> Any:
        """The SDK's ``request_options``: no retries, our timeout, extra headers."""
        return {
            "max_retries": 0,
            "timeout_in_seconds": int(max(1.0, self.timeout)),
            "additional_headers": dict(headers),
        }

    # -- errors -----------------------------------------------------------------------------
    def blank(self, text: str) -> str:
        from ministudio.safety.secrets import Blanker, blank

        return blank(Blanker([self.key]).blank(text))

    def detail(self, exc: Any) -> str:
        """sync.'s words for a failed answer: the body's ``message`` (and any error code),
        blanked of the key."""
        body = getattr(exc, "body", None)
        if hasattr(body, "dict") and not isinstance(body, dict):
            body = _as_dict(body)
        said: Any = None
        code: Any = None
        if isinstance(body, dict):
            said = body.get("message") or body.get("error") or body.get("detail")
            code = body.get("code") or body.get("error_code") or body.get("errorCode")
        elif isinstance(body, str):
            said = body
        if isinstance(said, list):
            said = "; ".join(str(s) for s in said)
        text = str(said or f"HTTP {getattr(exc, 'status_code', '?')}")
        if code and str(code) not in text:
            text = f"{text} ({code})"
        return self.blank(text)[:DETAIL_CHARS]

    def failure(self, exc: Any, what: str, *, submit: bool = False) -> MinistudioError:
        """The typed error for an SDK ``ApiError`` answering ``what``."""
        from ministudio.http import retry_after

        status = getattr(exc, "status_code", None) or 0
        said = self.detail(exc)
        if status == 401 or status == 403:
            return KeyRejected(status)
        if status == 402:
            return EngineError(
                ENGINE,
                f"{what}: the account cannot pay for this generation ({said}): check the plan "
                "and credits on sync.so, then run again",
            )
        if status == 429 or status == 408 or status >= 500:
            return TransientError(
                ENGINE, f"{what}: HTTP {status} ({said})", retry_after=retry_after(self.headers)
            )
        if submit and status == 409:
            # The Idempotency-Key is taken: by a request still in progress, or by one with
            # other inputs (re-signed input URLs, a new webhook URL). The docs name neither
            # answer; either way a generation may exist under the key: look it up.
            return AmbiguousSubmission(
                ENGINE,
                f"{what}: HTTP 409 ({said}): the Idempotency-Key was used before; the "
                "generation is looked up among the account's generations",
            )
        if submit and status in (400, 413, 415, 422):
            return EngineRefusal(ENGINE, f"{said} (HTTP {status})")
        return EngineError(ENGINE, f"{what}: HTTP {status} ({said})")


def seconds(value: str | None, default: float) -> float:
    try:
        return max(0.1, float(value or default))
    except ValueError:
        return default


def why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _as_dict(model: Any) -> Any:
    try:
        return model.dict()  # the SDK's models dump by alias
    except Exception:
        return None
