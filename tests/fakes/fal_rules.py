"""What the fal fake knows of each endpoint it serves: the input fields of its schema, as
fal's model pages list them (written from those pages, not from the plugin's table).

- SEEDANCE_T2V: https://fal.ai/models/bytedance/seedance-2.0/text-to-video/llms.txt
  ("Input Schema": ``prompt`` required; ``resolution`` ResolutionEnum ``480p``/``720p``,
  default ``720p``; ``duration`` DurationEnum; price $0.3034 per second of 720p).
- SEEDANCE_MINI_T2V: https://fal.ai/models/bytedance/seedance-2.0/mini/text-to-video/llms.txt
  (the same fields; $0.1547 per second of 720p).
- SEEDANCE_I2V: bytedance/seedance-2.0/image-to-video (page not read: the fields follow the
  text-to-video page plus ``image_url``/``end_image_url``; to verify).

The duration options (4 to 15 s), the aspect ratios and ``generate_audio``/``seed`` were read
from third-party pages quoting fal (docs.oxen.ai, comfy.org): to verify on fal's own pages.
"""

from __future__ import annotations

from typing import Any

DURATIONS = [str(n) for n in range(4, 16)]
RATIOS = ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]

_T2V: dict[str, dict[str, Any]] = {
    "prompt": {"type": str, "required": True},
    "resolution": {"type": str, "enum": ["480p", "720p"]},
    "duration": {"type": str, "enum": DURATIONS},
    "aspect_ratio": {"type": str, "enum": RATIOS},
    "generate_audio": {"type": bool},
    "seed": {"type": int},
}

ENDPOINTS: dict[str, dict[str, dict[str, Any]]] = {
    "bytedance/seedance-2.0/text-to-video": _T2V,
    "bytedance/seedance-2.0/mini/text-to-video": _T2V,
    "bytedance/seedance-2.0/image-to-video": {
        **_T2V,
        "aspect_ratio": {"type": str, "enum": ["auto", *RATIOS]},
        "image_url": {"type": "url", "required": True},
        "end_image_url": {"type": "url"},
    },
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
    return out
