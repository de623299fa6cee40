"""Gemini API webhooks as the fake sends them: thin Standard-Webhooks events, signed with an
RS256 JWT when they go to a request's ``webhook_config`` uris (dynamic), else with an HMAC to
the project-level webhook (static; "If set, these webhook URIs will be used instead of the
registered webhooks": SDK 2.34 ``types.WebhookConfig``). ``GoogleServer`` decides which events
fire (see ``google_server.py``); this module shapes, signs and delivers them.

Sources (research notes /tmp/research/webhooks.md; [3P] = third party):

- Thin payload ``{"type", "version": "v1", "timestamp", "data": {"id", ...}}`` and the event
  catalog (``interaction.completed`` {id}; ``interaction.failed`` {id, error_code,
  error_message}; ``video.generated`` {id, output_file_uri, file_name}; no video failure
  event): https://ai.google.dev/gemini-api/docs/webhooks ("Event types and payload").
- Headers ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature``: same page, "Gemini
  strictly follows the Standard Webhooks specification" (https://www.standardwebhooks.com/).
- Static signature ``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``, key = the
  base64 after ``whsec_``: the page's Java/Go samples and the Standard Webhooks spec.
- Dynamic signature: an RS256 JWT in ``webhook-signature``, key picked by the JWT ``kid`` in
  a JWKS (the guide's samples read ``https://generativelanguage.googleapis.com/.well-known/
  jwks.json``; the fake serves its own at ``JWKS_PATH``): same page, "Verify dynamic
  signatures (JWKS)". The JWT's claims are NOT documented; ``jwt_carries_event`` picks one of
  two readings: the event plus ``iat``/``exp`` (the guide's samples decode the JWT into a
  variable named ``event``), or only ``iat``/``exp``/``aud`` = the uri ([3P] hookdeck). The
  fake's ``exp`` is ``iat`` + ``JWT_LIFETIME`` (the guide's best practice: reject events older
  than 5 minutes).
- ``user_metadata`` "will be included in each webhook event notification" (SDK 2.34
  ``_gaos/types/interactions/webhookconfig.py`` docstring); where is not documented: the fake
  puts it in ``data.user_metadata``.
- Delivery "retries failed requests for 24 hours using exponential backoff" until a 2xx (same
  page); the fake makes at most ``attempts`` tries, ``delay`` after the first and doubling,
  with one ``webhook-id`` for all (Standard Webhooks: at-least-once, dedupe on it), and
  records them in a ``WebhookDelivery``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

EVENT_INTERACTION_COMPLETED = "interaction.completed"
EVENT_INTERACTION_FAILED = "interaction.failed"
EVENT_VIDEO_GENERATED = "video.generated"
EVENTS = (EVENT_INTERACTION_COMPLETED, EVENT_INTERACTION_FAILED, EVENT_VIDEO_GENERATED)
JWKS_PATH = "/.well-known/jwks.json"
JWT_LIFETIME = 300  # the fake's exp - iat; the guide's best practice: reject older than 5 min


@dataclass
class WebhookDelivery:
    """One event POSTed to one uri (all its attempts)."""

    operation: str  # the event's data.id: an interaction id or a Veo operation name
    url: str
    attempts: int
    delivered: bool
    payload: dict[str, Any] = field(default_factory=dict)  # the event, as sent in the body
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    status: int | None = None  # the HTTP status of the last attempt (None: no answer)
    kind: str = "dynamic"  # "dynamic" (JWT) | "static" (HMAC)

    @property
    def type(self) -> str:
        return str(self.payload.get("type", ""))


def event(kind: str, ident: str, user_metadata: Any = None, **data: Any) -> dict[str, Any]:
    """A thin event (the webhooks guide's example shape)."""
    body: dict[str, Any] = {"id": ident, **{k: v for k, v in data.items() if v is not None}}
    if user_metadata is not None:
        body["user_metadata"] = user_metadata
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": kind, "version": "v1", "timestamp": stamp, "data": body}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class WebhookSigner:
    """The server's webhook keys: a throwaway RSA key pair (made on first use) published as a
    JWKS, and the static ``whsec_`` secret.

    ``jwt_carries_event`` True: the JWT claims are the event itself plus ``iat``/``exp`` (the
    guide's samples decode the JWT into a variable named ``event``); False: the claims are
    only ``iat``, ``exp`` and ``aud`` = the webhook uri (hookdeck's reading) and the body
    alone carries the event. Google documents neither."""

    def __init__(self, jwt_carries_event: bool, secret: str | None) -> None:
        self.jwt_carries_event = jwt_carries_event
        self.secret = secret or "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        if not self.secret.startswith("whsec_"):
            raise ValueError("webhook_secret must look like whsec_<base64>")
        self._key: Any = None
        self._lock = threading.Lock()

    @property
    def kid(self) -> str:
        return hashlib.sha256(
            str(self._rsa().public_key().public_numbers().n).encode()
        ).hexdigest()[:16]

    def _rsa(self) -> Any:
        with self._lock:
            if self._key is None:
                from cryptography.hazmat.primitives.asymmetric import rsa

                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def jwks(self) -> dict[str, Any]:
        numbers = self._rsa().public_key().public_numbers()
        key = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid}
        return {"keys": [{**key, "n": _uint(numbers.n), "e": _uint(numbers.e)}]}

    def jwt(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._rsa().sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64url(signature)}"

    def dynamic_headers(self, url: str, payload: dict[str, Any], msg_id: str, ts: int) -> str:
        claims: dict[str, Any] = {"iat": ts, "exp": ts + JWT_LIFETIME}
        if self.jwt_carries_event:
            claims = {**payload, **claims}
        else:
            claims["aud"] = url
        return self.jwt(claims)

    def hmac_signature(self, msg_id: str, ts: int, body: bytes) -> str:
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{msg_id}.{ts}.".encode() + body
        return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    def sign(self, url: str, payload: dict[str, Any], body: bytes, kind: str) -> dict[str, str]:
        msg_id = "msg_" + secrets.token_hex(12)
        ts = int(time.time())
        if kind == "static":
            signature = self.hmac_signature(msg_id, ts, body)
        else:
            signature = self.dynamic_headers(url, payload, msg_id, ts)
        return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def deliver(
    url: str,
    payload: dict[str, Any],
    signer: WebhookSigner,
    kind: str,
    *,
    attempts: int,
    delay: float,
    closed: Any,
) -> WebhookDelivery:
    """POST one signed event until a 2xx, at most ``attempts`` times (``delay`` doubling);
    the same ``webhook-id`` on every attempt (Standard Webhooks: at-least-once, dedupe on it).
    ``closed()`` stops early."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Google-Webhooks-Fake/1",
        **signer.sign(url, payload, body, kind),
    }
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    record = WebhookDelivery(
        str(payload["data"]["id"]), url, 0, False, payload, headers, body, None, kind
    )
    for attempt in range(attempts):
        if closed():
            break
        record.attempts += 1
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with opener.open(request, timeout=5) as answer:
                record.status = answer.status
        except urllib.error.HTTPError as exc:
            record.status = exc.code
        except (urllib.error.URLError, OSError):
            record.status = None
        if record.status is not None and 200 <= record.status < 300:
            record.delivered = True
            break
        time.sleep(delay * 2**attempt)
    return record
