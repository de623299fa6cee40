"""What Runway's API accepts at create, as the strict fake checks it. Each rule cites its
source: [SDK] is runwayml/sdk-python at c604e0e (5.13.0, generated from Runway's OpenAPI
spec), the file named; [SDK 5.24] the runwayml 5.24.0 wheel this workspace installs (same
generator, newer spec); [SDK@<commit>] an older commit of sdk-python; [API]
https://docs.dev.runwayml.com/api/; [INPUTS] https://docs.dev.runwayml.com/assets/inputs/
and the asset reasons of https://docs.dev.runwayml.com/errors/troubleshooting; [3P] a
third party's reading of Runway's docs (named beside the rule: re-check). Where the sources
are silent, the rule is a switch of ``Rules`` (tests run both ways).
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

# -- video to video (Aleph) -------------------------------------------------------------------
# [SDK 5.24] types/video_to_video_create_params.py Variant0: model Literal["aleph2"].
# gen4_aleph left the spec: sdk-python d106617 (2026-06-10) removed Gen4Aleph; the docs' front
# page announces "Aleph 2.0 is now available" (https://docs.dev.runwayml.com/). The other
# video_to_video models (seedance2, klingO3, ...) are not modelled by this fake.
VIDEO_MODELS = ("aleph2",)
# [SDK 5.24] Variant0's keys (wire names)
VIDEO_KEYS = (
    "model",
    "videoUri",
    "promptText",
    "ratio",
    "seed",
    "keyframes",
    "contentModeration",
    "targetAspectRatio",
    "outputFormat",
    "proresProfile",
)
# [SDK 5.24] Variant0.target_aspect_ratio
TARGET_ASPECTS = ("16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "21:9")
# [SDK 5.24] Variant0.output_format
OUTPUT_FORMATS = ("mp4", "prores", "png_sequence", "sdr_rec709_10bit")
MAX_KEYFRAMES = 5  # [SDK 5.24] keyframes: "Up to 5 keyframes."
# [SDK 5.24] video_uri: "A HTTPS URL, Runway upload URI, or base64 data URI (e.g.
# `data:video/mp4;base64,...`, up to 5MB)"
MAX_VIDEO_DATA_URI = 5 * 1024 * 1024
# [3P] the input video is 2 to 30 s (a reading of Runway's docs dated 2026-09-24, "input 2-30 s
# <= 30 fps"; Comfy Router's schema for runway/aleph2: "must be no longer than 30 seconds";
# WaveSpeed's aleph-2: "Must be 2-30 seconds")
VIDEO_SECONDS = (2.0, 30.0)
# [3P] the input video's frame rate: "2-30 seconds at 30 fps or less" (Comfy's Aleph2 node
# docs, docs.comfy.org/built-in-nodes/RunwayAleph2VideoToVideoNode); Pexo's reading of Runway's
# announcement says "24-30 FPS" (the lower bound is not enforced: one source only)
VIDEO_MAX_FPS = 30.0
# What aleph2 returns for a 2-30 s input: no source states it. [SDK 5.24] Variant0 has no
# duration parameter; gen4_aleph's output was "determined by the input video" for its
# resolution ([SDK@07e3079]) and, by third parties, used "Only 5s of the input video"
# (Scenario's model page, DataCamp's tutorial); Aleph 2.0 "supports clips up to 30 seconds"
# (Runware, Pexo) and "preserv[es] the original motion and timing" (Comfy). A switch:
# ``Rules.aleph_output``.

# -- uploads ([UPLOADS] https://docs.dev.runwayml.com/assets/uploads; [SDK 5.24]
# resources/uploads.py) -------------------------------------------------------------------
# [SDK 5.24] _RunwayCreateUploadArguments: {"filename": str, "type": "ephemeral"}, answered
# by _RunwayUploadStartedResponse {runwayUri, uploadUrl, fields}; the file then goes as
# multipart/form-data to uploadUrl, ``fields`` first, the file as the part ``file``.
UPLOAD_KEYS = ("filename", "type")
UPLOAD_TYPES = ("ephemeral",)
# [UPLOADS] "The maximum uploadable file is 200MB. The minimum uploadable file is 512 bytes."
UPLOAD_BYTES = (512, 200 * 1024 * 1024)
# [UPLOADS] "runway:// URIs are only valid for 24 hours."
UPLOAD_LIFETIME = 24 * 3600.0

# The ratios gen4_aleph took ([SDK@697a42d] VideoToVideoCreateParams.ratio): what the fake
# takes for aleph2's ``ratio`` when ``Rules.aleph_ratio`` is "listed".
ALEPH_RATIOS = (*IMAGE_RATIOS, "848:480", "640:480")


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
    # aleph2's ``ratio`` is a bare ``str`` in [SDK 5.24] (no list, no description; gen4_aleph's
    # was deprecated, "This field is ignored. The resolution of the output video is determined
    # by the input video", [SDK@07e3079]): "listed" takes gen4_aleph's list only, "any" any W:H
    aleph_ratio: str = "listed"
    # aleph2's promptText: "A non-empty and optional string" [SDK 5.24]; required, "up to 1000
    # characters" at its introduction [SDK@07e3079] and in Comfy Router's schema of it
    aleph_prompt_required: bool = True
    # how long aleph2's output is (no source says: see VIDEO_MAX_FPS above): "input" as
    # long as its input (frame for frame); "5s" at most its first 5 s (gen4_aleph's way)
    aleph_output: str = "input"

    def output_frames(self, frames: int, fps: float) -> int:
        """The frames of aleph2's output for an input of ``frames`` at ``fps``."""
        if self.aleph_output == "5s":
            return min(frames, max(1, round(5 * fps)))
        return frames

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
    if endpoint == "video_to_video":
        check_video_to_video(data, rules)
        return
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
    check_seed(data.get("seed"))
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


