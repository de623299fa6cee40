"""sync.'s webhooks: verify the push when a signing secret is set, then turn it into a thin
status (the core asks sync. for the generation before anything is downloaded).

What the docs say (sync.so/docs/api-reference/guides/webhooks, "Verify webhook signatures"):
each push is signed; the signature is in the ``Sync-Signature`` header and "is made out of 2
components: Timestamp (at the time of sending the event); Signature hash (timestamp and the
JSON payload)", checked with "your signing secret" (``whsec_...``); the guide's sample uses
Node's ``createHmac`` (HMAC-SHA256). The header's exact layout is not in the text we could
read: this module takes the common ``t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`` (several ``v1`` allowed, one must match), the secret's bytes as given, and
refuses a timestamp more than ``TOLERANCE`` seconds off. If sync.'s layout differs, set no
secret: pushes are then taken unverified, which is safe because they are only hints.

The payload (syncsdk ``webhooks.types.GenerationNotification``; the "Webhooks Payload
Reference"): the generation: ``id``, ``status`` (COMPLETED or FAILED), ``createdAt``,
``model``, ``input``, ``outputUrl``, ``error``, ``error_code``... The older Sync Labs form
``{"result": <generation>, "error": ...}`` is read too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from ministudio.errors import WebhookRejected
from ministudio.jobs import JobStatus

from ministudio_sync import ENGINE

HEADER = "sync-signature"
SECRET_VAR = "SYNC_WEBHOOK_SECRET"
TOLERANCE = 300  # seconds


def parse(body: bytes, headers: Mapping[str, str], env: Mapping[str, str]) -> JobStatus | None:
    """The push as a status (thin when it says the generation ended); None when it is not a
    generation's. ``WebhookRejected`` for a push that fails the signature check."""
    secret = (env.get(SECRET_VAR) or "").strip()
    if secret:
        verify(body, headers, secret)
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and "id" not in data and isinstance(data.get("result"), dict):
        data = data["result"]  # the older {"result": ..., "error": ...} form
    if not isinstance(data, dict):
        return None
    ident, status = data.get("id"), data.get("status")
    if not isinstance(ident, str) or not ident or not isinstance(status, str):
        return None
    if status in ("COMPLETED", "FAILED", "REJECTED"):
        return JobStatus(job_id=ident, state="running", thin=True)
    if status == "PENDING":
        return JobStatus(job_id=ident, state="queued")
    if status == "PROCESSING":
        return JobStatus(job_id=ident, state="running")
    return JobStatus(job_id=ident, state="running", thin=True)  # a status we do not know


def verify(body: bytes, headers: Mapping[str, str], secret: str, now: float | None = None) -> None:
    """Raise ``WebhookRejected`` unless ``Sync-Signature`` signs ``body`` with ``secret``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    header = (lowered.get(HEADER) or "").strip()
    if not header:
        raise WebhookRejected(ENGINE, "unsigned push (no Sync-Signature header)")
    stamp, hashes = _parts(header)
    if stamp is None or not hashes:
        raise WebhookRejected(ENGINE, "malformed Sync-Signature header")
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE:
        raise WebhookRejected(ENGINE, "stale push (its timestamp is over 5 minutes off)")
    expected = sign(body, secret, stamp)
    if not any(hmac.compare_digest(expected, given) for given in hashes):
        raise WebhookRejected(ENGINE, "bad signature (check SYNC_WEBHOOK_SECRET)")


def sign(body: bytes, secret: str, stamp: int) -> str:
    """The hex HMAC-SHA256 of ``"<stamp>.<body>"`` keyed with ``secret``."""
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parts(header: str) -> tuple[int | None, list[str]]:
    stamp: int | None = None
    hashes: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            stamp = int(value)
        elif name == "v1" and value:
            hashes.append(value.strip().lower())
    return stamp, hashes
