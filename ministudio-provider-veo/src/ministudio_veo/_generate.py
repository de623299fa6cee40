"""One ``generateContent`` call for ``gemini-writer`` and ``gemini-image``: tried again on
passing failures, its errors typed. Imported by ``writer`` and ``image`` only (it imports the
SDK).

Failures (as ``judge`` maps them): 408/429/5xx and dropped connections (for a call paid per
answer, ``Call.lost``, only those that never reached Google) are tried ``ATTEMPTS`` times,
waiting what the server asks (``Retry-After``, ``RetryInfo``) or backing off, then a
``TransientError`` (the core may try again later); 401/403 or an invalid key: ``KeyRejected``;
404: an ``EngineError`` naming the model; another 4xx: an ``EngineError`` with Google's message;
a blocked prompt (``promptFeedback.blockReason``): ``EngineRefusal``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from google import genai
from google.genai import errors, types
from ministudio.errors import (
    AmbiguousSubmission,
    EngineError,
    EngineRefusal,
    MinistudioError,
    TransientError,
)
from ministudio.http import retry_after, tls_context

from ministudio_veo import GEMINI_KEYS
from ministudio_veo._errors import KeyRejected

ATTEMPTS = 4  # tries of one request on 408/429/5xx and dropped connections
BACKOFF = 0.5  # seconds before the first retry when the server gives no hint; doubles
MAX_WAIT = 30.0  # a server asking for longer than this ends the tries at once
MAX_MESSAGE = 500  # characters of Google's message kept in an error
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


@dataclass(frozen=True)
class Call:
    """Who calls and how to say what to change: ``engine`` (its id in errors), ``model`` (the
    id sent), ``pick`` (how the user picks another model), ``timeout`` (seconds)."""

    engine: str
    model: str
    pick: str
    timeout: float
    # Set for a request paid per answer: one whose answer is lost after it left is not sent
    # again; this says why (``AmbiguousSubmission``). None: sent again (a cheap text call).
    lost: Callable[[str], str] | None = None


def generate(
    call: Call,
    key: str,
    contents: list[types.Content],
    config: types.GenerateContentConfig,
    env: Mapping[str, str],
) -> types.GenerateContentResponse:
    """One ``generateContent`` to ``GEMINI_BASE_URL`` (else Google's), tried again on
    passing failures; a blocked prompt is an ``EngineRefusal``."""
    tls = tls_context()
    timeout = call.timeout
    with httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), verify=tls
    ) as http:
        options = types.HttpOptions(
            base_url=(env.get("GEMINI_BASE_URL") or "").strip().rstrip("/") or None,
            timeout=int(timeout * 1000),
            httpx_client=http,
            client_args={"verify": tls},  # the SDK's async client, never used here
        )
        client = genai.Client(api_key=key, http_options=options)
        attempt = 1
        while True:
            try:
                response = _once(client, call, contents, config)
                break
            except TransientError as failure:
                wait = (
                    failure.retry_after
                    if failure.retry_after is not None
                    else BACKOFF * 2 ** (attempt - 1)
                )
                if attempt == ATTEMPTS or wait > MAX_WAIT:
                    raise TransientError(
                        call.engine,
                        f"{str(failure).removeprefix(f'{call.engine}: ')} (after {attempt} "
                        "tries); run the command again later",
                        retry_after=failure.retry_after,
                    ) from None
            time.sleep(wait)
            attempt += 1
    refuse_if_blocked(call.engine, response)
    return response


def _once(
    client: genai.Client,
    call: Call,
    contents: list[types.Content],
    config: types.GenerateContentConfig,
) -> types.GenerateContentResponse:
    try:
        return client.models.generate_content(model=call.model, contents=contents, config=config)
    except errors.APIError as exc:
        raise failure(exc, call) from None
    except httpx.UnsupportedProtocol as exc:
        raise EngineError(call.engine, f"cannot use GEMINI_BASE_URL ({why(exc)})") from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:  # never left
        raise TransientError(call.engine, f"cannot reach Gemini ({why(exc)})") from None
    except httpx.TransportError as exc:
        if call.lost is not None:
            raise AmbiguousSubmission(call.engine, call.lost(why(exc))) from None
        raise TransientError(call.engine, f"the request to Gemini failed ({why(exc)})") from None


def failure(exc: errors.APIError, call: Call) -> MinistudioError:
    """The typed error for an HTTP error answer (no secret in it: Google's message only)."""
    code = int(exc.code or 0)
    said = f"HTTP {code} {exc.status or ''}: {(exc.message or 'no message').strip()[:MAX_MESSAGE]}"
    said = said.replace("  ", " ")
    reasons = {
        item["reason"] for item in _details(exc.details) if isinstance(item.get("reason"), str)
    }
    if code in (401, 403) or reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
        return KeyRejected(call.engine, list(GEMINI_KEYS), code)
    if code in (408, 429) or code >= 500:
        return TransientError(call.engine, said, retry_after=_retry_after(exc))
    if code == 404:
        return EngineError(
            call.engine,
            f"model '{call.model}' is unknown to the Gemini API ({said}); {call.pick}",
        )
    return EngineError(call.engine, f"Gemini refused the request ({said})")


def refuse_if_blocked(engine: str, response: types.GenerateContentResponse) -> None:
    """An ``EngineRefusal`` when Google blocked the prompt itself."""
    feedback = response.prompt_feedback
    blocked = name(feedback.block_reason) if feedback else ""
    if feedback is None or not blocked or blocked == "BLOCKED_REASON_UNSPECIFIED":
        return
    said = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
    raise EngineRefusal(
        engine, f"Gemini blocked the request ({blocked}{said}); reword what you asked for"
    )


def _details(details: Any) -> list[Mapping[str, Any]]:
    error = details.get("error") if isinstance(details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _retry_after(exc: errors.APIError) -> float | None:
    """The server's hint: ``Retry-After``, else ``RetryInfo.retryDelay``."""
    headers = getattr(exc.response, "headers", None)
    hint = retry_after(headers) if headers is not None else None
    if hint is not None:
        return hint
    for item in _details(exc.details):
        delay = item.get("retryDelay")
        match = _DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def timeout(env: Mapping[str, str], variable: str, default: float) -> float:
    """Seconds from ``env[variable]`` when it is a positive number, else ``default``."""
    try:
        value = float(env.get(variable) or default)
    except ValueError:
        return default
    return value if 0 < value <= 3600 else default


def name(value: Any) -> str:
    """An SDK enum's name (``FinishReason.SAFETY`` -> ``SAFETY``); "" for None."""
    if value is None:
        return ""
    return str(getattr(value, "value", value)).upper()


def why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def texts(parts: Iterable[types.Part]) -> str:
    """The answer's text, thoughts left out."""
    return "".join(p.text for p in parts if p.text and not p.thought)