def check_seed(seed: Any) -> None:
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX
    ):
        raise Refused(400, f"seed: must be an integer from 0 to {SEED_MAX}")


def check_video_to_video(data: dict[str, Any], rules: Rules) -> None:
    """``POST /v1/video_to_video`` with aleph2 ([SDK 5.24] Variant0). The video's own checks
    (can it be fetched, is it 2 to 30 s) are the fake's, which knows the videos it made."""
    model = data.get("model")
    if model not in VIDEO_MODELS:
        raise Refused(400, f"model: invalid value {model!r} for video_to_video")
    extra = set(data) - set(VIDEO_KEYS)
    if extra:
        raise Refused(400, f"unrecognized keys: {sorted(extra)}")
    check_video_uri(data.get("videoUri"))
    text = data.get("promptText")
    if text is None and rules.aleph_prompt_required:
        raise Refused(400, "promptText: required")
    if text is not None and (not isinstance(text, str) or not text):
        raise Refused(400, "promptText: must be a non-empty string")  # "non-empty"
    if isinstance(text, str) and utf16(text) > MAX_PROMPT:  # [SDK@07e3079] "up to 1000"
        raise Refused(400, f"promptText: longer than {MAX_PROMPT} characters")
    ratio = data.get("ratio")
    if ratio is not None:
        if rules.aleph_ratio == "listed" and ratio not in ALEPH_RATIOS:
            raise Refused(400, f"ratio: must be one of {', '.join(ALEPH_RATIOS)}")
        sides = str(ratio).split(":")
        if not isinstance(ratio, str) or len(sides) != 2 or not all(x.isdigit() for x in sides):
            raise Refused(400, "ratio: must be WIDTH:HEIGHT")
    target = data.get("targetAspectRatio")
    if target is not None and target not in TARGET_ASPECTS:
        raise Refused(400, f"targetAspectRatio: must be one of {', '.join(TARGET_ASPECTS)}")
    form = data.get("outputFormat")
    if form is not None and form not in OUTPUT_FORMATS:
        raise Refused(400, f"outputFormat: must be one of {', '.join(OUTPUT_FORMATS)}")
    if data.get("proresProfile") is not None and form != "prores":
        raise Refused(400, "proresProfile: only valid when outputFormat is prores")
    keyframes = data.get("keyframes")
    if keyframes is not None:
        if not isinstance(keyframes, list) or len(keyframes) > MAX_KEYFRAMES:
            raise Refused(400, f"keyframes: a list of up to {MAX_KEYFRAMES}")
        for frame in keyframes:
            # [SDK 5.24] Variant0KeyframeUnionMember0 {seconds, uri} / Member1 {at, uri}
            if not isinstance(frame, dict) or ("seconds" in frame) == ("at" in frame):
                raise Refused(400, "keyframes: each is {uri, seconds} or {uri, at}")
            if "at" in frame and not 0.0 <= float(frame["at"]) <= 1.0:
                raise Refused(400, "keyframes.at: a fraction from 0.0 to 1.0")
            check_uri(frame.get("uri"))
    check_seed(data.get("seed"))


