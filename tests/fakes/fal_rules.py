"""What the fal fake knows of each endpoint it serves: the input fields of its schema, as
fal's own pages and fal's own client type them (written from those, not from the plugin's
table). CLIENT below is fal-ai/fal-js ``libs/client/src/types/endpoints.ts`` at commit
381105e (2026-08-02, "chore: update endpoints types", generated from fal's OpenAPI): it names
each input type, its options and its default; which fields are required (``prompt: string``
against ``prompt?: string``).

- SEEDANCE_T2V: https://fal.ai/models/bytedance/seedance-2.0/text-to-video/llms.txt and
  CLIENT ``Seedance2T2VInput``: ``prompt`` required; ``resolution`` 480p/720p/1080p/4k
  (default 720p); ``duration`` "auto", "4".."15" (strings, default "auto"); ``aspect_ratio``
  auto, 21:9, 16:9, 4:3, 1:1, 3:4, 9:16 (default auto); ``generate_audio``; ``bitrate_mode``
  standard/high; ``end_user_id``. No ``seed``. $0.3034 per second of 720p.
- SEEDANCE_MINI_T2V: .../seedance-2.0/mini/text-to-video/llms.txt, CLIENT
  ``Seedance2T2VMiniInput``: as above but ``resolution`` 480p/720p only and no
  ``bitrate_mode``; $0.1547 per second of 720p.
- SEEDANCE_I2V: CLIENT ``Seedance2I2VInput``: the text-to-video fields plus ``image_url``
  (required) and ``end_image_url``.
- KLING_V3_PRO_T2V: https://fal.ai/docs/model-api-reference/video-generation-api/kling-video-v3-pro
  and CLIENT ``KlingVideoV34kTextToVideoInput``: ``prompt`` optional ("either prompt or
  multi_prompt"); ``duration`` "3".."15" (strings, default "5"); ``aspect_ratio`` 16:9, 9:16,
  1:1; ``generate_audio``; ``negative_prompt``; ``cfg_scale`` 0 to 1; ``multi_prompt``;
  ``shot_type`` customize/intelligent. No resolution, no seed.
- KLING_V3_PRO_I2V: https://fal.ai/models/fal-ai/kling-video/v3/pro/image-to-video/playground
  and CLIENT ``KlingVideoV34kImageToVideoInput``: ``start_image_url`` required,
  ``end_image_url``, ``elements``; no ``aspect_ratio`` ("determined by the start image, not
  a parameter"); the rest as text-to-video.
- WAN_27_T2V: CLIENT ``Wan27TextToVideoInput`` (and the image-to-video page
  https://fal.ai/models/fal-ai/wan/v2.7/image-to-video/llms.txt for its shared fields):
  ``prompt`` required; ``duration`` an integer 2..15 (default 5); ``aspect_ratio`` 16:9, 9:16,
  1:1, 4:3, 3:4; ``resolution`` 720p/1080p (default 1080p); ``negative_prompt``;
  ``audio_url``; ``enable_prompt_expansion``; ``enable_safety_checker``; ``seed``.
- HAILUO_23_STANDARD_T2V:
  https://fal.ai/models/fal-ai/minimax/hailuo-2.3/standard/text-to-video/llms.txt (CLIENT
  ``StandardTextToVideoHailuo02Input``): ``prompt`` required, ``prompt_optimizer``,
  ``duration`` "6"/"10" (strings, default "6"); nothing else. $0.28 per 6 s, $0.56 per 10 s.
- LTX_23_T2V: https://fal.ai/models/fal-ai/ltx-2.3/text-to-video/llms.txt (CLIENT
  ``Ltx23TextToVideoInput``): ``prompt`` required; ``duration`` integers 6, 8, 10;
  ``resolution`` 1080p/1440p/2160p; ``aspect_ratio`` 16:9/9:16; ``fps`` 24, 25, 48, 50
  (integers); ``generate_audio``. $0.08/$0.16/$0.32 per second.
- VEO_31: https://fal.ai/models/fal-ai/veo3.1/llms.txt (CLIENT ``Veo31Input``): ``prompt``
  required; ``duration`` "4s", "6s", "8s"; ``aspect_ratio`` 16:9/9:16; ``resolution`` 720p,
  1080p, 4k; ``generate_audio``; ``negative_prompt``; ``seed``; ``auto_fix``;
  ``safety_tolerance`` "1".."6" (strings). $0.40 per second with audio at 720p/1080p.

- WAN_22_VACE_FUN_DEPTH: https://fal.ai/models/fal-ai/wan-22-vace-fun-a14b/depth/llms.txt
  and CLIENT ``Wan22VaceFunA14bDepthInput`` (an alias of ``WanVace14bPoseInput``, the same
  input as ``fal-ai/wan-vace-14b/depth``): ``prompt`` and ``video_url`` required;
  ``num_frames`` "Must be between 81 to 241 (inclusive)" (default 81); ``frames_per_second``
  "Must be between 5 to 30" (default 16; "Ignored if match_input_frames_per_second is
  true"); ``match_input_num_frames`` ("the number of frames in the generated video will match
  the number of frames in the input video"); ``match_input_frames_per_second``;
  ``preprocess`` ("Whether to preprocess the input video"); ``ref_image_urls``,
  ``first_frame_url``, ``last_frame_url``; ``resolution`` auto/240p/360p/480p/580p/720p;
  ``aspect_ratio`` auto/16:9/1:1/9:16; and the sampler's knobs. $0.10 per video second at
  720p ($0.075 at 580p, $0.05 at 480p), "Video seconds are calculated at 16 frames per
  second".
- KLING_O3_PRO_EDIT:
  https://fal.ai/models/fal-ai/kling-video/o3/pro/video-to-video/edit/llms.txt and CLIENT
  ``KlingVideoO3ProVideoToVideoEditInput`` (= ``O3ProEditVideoV2VInput``): ``prompt`` and
  ``video_url`` required ("Only .mp4/.mov formats, 3-10s duration, 720-2160px resolution,
  max 200MB"); ``image_urls`` and ``elements`` ("Maximum 4 total (elements + reference
  images) when using video"); ``keep_audio`` (default true); ``shot_type``. $0.336 per
  second generated. The source's exact bounds are those the O1 edit page states for the
  same input (https://fal.ai/docs/model-api-reference/video-generation-api/kling-video-o1-video-to-video:
  "Min width: 720px, Min height: 720px, Max width: 2160px, Max height: 2160px, Min duration:
  3.0s, Max duration: 10.05s, Min FPS: 24.0, Max FPS: 60.0"), read as the O3 page's "3-10s".

Types: ``str``, ``int``, ``bool``, ``float`` (any number), ``list``, ``"url"``.

``MEDIA`` (below) holds what each video-to-video endpoint's page says of its input video;
``media_problems`` checks a probed source against it, and ``output_length`` says how long
the endpoint's output is (see each).
"""

