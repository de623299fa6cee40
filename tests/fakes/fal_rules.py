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

Types: ``str``, ``int``, ``bool``, ``float`` (any number), ``list``, ``"url"``.
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
}


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
