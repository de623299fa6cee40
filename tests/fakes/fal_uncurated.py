"""What the fal fake serves from fal's Platform API (api.fal.ai/v1): each endpoint's OpenAPI
document (model search, ``expand=openapi-3.0``) and its price; and two endpoints the plugin's
table does not curate, to be reached by id through the engine ``fal``.

Sources (read 2026-12-03):

- **MODELS**: https://fal.ai/docs/platform-apis/v1/models ("Find Mode": ``GET /v1/models?
  endpoint_id=<id>``; ``expand=openapi-3.0`` puts "the full OpenAPI 3.0 schema in the
  'openapi' field" of each model; the answer: ``models`` (array), ``next_cursor``,
  ``has_more``; "Authentication: Optional").
- **PRICING**: https://fal.ai/docs/platform-apis/v1/models/pricing (``GET /v1/models/pricing?
  endpoint_id=<id>``, key required: ``{"prices": [{"endpoint_id", "unit_price", "unit",
  "currency"}], "next_cursor", "has_more"}``). The docs' only example unit is ``"image"``;
  ``"second"`` for a video endpoint is the fake's guess.
- **HAPPY_HORSE**: https://fal.ai/models/alibaba/happy-horse/reference-to-video/llms.txt (its
  "Queue OpenAPI for alibaba/happy-horse/reference-to-video": ``info.x-fal-metadata``;
  ``components.schemas.HappyHorseReferenceToVideoInput`` with ``required`` [prompt,
  image_urls], ``duration`` integer enum 3..15 default 5, ``resolution`` enum 720p/1080p,
  ``aspect_ratio`` enum 16:9/9:16/1:1/4:3/3:4, ``seed`` anyOf integer/null,
  ``enable_safety_checker`` boolean, ``x-fal-order-properties``; ``paths`` for submit
  (POST /<id>, body ``$ref`` to the input), status, cancel and result; $0.28 per second of
  1080p). The fake serves that document for that id, and for
  ``alibaba/happy-horse/text-to-video`` the same document without ``image_urls`` (that
  endpoint's own page was not read: its input here is the fake's assumption).

The curated endpoints (``fal_rules.ENDPOINTS``) get a document built the same way from their
fields, so the fake answers every endpoint it serves.
"""

from __future__ import annotations

import copy
from typing import Any

from .fal_rules import ENDPOINTS as CURATED

REFERENCE = "alibaba/happy-horse/reference-to-video"
TEXT = "alibaba/happy-horse/text-to-video"

_QUEUE_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]},
        "request_id": {"type": "string", "description": "The request id."},
        "response_url": {"type": "string"},
        "status_url": {"type": "string"},
        "cancel_url": {"type": "string"},
        "logs": {"type": "object", "additionalProperties": True},
        "metrics": {"type": "object", "additionalProperties": True},
        "queue_position": {"type": "integer"},
    },
    "required": ["status", "request_id"],
}

_HAPPY_HORSE_INPUT: dict[str, Any] = {  # HAPPY_HORSE, its input schema
    "required": ["prompt", "image_urls"],
    "description": "Input for Happy Horse reference-to-video generation (1-9 reference images).",
    "type": "object",
    "title": "HappyHorseReferenceToVideoInput",
    "properties": {
        "duration": {
            "default": 5,
            "description": "Output video duration in seconds (3-15).",
            "type": "integer",
            "title": "Duration",
            "enum": list(range(3, 16)),
        },
        "prompt": {"type": "string", "title": "Prompt", "minLength": 1},
        "resolution": {
            "default": "1080p",
            "title": "Resolution",
            "enum": ["720p", "1080p"],
            "type": "string",
        },
        "image_urls": {
            "items": {"_fal_ui_field": "image", "type": "string"},
            "type": "array",
            "title": "Image Urls",
        },
        "aspect_ratio": {
            "default": "16:9",
            "title": "Aspect Ratio",
            "enum": ["16:9", "9:16", "1:1", "4:3", "3:4"],
            "type": "string",
        },
        "enable_safety_checker": {
            "default": True,
            "title": "Enable Safety Checker",
            "type": "boolean",
        },
        "seed": {"title": "Seed", "anyOf": [{"type": "integer"}, {"type": "null"}]},
    },
    "x-fal-order-properties": [
        "prompt",
        "image_urls",
        "aspect_ratio",
        "resolution",
        "duration",
        "seed",
        "enable_safety_checker",
    ],
}

_VIDEO_OUTPUT: dict[str, Any] = {
    "required": ["video", "seed"],
    "type": "object",
    "properties": {
        "seed": {"type": "integer"},
        "video": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}, "content_type": {"type": "string"}},
        },
    },
}