from __future__ import annotations

from typing import Any

SEEDANCE_DURATIONS = ["auto", *(str(n) for n in range(4, 16))]
SEEDANCE_RATIOS = ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]

SEEDANCE_T2V: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "resolution": {"type": str, "enum": ["480p", "720p", "1080p", "4k"]},
    "duration": {"type": str, "enum": SEEDANCE_DURATIONS},
    "aspect_ratio": {"type": str, "enum": SEEDANCE_RATIOS},
    "generate_audio": {"type": bool},
    "bitrate_mode": {"type": str, "enum": ["standard", "high"]},
    "end_user_id": {"type": str},
}

SEEDANCE_MINI_T2V: dict[str, dict[str, Any]] = {
    **{k: v for k, v in SEEDANCE_T2V.items() if k != "bitrate_mode"},
    "resolution": {"type": str, "enum": ["480p", "720p"]},
}

SEEDANCE_I2V: dict[str, dict[str, Any]] = {
    **SEEDANCE_T2V,
    "image_url": {"type": "url", "required": True},
    "end_image_url": {"type": "url"},
}

KLING_V3_PRO_T2V: dict[str, dict[str, Any]] = {
    "prompt": {"type": str},
    "duration": {"type": str, "enum": [str(n) for n in range(3, 16)]},
    "aspect_ratio": {"type": str, "enum": ["16:9", "9:16", "1:1"]},
    "generate_audio": {"type": bool},
    "negative_prompt": {"type": str},
    "cfg_scale": {"type": float, "minimum": 0, "maximum": 1},
    "multi_prompt": {"type": list},
    "shot_type": {"type": str, "enum": ["customize", "intelligent"]},
}

