"""What Runway's API accepts at create, as the strict fake checks it. Each rule cites its
source: [SDK] is runwayml/sdk-python at c604e0e (5.13.0, generated from Runway's OpenAPI
spec), the file named; [API] https://docs.dev.runwayml.com/api/; [INPUTS]
https://docs.dev.runwayml.com/assets/inputs/ and the asset reasons of
https://docs.dev.runwayml.com/errors/troubleshooting. Where the sources are
silent, the rule is a switch of ``Rules`` (tests run both ways).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

VERSION = "2024-11-06"  # [SDK] _client.py: runway_version default, sent as X-Runway-Version
# [SDK] types/image_to_video_create_params.py, Gen4_5.ratio and Gen4Turbo.ratio
IMAGE_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
# [SDK] types/text_to_video_create_params.py, Gen4_5.ratio
TEXT_RATIOS = ("1280:720", "720:1280")
IMAGE_MODELS = ("gen4.5", "gen4_turbo")  # the two the plugin uses ([SDK] image_to_video)
TEXT_MODELS = ("gen4.5",)  # [SDK] text_to_video_create_params: no Gen4Turbo
MAX_PROMPT = 1000  # [SDK] "A non-empty string up to 1000 characters (... UTF-16 code units)"
# [INPUTS] "The length of the encoded data URI must be under 5MB (1024 x 1024 x 5 bytes)"
MAX_DATA_URI = 5 * 1024 * 1024
SEED_MAX = 4294967295  # [3P] Comfy's node docs: seed 0 to 4294967295 (the SDK says "int")


class Refused(ValueError):
    """A request Runway answers with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Rules:
    """Switches where the sources are silent.

    ``turbo_durations``: gen4_turbo's lengths ([SDK] says only ``duration: int``): "5-10"
    (5 or 10, what older docs list) or "2-10" (what third parties list today).
    ``version_status``: the status of a request without the right X-Runway-Version (the
    header is required, [API]; the status is not documented): 400 or 401.
    """

    turbo_durations: str = "5-10"
    version_status: int = 400

    def durations(self, model: str) -> tuple[int, ...]:
        if model == "gen4.5":
            return tuple(range(2, 11))  # [SDK] Gen4_5.duration "an integer from 2 to 10"
        return (5, 10) if self.turbo_durations == "5-10" else tuple(range(2, 11))


def check_headers(headers: Any, rules: Rules) -> None:
    """[API]/[SDK] every request carries X-Runway-Version: 2024-11-06."""
    given = headers.get("X-Runway-Version")
    if given != VERSION:
        raise Refused(
            rules.version_status,
            f"X-Runway-Version must be {VERSION}" if given else "missing X-Runway-Version header",
        )


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_create(endpoint: str, data: Any, rules: Rules) -> None:
    """Raise ``Refused`` (400) for a body Runway refuses at ``endpoint``."""
    if not isinstance(data, dict):
        raise Refused(400, "body must be a JSON object")
    model = data.get("model")
    models = IMAGE_MODELS if endpoint == "image_to_video" else TEXT_MODELS
    if model not in models:
        raise Refused(400, f"model: invalid value {model!r} for {endpoint}")
    allowed = {"model", "promptText", "ratio", "duration", "seed", "contentModeration"}
    if endpoint == "image_to_video":
        allowed.add("promptImage")
    extra = set(data) - allowed
    if extra:
        raise Refused(400, f"unrecognized keys: {sorted(extra)}")
    # ratio: required on both models and endpoints ([SDK] Required[...])
    ratios = IMAGE_RATIOS if endpoint == "image_to_video" else TEXT_RATIOS
    if data.get("ratio") not in ratios:
        raise Refused(400, f"ratio: must be one of {', '.join(ratios)}")
    # duration: Required for gen4.5, optional for gen4_turbo ([SDK])
    duration = data.get("duration")
    if duration is None and model == "gen4.5":
        raise Refused(400, "duration: required")
    if duration is not None and (
        not isinstance(duration, int)
        or isinstance(duration, bool)
        or duration not in rules.durations(str(model))
    ):
        raise Refused(400, f"duration: {duration!r} is not allowed for {model}")
    # promptText: Required for gen4.5, optional for gen4_turbo; non-empty, <= 1000 UTF-16
    text = data.get("promptText")
    if text is None and model == "gen4.5":
        raise Refused(400, "promptText: required")
    if text is not None and (not isinstance(text, str) or not text):
        raise Refused(400, "promptText: must be a non-empty string")
    if isinstance(text, str) and utf16(text) > MAX_PROMPT:
        raise Refused(400, f"promptText: longer than {MAX_PROMPT} characters")
    seed = data.get("seed")
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX
    ):
        raise Refused(400, f"seed: must be an integer from 0 to {SEED_MAX}")
    if endpoint == "image_to_video":
        check_images(data.get("promptImage"))


def check_images(given: Any) -> None:
    """[SDK] promptImage: a URI string, or a list of {uri, position} with position "first"
    only (Gen4_5PromptImagePromptImage, Gen4TurboPromptImagePromptImage)."""
    if given is None:
        raise Refused(400, "promptImage: required")
    items = [{"uri": given, "position": "first"}] if isinstance(given, str) else given
    if not isinstance(items, list) or not items or len(items) > 1:
        raise Refused(400, "promptImage: one image, as a string or [{uri, position}]")
    for item in items:
        if not isinstance(item, dict) or set(item) - {"uri", "position"}:
            raise Refused(400, "promptImage: items are {uri, position}")
        if item.get("position") != "first":
            raise Refused(400, "promptImage.position: must be 'first' for this model")
        check_uri(item.get("uri"))


def check_uri(uri: Any) -> None:
    """[SDK] "A HTTPS URL, Runway upload URI, or base64 data URI (... up to 5MB)"."""
    if not isinstance(uri, str) or not uri:
        raise Refused(400, "promptImage.uri: required")
    if uri.startswith("data:"):
        if len(uri) >= MAX_DATA_URI:
            raise Refused(400, "promptImage.uri: data URI larger than 5MB")
        head, _, payload = uri.partition(",")
        if not head.startswith("data:image/") or not head.endswith(";base64"):
            raise Refused(400, "promptImage.uri: not a base64 image data URI")
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, "promptImage.uri: invalid base64") from None
        return
    if uri.startswith("runway://"):
        return
    # [INPUTS] "All URLs must be HTTPS", "URLs must reference a domain name, not an IP address"
    if not uri.startswith("https://"):
        raise Refused(400, "promptImage.uri: Only HTTPS URLs are allowed")
    host = urlsplit(uri).hostname or ""
    if not host or host.replace(".", "").isdigit() or ":" in host:
        raise Refused(400, "promptImage.uri: URLs must be hosted on a domain")
