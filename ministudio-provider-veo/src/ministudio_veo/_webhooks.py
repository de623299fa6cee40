"""Gemini API webhooks: verify the push, then turn its event into a thin status.

Google's webhook guide (https://ai.google.dev/gemini-api/docs/webhooks) follows the Standard
Webhooks spec: headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

- Static (project) webhooks sign with HMAC-SHA256 and the ``whsec_`` secret Google shows once
  when the webhook is made: set it as ``GEMINI_WEBHOOK_SECRET``. Checked by the
  ``standardwebhooks`` package, which also refuses a timestamp over 5 minutes off (the
  guide's advice).
- Dynamic (per-request, ``webhook_config``) webhooks carry an RS256 JWT in
  ``webhook-signature``, checked against Google's key set (``GEMINI_WEBHOOK_JWKS_URL``,
  default below: the URL all the guide's samples use). Its claims are not documented: when
  they carry the event (a ``type``), the JWT's event is used and the body ignored; otherwise
  the body's event, and an ``exp`` claim, when present, must not have passed. The audience
  is not checked (Google documents no value for it).

Events are thin ("a snapshot containing status details and pointers"): ``data.id`` names the
interaction (or Veo operation); the core then asks the engine for it once, at once, and
trusts nothing else the push says. Runs in a worker thread: a key-set fetch may block, for
at most ``JWKS_TIMEOUT`` seconds.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any

from ministudio.errors import WebhookRejected
from ministudio.jobs import JobStatus

JWKS_URL = "https://generativelanguage.googleapis.com/.well-known/jwks.json"
JWKS_TIMEOUT = 5.0  # seconds for a key-set fetch
JWKS_LIFESPAN = 300.0  # seconds a fetched key set is reused
TOLERANCE = 300  # seconds: a push older (or newer) than this is stale
EVENTS = (
    "interaction.completed",
    "interaction.failed",
    "interaction.cancelled",
    "video.generated",  # Veo operations
)
JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")

_clients: dict[str, Any] = {}  # JWKS URL -> PyJWKClient (it caches the key set)
_warmed: set[str] = set()  # key-set URLs fetched (or being fetched) ahead of the pushes
_lock = threading.Lock()


def parse(
    engine: str, body: bytes, headers: Mapping[str, str], env: Mapping[str, str]
) -> JobStatus | None:
    """The push as a thin status for the job it names; None for an event this
    engine does not act on. Raises ``WebhookRejected`` for an unsigned, forged or stale push."""
    event = verify(engine, body, headers, env)
    kind = event.get("type")
    if kind not in EVENTS:
        return None
    data = event.get("data")
    job_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(job_id, str) or not job_id:
        return None
    return JobStatus(job_id=job_id, state="running", thin=True)


def verify(
    engine: str, body: bytes, headers: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, Any]:
    """The verified event (a JSON object), or ``WebhookRejected`` saying why not."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("webhook-signature", "").strip()
    if not signature:
        raise WebhookRejected(engine, "unsigned push (no webhook-signature header)")
    if JWT.match(signature):
        return _dynamic(engine, signature, body, env)
    return _static(engine, body, lowered, env)


def _static(
    engine: str, body: bytes, headers: dict[str, str], env: Mapping[str, str]
) -> dict[str, Any]:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    secret = (env.get("GEMINI_WEBHOOK_SECRET") or "").strip()
    if not secret:
        raise WebhookRejected(
            engine,
            "a push signed with a webhook secret arrived, but GEMINI_WEBHOOK_SECRET is not set: "
            "set it to the webhook's signing secret (whsec_...)",
        )
    try:
        checker = Webhook(secret)
    except Exception as exc:  # a malformed secret (bad base64, empty)
        raise WebhookRejected(
            engine, f"GEMINI_WEBHOOK_SECRET is not a signing secret ({type(exc).__name__})"
        ) from None
    try:
        event = checker.verify(body, headers)
    except WebhookVerificationError as exc:
        raise WebhookRejected(engine, f"bad or stale signature ({exc})") from None
    except (ValueError, UnicodeDecodeError):  # a malformed signature header or body
        raise WebhookRejected(engine, "malformed signature header or body") from None
    return _object(engine, event)


def _dynamic(engine: str, token: str, body: bytes, env: Mapping[str, str]) -> dict[str, Any]:
    import jwt

    url = (env.get("GEMINI_WEBHOOK_JWKS_URL") or JWKS_URL).strip()
    try:
        key = _jwks(url).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            options={"verify_aud": False, "require": []},
            leeway=5,
        )
    except jwt.PyJWKClientConnectionError:
        raise WebhookRejected(
            engine, "Google's webhook key set could not be fetched; the push is not trusted"
        ) from None
    except jwt.ExpiredSignatureError:
        raise WebhookRejected(engine, "stale push (its signature has expired)") from None
    except (jwt.PyJWTError, ValueError) as exc:
        raise WebhookRejected(engine, f"bad signature ({type(exc).__name__})") from None
    if not isinstance(claims, dict):
        raise WebhookRejected(engine, "bad signature (no claims)")
    _check_age(engine, claims)
    if "type" in claims:
        return claims  # the signed event; the body is not looked at
    return _object(engine, _json(engine, body))


def _check_age(engine: str, claims: dict[str, Any]) -> None:
    """A JWT without ``exp`` but with ``iat`` must be recent (no replay of old pushes)."""
    import time

    issued = claims.get("iat")
    recent = not isinstance(issued, (int, float)) or abs(time.time() - issued) <= TOLERANCE
    if "exp" not in claims and not recent:
        raise WebhookRejected(engine, "stale push (signed over 5 minutes ago)")


def warm(env: Mapping[str, str]) -> None:
    """Fetch the key set in a background thread (once per URL), so the first push is not
    kept waiting for it; a failure here only means the push fetches it itself."""
    url = (env.get("GEMINI_WEBHOOK_JWKS_URL") or JWKS_URL).strip()
    with _lock:
        if url in _warmed:
            return
        _warmed.add(url)

    def fetch() -> None:
        import jwt

        try:
            _jwks(url).get_jwk_set()
        except jwt.PyJWTError:
            with _lock:
                _warmed.discard(url)

    threading.Thread(target=fetch, name="gemini-jwks", daemon=True).start()


def _jwks(url: str) -> Any:
    """One PyJWKClient per key-set URL: it caches the key set (and refetches on an unknown
    key id, at most every 30 s), within ``JWKS_TIMEOUT``."""
    import jwt

    with _lock:
        client = _clients.get(url)
        if client is None:
            client = jwt.PyJWKClient(
                url, cache_jwk_set=True, lifespan=JWKS_LIFESPAN, timeout=JWKS_TIMEOUT
            )
            _clients[url] = client
        return client


def _json(engine: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WebhookRejected(engine, "the push's body is not JSON") from None


def _object(engine: str, event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise WebhookRejected(engine, "the push's event is not a JSON object")
    return event