def document(endpoint: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A "Queue OpenAPI" document for ``endpoint`` whose input is ``schema`` (HAPPY_HORSE's
    layout)."""
    ref = {"$ref": f"#/components/schemas/{name}Input"}
    request = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {endpoint}",
            "version": "1.0.0",
            "x-fal-metadata": {"endpointId": endpoint, "category": "text-to-video"},
        },
        "components": {
            "securitySchemes": {
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
            "schemas": {
                "QueueStatus": _QUEUE_STATUS,
                f"{name}Input": schema,
                f"{name}Output": _VIDEO_OUTPUT,
            },
        },
        "paths": {
            f"/{endpoint}/requests/{{request_id}}/status": {
                "get": {"parameters": [request], "responses": {"200": {"description": "status"}}}
            },
            f"/{endpoint}/requests/{{request_id}}/cancel": {
                "put": {"parameters": [request], "responses": {"200": {"description": "ok"}}}
            },
            f"/{endpoint}": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref}},
                    },
                    "responses": {
                        "200": {
                            "description": "The request status.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/QueueStatus"}
                                }
                            },
                        }
                    },
                }
            },
            f"/{endpoint}/requests/{{request_id}}": {
                "get": {"parameters": [request], "responses": {"200": {"description": "result"}}}
            },
        },
        "servers": [{"url": "https://queue.fal.run"}],
        "security": [{"apiKeyAuth": []}],
    }


def _text_input() -> dict[str, Any]:
    schema = copy.deepcopy(_HAPPY_HORSE_INPUT)
    del schema["properties"]["image_urls"]
    schema["required"] = ["prompt"]
    schema["title"] = "HappyHorseTextToVideoInput"
    schema["x-fal-order-properties"].remove("image_urls")
    return schema


def _from_rules(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    kinds = {str: "string", int: "integer", bool: "boolean", "url": "string"}
    properties: dict[str, Any] = {}
    for name, rule in fields.items():
        prop: dict[str, Any] = {"type": kinds.get(rule["type"], "string"), "title": name}
        if "enum" in rule:
            prop["enum"] = list(rule["enum"])
        properties[name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": [n for n, r in fields.items() if r.get("required")],
        "x-fal-order-properties": list(fields),
    }


UNCURATED: dict[str, dict[str, Any]] = {  # endpoint id -> its input schema
    REFERENCE: _HAPPY_HORSE_INPUT,
    TEXT: _text_input(),
}

PRICES: dict[str, dict[str, Any]] = {  # PRICING (HAPPY_HORSE: $0.28/s at 1080p)
    REFERENCE: {"unit_price": 0.28, "unit": "second", "currency": "USD"},
    TEXT: {"unit_price": 0.28, "unit": "second", "currency": "USD"},
}


def _name(endpoint: str) -> str:
    return "".join(p.capitalize() for p in endpoint.replace("-", "/").replace(".", "/").split("/"))


def documents() -> dict[str, dict[str, Any]]:
    """Every endpoint the fake serves, with its OpenAPI document."""
    out = {e: document(e, _name(e), _from_rules(fields)) for e, fields in CURATED.items()}
    out.update({e: document(e, _name(e), schema) for e, schema in UNCURATED.items()})
    return out


def problems(endpoint: str, body: Any) -> list[dict[str, Any]]:
    """The validation errors of ``body`` against an uncurated endpoint's input schema, in the
    shape ``fal_rules.problems`` gives (fal's 422 ``detail``)."""
    schema = UNCURATED[endpoint]
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
    out = []
    for name in schema["required"]:
        if name not in body:
            out.append(
                {"loc": ["body", name], "msg": "field required", "type": "value_error.missing"}
            )
    props = schema["properties"]
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
    }
    for name, value in body.items():
        prop = props.get(name)
        if prop is None:
            out.append(
                {
                    "loc": ["body", name],
                    "msg": "extra fields not permitted",
                    "type": "value_error.extra",
                }
            )
            continue
        kinds = [prop["type"]] if "type" in prop else [a["type"] for a in prop.get("anyOf", [])]
        if value is None and "null" in kinds:
            continue
        if not any(checks.get(k, lambda v: True)(value) for k in kinds):
            out.append(
                {"loc": ["body", name], "msg": f"not a valid {kinds[0]}", "type": "type_error"}
            )
        elif "enum" in prop and value not in prop["enum"]:
            out.append(
                {
                    "loc": ["body", name],
                    "msg": f"value is not a valid enumeration member; permitted: {prop['enum']}",
                    "type": "type_error.enum",
                }
            )
    return out