def check_upload(data: Any) -> None:
    """``POST /v1/uploads`` ([SDK 5.24] uploads.py): ``{"filename": str, "type":
    "ephemeral"}``."""
    if not isinstance(data, dict):
        raise Refused(400, "body must be a JSON object")
    extra = set(data) - set(UPLOAD_KEYS)
    if extra:
        raise Refused(400, f"unrecognized keys: {sorted(extra)}")
    name = data.get("filename")
    if not isinstance(name, str) or not name:
        raise Refused(400, "filename: required")
    if data.get("type") not in UPLOAD_TYPES:
        raise Refused(400, f"type: must be one of {', '.join(UPLOAD_TYPES)}")


def check_uploaded_size(size: int) -> None:
    """[UPLOADS] 512 bytes to 200 MB (the storage's answer to the form POST)."""
    low, high = UPLOAD_BYTES
    if size < low:
        raise Refused(400, f"EntityTooSmall: the file is {size} bytes, under {low}")
    if size > high:
        raise Refused(400, f"EntityTooLarge: the file is {size} bytes, over {high}")


def check_video_input(seconds: float, fps: float) -> None:
    """aleph2's input video: 2 to 30 s ([3P], VIDEO_SECONDS), at most 30 fps ([3P],
    VIDEO_MAX_FPS). Runway's wording is not documented: these messages are the fake's."""
    low, high = VIDEO_SECONDS
    if not low - 1e-3 <= seconds <= high + 1e-3:
        raise Refused(400, f"videoUri: the video must be {low:g} to {high:g} seconds long")
    if fps > VIDEO_MAX_FPS + 1e-3:
        raise Refused(400, f"videoUri: the video must be {VIDEO_MAX_FPS:g} fps or less")


def check_video_uri(uri: Any) -> None:
    """[SDK 5.24] videoUri: "A HTTPS URL, Runway upload URI, or base64 data URI (e.g.
    `data:video/mp4;base64,...`, up to 5MB)"; URLs as [INPUTS] wants them (HTTPS, a domain).
    The fake's own output URLs (loopback http) stand for Runway's HTTPS output URLs and are
    checked by the fake."""
    if not isinstance(uri, str) or not uri:
        raise Refused(400, "videoUri: required")
    if uri.startswith("data:"):
        if len(uri) >= MAX_VIDEO_DATA_URI:
            raise Refused(400, "videoUri: data URI larger than 5MB")
        head, _, payload = uri.partition(",")
        if not head.startswith("data:video/") or not head.endswith(";base64"):
            raise Refused(400, "videoUri: not a base64 video data URI")
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, "videoUri: invalid base64") from None
        return
    if uri.startswith("runway://"):
        return
    if not uri.startswith("https://"):
        raise Refused(400, "videoUri: Only HTTPS URLs are allowed")
    host = urlsplit(uri).hostname or ""
    if not host or host.replace(".", "").isdigit() or ":" in host:
        raise Refused(400, "videoUri: URLs must be hosted on a domain")