KLING_V3_PRO_I2V: dict[str, dict[str, Any]] = {
    **{k: v for k, v in KLING_V3_PRO_T2V.items() if k != "aspect_ratio"},
    "start_image_url": {"type": "url", "required": True},
    "end_image_url": {"type": "url"},
    "elements": {"type": list},
}

WAN_27_T2V: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "duration": {"type": int, "enum": list(range(2, 16))},
    "aspect_ratio": {"type": str, "enum": ["16:9", "9:16", "1:1", "4:3", "3:4"]},
    "resolution": {"type": str, "enum": ["720p", "1080p"]},
    "negative_prompt": {"type": str},
    "audio_url": {"type": "url"},
    "enable_prompt_expansion": {"type": bool},
    "enable_safety_checker": {"type": bool},
    "seed": {"type": int, "minimum": 0, "maximum": 2147483647},
}

HAILUO_23_STANDARD_T2V: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "prompt_optimizer": {"type": bool},
    "duration": {"type": str, "enum": ["6", "10"]},
}

LTX_23_T2V: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "duration": {"type": int, "enum": [6, 8, 10]},
    "resolution": {"type": str, "enum": ["1080p", "1440p", "2160p"]},
    "aspect_ratio": {"type": str, "enum": ["16:9", "9:16"]},
    "fps": {"type": int, "enum": [24, 25, 48, 50]},
    "generate_audio": {"type": bool},
}

VEO_31: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "duration": {"type": str, "enum": ["4s", "6s", "8s"]},
    "aspect_ratio": {"type": str, "enum": ["16:9", "9:16"]},
    "resolution": {"type": str, "enum": ["720p", "1080p", "4k"]},
    "generate_audio": {"type": bool},
    "negative_prompt": {"type": str},
    "seed": {"type": int},
    "auto_fix": {"type": bool},
    "safety_tolerance": {"type": str, "enum": [str(n) for n in range(1, 7)]},
}

WAN_22_VACE_FUN_DEPTH: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "video_url": {"type": "url", "required": True},
    "negative_prompt": {"type": str},
    "num_frames": {"type": int, "minimum": 81, "maximum": 241},
    "frames_per_second": {"type": int, "minimum": 5, "maximum": 30},
    "match_input_num_frames": {"type": bool},
    "match_input_frames_per_second": {"type": bool},
    "preprocess": {"type": bool},
    "ref_image_urls": {"type": list},
    "first_frame_url": {"type": "url"},
    "last_frame_url": {"type": "url"},
    "resolution": {"type": str, "enum": ["auto", "240p", "360p", "480p", "580p", "720p"]},
    "aspect_ratio": {"type": str, "enum": ["auto", "16:9", "1:1", "9:16"]},
    "seed": {"type": int},
    "num_inference_steps": {"type": int},
    "guidance_scale": {"type": float},
    "shift": {"type": float},
    "sampler": {"type": str, "enum": ["unipc", "dpm++", "euler"]},
    "acceleration": {"type": str, "enum": ["none", "low", "regular"]},
    "enable_prompt_expansion": {"type": bool},
    "enable_safety_checker": {"type": bool},
    "enable_auto_downsample": {"type": bool},
    "auto_downsample_min_fps": {"type": float},
    "temporal_downsample_factor": {"type": int},
    "num_interpolated_frames": {"type": int},
    "interpolator_model": {"type": str, "enum": ["rife", "film"]},
    "transparency_mode": {"type": str, "enum": ["content_aware", "white", "black"]},
    "video_quality": {"type": str, "enum": ["low", "medium", "high", "maximum"]},
    "video_write_mode": {"type": str, "enum": ["fast", "balanced", "small"]},
    "return_frames_zip": {"type": bool},
    "sync_mode": {"type": bool},
}

