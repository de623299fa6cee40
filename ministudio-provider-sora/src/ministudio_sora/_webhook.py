"""OpenAI project webhooks for videos: the Standard Webhooks signature and the event envelope.

OpenAI posts ``{"id", "object": "event", "created_at", "type", "data": {"id": <video id>}}``
with ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers (``v1,<base64
HMAC-SHA256 of "id.timestamp.body">``, keyed by the endpoint's ``whsec_`` secret). The video
events' payload is not in the SDK (spec section 7): only ``data.id`` is relied on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time

from ministudio.jobs import JobStatus

TOLERANCE = 300  # seconds a signed timestamp may be off, as the SDK's verify_signature


def parse(body: bytes, headers: dict[str, str], secret: str | None) -> JobStatus | None:
    """The status a video event carries; None if it is not one, or (with ``secret``) if its
    signature does not verify.

    ``video.completed`` is a finished job. ``video.failed`` carries no reason, so it is not
    taken as final: it answers ``running`` and the next status request brings the reason (and
    whether it was a refusal, which must not be resent).
    """
    if secret and not verified(body, headers, secret):
        return None
    try:
        event = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("object", "event") != "event":
        return None
    data = event.get("data")
    video_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(video_id, str) or not video_id:
        return None
    kind = event.get("type")
    if kind == "video.completed":
        return JobStatus(job_id=video_id, state="succeeded", progress=1.0)
    if kind == "video.failed":
        return JobStatus(job_id=video_id, state="running", retry_after=0.0)
    return None


def verified(body: bytes, headers: dict[str, str], secret: str, now: float | None = None) -> bool:
    """Whether the Standard Webhooks signature matches ``secret`` (``whsec_<base64>``)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature")
    if not webhook_id or not signatures or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE:
        return False
    try:
        key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    except (binascii.Error, ValueError):
        return False
    signed = webhook_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [part.partition(",")[2] if "," in part else part for part in signatures.split()]
    return any(hmac.compare_digest(expected, sig) for sig in given)


def sign(body: bytes, secret: str, webhook_id: str, timestamp: int) -> dict[str, str]:
    """The headers OpenAI would send with ``body`` (for fakes and tests)."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }
