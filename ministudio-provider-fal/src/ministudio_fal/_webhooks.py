"""fal's webhooks: verify the Ed25519 signature against fal's JWKS, then a thin status (the
core asks the queue for the result before anything is downloaded).

The docs (fal.ai/docs/documentation/model-apis/inference/webhooks, "Verifying Your
Webhook"): headers ``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp`` (unix seconds)
and ``-Signature`` (hex); the message is ``request_id\\nuser_id\\ntimestamp\\nsha256_hex(body)``;
the signature is Ed25519 by one of the keys of the JWKS at
``https://rest.alpha.fal.ai/.well-known/jwks.json`` (``FAL_JWKS_URL`` overrides it); a
timestamp more than 5 minutes off is refused; the JWKS is cached for 24 hours.

Every push is verified (fal always signs): an unsigned or forged push is ``WebhookRejected``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from ministudio.errors import WebhookRejected
from ministudio.jobs import JobStatus

DEFAULT_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
TOLERANCE = 300  # seconds
CACHE_FOR = 24 * 3600  # seconds
HEADERS = ("request-id", "user-id", "timestamp", "signature")
_cache: dict[str, tuple[float, list[bytes]]] = {}


def keys(url: str, *, now: float | None = None) -> list[bytes]:
    """The raw Ed25519 public keys of the JWKS at ``url`` (cached for a day)."""
    moment = time.time() if now is None else now
    hit = _cache.get(url)
    if hit is not None and moment - hit[0] < CACHE_FOR:
        return hit[1]
    import httpx

    response = httpx.get(url, timeout=15.0)
    response.raise_for_status()
    found = []
    for key in response.json().get("keys", []):
        if key.get("kty") == "OKP" and key.get("crv") == "Ed25519" and key.get("x"):
            text = str(key["x"])
            found.append(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    _cache[url] = (moment, found)
    return found


def message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


def verify(
    engine: str,
    body: bytes,
    headers: Mapping[str, str],
    env: Mapping[str, str],
    now: float | None = None,
) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    lowered = {k.lower(): v for k, v in headers.items()}
    values = {h: (lowered.get(f"x-fal-webhook-{h}") or "").strip() for h in HEADERS}
    missing = [h for h in ("request-id", "timestamp", "signature") if not values[h]]
    if missing:
        raise WebhookRejected(engine, f"unsigned push (no X-Fal-Webhook-{missing[0]} header)")
    try:
        stamp = int(values["timestamp"])
        signature = bytes.fromhex(values["signature"])
    except ValueError:
        raise WebhookRejected(engine, "malformed fal webhook signature headers") from None
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE:
        raise WebhookRejected(engine, "stale push (its timestamp is over 5 minutes off)")
    text = message(values["request-id"], values["user-id"], values["timestamp"], body)
    url = (env.get("FAL_JWKS_URL") or DEFAULT_JWKS_URL).strip()
    try:
        public = keys(url)
    except Exception as exc:  # any failure to read the keys refuses the push
        raise WebhookRejected(engine, f"cannot read fal's JWKS ({type(exc).__name__})") from None
    for raw in public:
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, text)
            return
        except (InvalidSignature, ValueError):
            continue
    raise WebhookRejected(engine, "bad signature (no key of fal's JWKS signs this push)")


def parse(
    engine: str, body: bytes, headers: Mapping[str, str], env: Mapping[str, str]
) -> JobStatus | None:
    verify(engine, body, headers, env)
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    ident = data.get("request_id")
    if not isinstance(ident, str) or not ident:
        return None
    return JobStatus(job_id=ident, state="running", thin=True)