KLING_O3_PRO_EDIT: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "video_url": {"type": "url", "required": True},
    "image_urls": {"type": list},
    "elements": {"type": list},
    "keep_audio": {"type": bool},
    "shot_type": {"type": str},
}

VACE_DEPTH = "fal-ai/wan-22-vace-fun-a14b/depth"
KLING_O3_EDIT = "fal-ai/kling-video/o3/pro/video-to-video/edit"

# What each video-to-video page says of its input video (KLING_O3_PRO_EDIT above: the O1
# edit page's exact bounds; WAN_22_VACE_FUN_DEPTH: only num_frames' 81..241, which binds
# the input with match_input_num_frames only under the fake's ``vace_input_frames="limit"``).
MEDIA: dict[str, dict[str, Any]] = {
    KLING_O3_EDIT: {
        "field": "video_url",
        "formats": ("mp4", "mov"),
        "seconds": (3.0, 10.05),
        "side": (720, 2160),
        "fps": (24.0, 60.0),
        "bytes": 200 * 1024 * 1024,
        "images": 4,
    },
    VACE_DEPTH: {"field": "video_url", "frames": (81, 241)},
}

ENDPOINTS: dict[str, dict[str, dict[str, Any]]] = {
    "bytedance/seedance-2.0/text-to-video": SEEDANCE_T2V,
    "bytedance/seedance-2.0/mini/text-to-video": SEEDANCE_MINI_T2V,
    "bytedance/seedance-2.0/image-to-video": SEEDANCE_I2V,
    "fal-ai/kling-video/v3/pro/text-to-video": KLING_V3_PRO_T2V,
    "fal-ai/kling-video/v3/pro/image-to-video": KLING_V3_PRO_I2V,
    "fal-ai/wan/v2.7/text-to-video": WAN_27_T2V,
    "fal-ai/minimax/hailuo-2.3/standard/text-to-video": HAILUO_23_STANDARD_T2V,
    "fal-ai/ltx-2.3/text-to-video": LTX_23_T2V,
    "fal-ai/veo3.1": VEO_31,
    VACE_DEPTH: WAN_22_VACE_FUN_DEPTH,
    KLING_O3_EDIT: KLING_O3_PRO_EDIT,
}


def media_problems(
    endpoint: str, body: dict[str, Any], info: dict[str, Any] | None, *, vace_input_frames: str
) -> list[dict[str, Any]]:
    """What ``endpoint``'s page refuses of its input video, probed as ``info`` (``format``,
    ``frames``, ``fps``, ``seconds``, ``width``, ``height``, ``bytes``; None: it could not be
    fetched or decoded), as 422 details. ``vace_input_frames``: the fake's switch where VACE's
    page is silent ("limit": with ``match_input_num_frames`` the input must be 81..241
    frames, as ``num_frames``; "any": any length)."""
    rule = MEDIA.get(endpoint)
    if rule is None:
        return []
    field = rule["field"]

    def error(message: str) -> list[dict[str, Any]]:
        return [{"loc": ["body", field], "msg": message, "type": "value_error"}]

    images = len(body.get("image_urls") or []) + len(body.get("elements") or [])
    if "images" in rule and images > rule["images"]:  # "Maximum 4 total (elements + ...)"
        return [
            {
                "loc": ["body", "image_urls"],
                "msg": f"Maximum {rule['images']} total (elements + reference images)",
                "type": "value_error",
            }
        ]
    if info is None:
        return error("Could not download or read the file")  # "Must be publicly accessible"
    if "formats" in rule and info["format"] not in rule["formats"]:
        return error(f"Only {'/'.join(rule['formats'])} formats are supported")
    if "bytes" in rule and info["bytes"] > rule["bytes"]:
        return error("File is too large")
    if "seconds" in rule and not rule["seconds"][0] <= info["seconds"] <= rule["seconds"][1]:
        return error(
            f"Video duration must be between {rule['seconds'][0]}s and {rule['seconds'][1]}s"
        )
    if "side" in rule:
        low, high = rule["side"]
        if min(info["width"], info["height"]) < low or max(info["width"], info["height"]) > high:
            return error(f"Video width and height must be between {low}px and {high}px")
    if "fps" in rule and not rule["fps"][0] <= info["fps"] <= rule["fps"][1]:
        return error(f"Video FPS must be between {rule['fps'][0]} and {rule['fps'][1]}")
    if (
        "frames" in rule
        and vace_input_frames == "limit"
        and body.get("match_input_num_frames")
        and not rule["frames"][0] <= info["frames"] <= rule["frames"][1]
    ):
        return error(
            f"Number of frames must be between {rule['frames'][0]} and {rule['frames'][1]}"
        )
    return []


def output_length(endpoint: str, body: dict[str, Any], info: dict[str, Any]) -> tuple[int, float]:
    """(frames, fps) of a video-to-video endpoint's output for a source probed as ``info``:

    - KLING_O3_PRO_EDIT: the source's own (the edit applies "across the full video
      duration", O1 edit page; billed per second generated);
    - WAN_22_VACE_FUN_DEPTH: ``num_frames`` (default 81) at ``frames_per_second`` (default
      16), or the source's frame count with ``match_input_num_frames`` and its rate with
      ``match_input_frames_per_second``."""
    if endpoint == KLING_O3_EDIT:
        return int(info["frames"]), float(info["fps"])
    frames = info["frames"] if body.get("match_input_num_frames") else body.get("num_frames", 81)
    fps = (
        info["fps"]
        if body.get("match_input_frames_per_second")
        else body.get("frames_per_second", 16)
    )
    return int(frames), float(fps)


def problems(endpoint: str, body: Any) -> list[dict[str, Any]]:
    """The validation errors of ``body`` for ``endpoint``, in the shape fal's webhook docs
    show for a 422 (``{"loc": ["body", field], "msg", "type"}``); [] when it is valid."""
    fields = ENDPOINTS[endpoint]
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
    out = []
    for name, rule in fields.items():
        if rule.get("required") and name not in body:
            out.append(
                {"loc": ["body", name], "msg": "field required", "type": "value_error.missing"}
            )
    for name, value in body.items():
        rule = fields.get(name)
        if rule is None:
            out.append(
                {
                    "loc": ["body", name],
                    "msg": "extra fields not permitted",
                    "type": "value_error.extra",
                }
            )
            continue
        kind = rule["type"]
        if kind == "url":
            ok = isinstance(value, str) and value.startswith(("http://", "https://", "data:"))
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            out.append(
                {
                    "loc": ["body", name],
                    "msg": f"not a valid {getattr(kind, '__name__', kind)}",
                    "type": "type_error",
                }
            )
        elif "enum" in rule and value not in rule["enum"]:
            out.append(
                {
                    "loc": ["body", name],
                    "msg": f"value is not a valid enumeration member; permitted: {rule['enum']}",
                    "type": "type_error.enum",
                }
            )
        elif ("minimum" in rule and value < rule["minimum"]) or (
            "maximum" in rule and value > rule["maximum"]
        ):
            out.append(
                {
                    "loc": ["body", name],
                    "msg": f"out of range {rule.get('minimum')}..{rule.get('maximum')}",
                    "type": "value_error.number",
                }
            )
    return out
