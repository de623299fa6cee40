"""Two more kinds of Gemini ``generateContent`` for the loopback fake (``google_server.py``
routes them here): a text model asked for structured output (the "writer") and a Gemini image
model (the "image" endpoint). Rules follow Google's docs and the google-genai 2.34 SDK types,
each with its source beside it; [3P] marks a third-party source; what no source says is called
the fake's choice (and is a switch where a test may want the other way).

Sources, cited by tag below:
[SO]  ai.google.dev/gemini-api/docs/structured-output, "JSON schema support" and "Limitations"
      (a copy: github.com/shamansoft/kukbuk-srv docs/structrured-output-gemini.md).
[BLOG] blog.google "Improving Structured Outputs in the Gemini API" (2025-11-05): JSON Schema
      for every active model, anyOf, $ref (recursive schemas), minimum/maximum,
      additionalProperties, type "null", prefixItems; keys kept in the schema's order.
[FB]  firebase.google.com/docs/ai-logic/generate-structured-output (2026 revisions): the models
      that take a response schema; "the size of the response schema counts toward the input
      token limit"; the OpenAPI ``Schema`` subset.
[IMG] ai.google.dev/gemini-api/docs/image-generation (zh-cn copy): the aspect-ratio x size
      pixel and token tables, "1K, 2K, 4K" with an upper-case K ("lower-case ... rejected"),
      default modalities TEXT and IMAGE, default aspect "the input image's, else 1:1", "no audio
      or video input", gemini-2.5-flash-image takes at most 3 input images, gemini-3-pro-image
      14 (5 of people).
[V31] docs.cloud.google.com .../models/gemini/3-1-flash-image (Vertex model card, 2026): GA
      ``gemini-3.1-flash-image`` (2026-05-28); 14 images a prompt; 7 MB an inline image;
      aspect ratios incl. 1:4 4:1 1:8 8:1; sizes 512, 1K, 2K, 4K; 1120 input tokens an image;
      747 / 1120 / 1680 / 2520 output tokens at 512 / 1K / 2K / 4K.
[SDK] google-genai 2.34 ``types.FinishReason`` (MAX_TOKENS, IMAGE_SAFETY,
      IMAGE_PROHIBITED_CONTENT, NO_IMAGE...), ``types.ImageConfig`` (aspect_ratio, image_size;
      person_generation, output_mime_type... "not supported in Gemini API": the SDK raises).

Writer: a ``generateContent`` to a ``WRITER_MODELS`` id ([FB]'s supported models; others 404)
whose ``generationConfig`` carries ``responseMimeType: application/json`` and exactly one of
``responseJsonSchema`` (JSON Schema) or ``responseSchema`` (OpenAPI subset) that is not a vision
judge's verdict schema (those stay the judge's). The schema is checked (``check_json_schema``,
``check_openapi_schema``): types from [SO]'s list; ``$ref`` must point into the schema
(``#``, ``#/$defs/...``, ``#/definitions/...``); ``enum``/``anyOf`` non-empty; a minimum above
its maximum (items, length, properties, value) is refused (the fake's choice: nothing could
match); ``responseSchema`` takes only the proto ``Schema``'s fields (another is a 400 "Unknown
name", as proto JSON parsing answers, e.g. ``additionalProperties`` there); a schema deeper than
``MAX_SCHEMA_DEPTH`` or with more than ``MAX_SCHEMA_NODES`` subschemas is a 400 "too many states"
([SO] "may reject very large or deeply nested schemas"; wording [3P] ai-sdk-provider-gemini-cli;
thresholds the fake's). Keywords outside [SO]/[BLOG]'s list are ignored ([SO]: "The model
ignores unsupported properties") and listed in the record's ``ignored``. Parts: text and
images (as the judge checks them), roles user | model (a repair loop sends the earlier answer
back), ``systemInstruction`` of text. The answer is ONE candidate with ONE JSON text part:
  1. ``script_writer(answer, finish_reason="STOP", count=1)``: queued exact answers (a dict as
     JSON, a str as it is, None: a candidate without content); not cut by maxOutputTokens.
  2. else ``writer``: a callable the test sets, given the ``WriterRequest`` (``texts``,
     ``system_instruction``, ``schema``, ``turns``...), returning the JSON text (or a dict;
     None: a candidate without content); if it raises, the answer is a 500 INTERNAL naming
     the exception (recorded in ``error``), so a broken stand-in shows in the test.
  3. else ``instance(schema, text)``: an instance the fake draws from the schema (required
     properties in the schema's order, or ``propertyOrdering``; ``minProperties`` filled with
     words of the prompt as keys; ``const``, then the first ``enum`` value; the first
     non-null ``anyOf`` branch; ``$ref`` followed, recursion ended by the null branch or
     ``minItems`` 0 past ``GENERATE_DEPTH``; ``minItems`` (at least one item where allowed);
     numbers inside ``minimum``/``maximum``/exclusive bounds; strings from the prompt's words
     at least ``minLength`` long; ``format`` date-time | date | time honoured). It conforms
     to the schema, as [SO] promises structured output does; of the keywords the API ignores,
     ``const``, ``minLength``, ``minProperties`` and exclusive bounds are honoured too (so a
     client's own validation passes), the rest (``pattern``, ``oneOf``, ``allOf``, ``not``...)
     are not. A schema with no finite instance (a required recursion) is a 400 "too many
     states" past ``MAX_DRAW_DEPTH`` (the fake's).
``maxOutputTokens``: an answer from 2 or 3 longer than it (a token per ``CHARS_PER_TOKEN``
characters) is cut to that many tokens and ends ``finishReason: MAX_TOKENS`` ([SDK] "reached
the configured maximum output tokens"; the text is then not valid JSON). A blocked word in a
text part: no candidates, ``promptFeedback.blockReason: PROHIBITED_CONTENT``. ``usageMetadata``:
``promptTokenCount`` = a token per 4 characters of the texts, the system instruction and the
schema's JSON ([FB]) plus ``JUDGE_IMAGE_TOKENS`` an image (``promptTokensDetails``),
``candidatesTokenCount`` a token per 4 characters answered, ``thoughtsTokenCount``
``WRITER_THOUGHT_TOKENS`` (0 with ``thinkingConfig.thinkingBudget: 0``; thoughts do not count
against ``maxOutputTokens``: the fake's choice), ``totalTokenCount``; priced in the record
(``usd``) at ``WRITER_PRICES`` where the pricing page lists the model. ``writer_latency`` (0) s
pass first. Recorded in ``writer_requests`` (``WriterRequest``).

Image: a ``generateContent`` to a model id holding ``image``. ``IMAGE_MODELS`` are served;
``RETIRED_IMAGE_MODELS`` (the preview ids, shut down 2026-06-25 per the deprecations page as
[3P] gemilab quotes it) answer 404 "no longer available" unless ``serve_image_previews=True``;
other ids 404; on Vertex project mode only in ``IMAGE_LOCATIONS`` (global [V31]). Parts:
text, and ``inlineData`` images (``IMAGE_INPUT_TYPES``, at most ``MAX_INLINE_IMAGE_BYTES`` each
[V31]; audio or video: 400 [IMG]), at most the model's ``max_inputs`` images in the request
([IMG], [V31]; more: 400). ``generationConfig``:
``responseModalities`` (default ["TEXT", "IMAGE"] [IMG]; ["IMAGE"] answers no text; without
IMAGE or with AUDIO: 400, the fake's), ``imageConfig`` ``aspectRatio`` (the model's list;
default: the first input image's nearest ratio, else 1:1 [IMG]) and ``imageSize`` (the model's
sizes, upper-case K; default 1K [SDK]); ``personGeneration``/``outputMimeType``/
``outputCompressionQuality`` only on Vertex ([SDK]: "not supported in Gemini API"; on the wire
``personGeneration`` and ``imageOutputOptions {mimeType, compressionQuality}``; image/jpeg
answers a JPEG). A response schema or JSON mime type on an image
model: 400 "JSON mode is not enabled" (the fake's choice; [IMG] shows none). The answer: a
text part (when TEXT is asked) then one ``inlineData`` ``image/png`` of the documented pixel
size ([IMG], [V31] tables; ``image_pixels``), drawn with Pillow from the prompt (colours and
shapes from its hash, the input images as thumbnails along the bottom); on Gemini 3 models the
image part carries a ``thoughtSignature`` ([IMG] "Thought signatures"). ``usageMetadata``:
prompt tokens (a token per 4 characters plus the model's ``input_image_tokens`` an input
image), ``candidatesTokenCount`` = the model's tokens for that size ([IMG], [V31]) plus the
text's, ``candidatesTokensDetails`` IMAGE/TEXT. A blocked word: per ``image_blocked``
("IMAGE_SAFETY", default, or "IMAGE_PROHIBITED_CONTENT": a candidate with that finishReason and
no content [SDK]; "prompt": ``promptFeedback.blockReason: PROHIBITED_CONTENT``, no candidates;
the docs do not say which shows: a switch). ``script_image(finish_reason="NO_IMAGE",
text=None, count=1)`` queues answers without an image (a text part if ``text``). Priced in the
record (``usd``) at the model's ``ImageModel`` prices ([3P] where marked). ``image_latency``
(0) s pass first. Recorded in ``image_requests`` (``ImageRequest``).

Faults: ``fail_next("writer" | "image", kind)`` as for the other endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .google_server import (
    GENERATION_FIELDS,
    HOLD,
    JUDGE_IMAGE_TOKENS,
    JUDGE_MAX_REQUEST_BYTES,
    GoogleError,
    JudgeRequest,
    Route,
    _contents,
    _is_verdict,
    _parse_content,
    _proto_bytes,
    _snake,
    bad,
    hold,
    unknown_field,
)

if TYPE_CHECKING:
    from .google_server import GoogleServer, _Handler

# -- the writer -----------------------------------------------------------------------------
# [FB] "models that support this feature" across its 2026 revisions, plus the judge's ids.
WRITER_MODELS = (
    "gemini-4-argon",
    "gemini-3.8-flash",
    "gemini-3.7-flash",
    "gemini-3.6-flash",
    "gemini-3.5-flash",
    "gemini-3.5-flash-lite",
    "gemini-3.1-pro-preview",
    "gemini-3.1-flash-lite",
    "gemini-2.5-flash",
)
# USD per 1M tokens (input, output with thinking: "thinking tokens bill as output"), from
# ai.google.dev/gemini-api/docs/pricing as [3P] morphllm.com/gemini-api-pricing lists it; the
# ids it does not list (3.8 flash, 4 argon...) are unpriced: ``WriterRequest.usd`` is None.
WRITER_PRICES: dict[str, tuple[float, float]] = {
    "gemini-3.5-flash": (1.50, 9.00),
    "gemini-3.1-pro-preview": (2.00, 12.00),
    "gemini-3.1-flash-lite": (0.25, 1.50),
    "gemini-2.5-flash": (0.30, 2.50),
}
CHARS_PER_TOKEN = 4  # the fake's count (and the judge's, the TTS's)
WRITER_THOUGHT_TOKENS = 128  # the fake's: thinking models bill thoughts as output
MAX_SCHEMA_DEPTH = 40  # the fake's thresholds for [SO]'s "very large or deeply nested"
MAX_SCHEMA_NODES = 4000
GENERATE_DEPTH = 12  # past this, generation takes the shortest way out of a recursion
MAX_DRAW_DEPTH = 120  # past this, the schema has no finite instance
TOO_MANY_STATES = (
    "The specified schema produces a constraint that has too many states for serving. Typical"
    " causes of this error are schemas with lots of text (for example, very long property or"
    " enum names), schemas with long array length limits (especially when nested), or schemas"
    " using complex value matchers (for example, integers or numbers with minimum/maximum"
    " bounds or strings with complex formats like date-time)"
)
JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
# [SO] "JSON schema support" and [BLOG]: what the API uses; anything else is ignored. $id,
# $anchor and $schema name things; default/examples are descriptive.
JSON_SCHEMA_KEYWORDS = frozenset(
    {
        "$id",
        "$defs",
        "definitions",
        "$ref",
        "$anchor",
        "$schema",
        "type",
        "title",
        "description",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "format",
        "minimum",
        "maximum",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "anyOf",
    }
)
STRING_FORMATS = ("date-time", "date", "time")  # [SO]; other formats are ignored
# The proto ``Schema`` of the Gemini API (v1beta), snake_case ([FB]'s field list and the SDK's
# types.Schema for the Gemini API): every other key is a 400 "Unknown name".
OPENAPI_FIELDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "max_items",
        "min_items",
        "properties",
        "required",
        "min_properties",
        "max_properties",
        "min_length",
        "max_length",
        "pattern",
        "example",
        "any_of",
        "property_ordering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)
OPENAPI_TYPES = ("TYPE_UNSPECIFIED", *(t.upper() for t in JSON_TYPES))
WRITER_GENERATION_FIELDS = frozenset(
    {*GENERATION_FIELDS, "response_logprobs", "logprobs", "thinking_config"}
)


@dataclass
class WriterRequest:
    """One structured-output request that reached the writer (answered, blocked or refused)."""

    backend: str
    model: str
    body: dict[str, Any]  # the request JSON as received ({} if it was not JSON)
    texts: list[str] = field(default_factory=list)  # every text part, in order
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, its text) per content
    images: list[tuple[str, bytes]] = field(default_factory=list)
    system_instruction: str = ""
    schema: dict[str, Any] = field(default_factory=dict)  # as sent
    schema_field: str = ""  # "response_json_schema" | "response_schema"
    generation_config: dict[str, Any] = field(default_factory=dict)  # snake_case keys
    ignored: list[str] = field(default_factory=list)  # schema keywords the API ignores [SO]
    source: str = ""  # "script" | "writer" | "schema": where the answer came from
    answer: str = ""  # the text answered (after any cut)
    finish_reason: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    usd: float | None = None  # its price at WRITER_PRICES (None: the model is unpriced)
    blocked: bool = False
    error: str | None = None  # the message of the 4xx it got, if refused

    @property
    def text(self) -> str:
        """The user's text parts, joined (the prompt)."""
        return "\n".join(t for role, t in self.turns if role == "user")

    @property
    def max_output_tokens(self) -> int | None:
        value = self.generation_config.get("max_output_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


Writer = Callable[[WriterRequest], "str | Mapping[str, Any] | None"]


def schema_of(body: bytes) -> tuple[str, Any] | None:
    """The response schema a generateContent body carries, read leniently (for routing)."""
    try:
        data = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    config = next((v for k, v in data.items() if _snake(k) == "generation_config"), None)
    if not isinstance(config, dict):
        return None
    found = [(_snake(k), v) for k, v in config.items() if _snake(k).startswith("response_")]
    schemas = [(k, v) for k, v in found if k in ("response_json_schema", "response_schema")]
    return schemas[0] if len(schemas) == 1 and schemas[0][1] is not None else None


def is_writer_request(body: bytes) -> bool:
    """A structured-output request that is not a vision judge's: exactly one response schema,
    and no verdict (``reason``/``score``/``passed``) among its top-level properties or under
    ``identity`` (the judge's shape, google_server.py)."""
    found = schema_of(body)
    if found is None or not isinstance(found[1], dict):
        return False
    properties = found[1].get("properties")
    if not isinstance(properties, dict):
        return True
    for name, sub in properties.items():
        if _is_verdict(sub):
            return False
        if name == "identity" and isinstance(sub, dict):
            people = sub.get("properties")
            if isinstance(people, dict) and any(_is_verdict(p) for p in people.values()):
                return False
    return True


# -- schema checks --------------------------------------------------------------------------
def check_json_schema(
    schema: Any, where: str = "generation_config.response_json_schema"
) -> list[str]:
    """Refuse what the API refuses in a ``responseJsonSchema``; the ignored keywords, sorted."""
    if not isinstance(schema, dict):
        raise bad(f"Invalid JSON schema at '{where}': a schema must be an object.")
    ignored: set[str] = set()
    nodes = 0

    def walk(node: Any, path: str, depth: int) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_SCHEMA_NODES or depth > MAX_SCHEMA_DEPTH:
            raise bad(TOO_MANY_STATES)
        if isinstance(node, bool):
            return
        if not isinstance(node, dict):
            raise bad(f"Invalid JSON schema at '{path}': a schema must be an object or a boolean.")
        ignored.update(k for k in node if k not in JSON_SCHEMA_KEYWORDS)
        types = node.get("type")
        for t in types if isinstance(types, list) else [types]:
            if t is not None and t not in JSON_TYPES:
                raise bad(f"Invalid JSON schema at '{path}.type': unknown type {t!r}.")
        ref = node.get("$ref")
        if ref is not None and _resolve(schema, ref) is None:
            raise bad(f"Invalid JSON schema at '{path}.$ref': cannot resolve {ref!r}.")
        for name in ("enum", "anyOf"):
            if name in node and (not isinstance(node[name], list) or not node[name]):
                raise bad(f"Invalid JSON schema at '{path}.{name}': a non-empty array.")
        if "required" in node and not (
            isinstance(node["required"], list) and all(isinstance(r, str) for r in node["required"])
        ):
            raise bad(f"Invalid JSON schema at '{path}.required': an array of strings.")
        _check_bounds(node, path, camel=True)
        for name in ("properties", "$defs", "definitions"):
            children = node.get(name)
            if children is None:
                continue
            if not isinstance(children, dict):
                raise bad(f"Invalid JSON schema at '{path}.{name}': an object of schemas.")
            for key, child in children.items():
                walk(child, f"{path}.{name}.{key}", depth + 1)
        for name in ("items", "additionalProperties"):
            if name in node:
                walk(node[name], f"{path}.{name}", depth + 1)
        for name in ("anyOf", "prefixItems"):
            for i, child in enumerate(node.get(name) or []):
                walk(child, f"{path}.{name}[{i}]", depth + 1)

    walk(schema, where, 0)
    return sorted(ignored)


def check_openapi_schema(schema: Any, where: str = "generation_config.response_schema") -> None:
    """Refuse what the API refuses in a ``responseSchema`` (the proto ``Schema``)."""
    nodes = 0

    def walk(node: Any, path: str, depth: int) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_SCHEMA_NODES or depth > MAX_SCHEMA_DEPTH:
            raise bad(TOO_MANY_STATES)
        if not isinstance(node, dict):
            raise bad(f"Invalid value at '{path}': a Schema object.")
        for name in node:
            if _snake(name) not in OPENAPI_FIELDS:
                raise unknown_field(name, path)
        node = {_snake(k): v for k, v in node.items()}
        kind = node.get("type")
        if kind is not None and str(kind).upper() not in OPENAPI_TYPES:
            raise bad(
                f"Invalid value at '{path}.type' (type.googleapis.com/google.ai."
                f'generativelanguage.v1beta.Type), "{kind}"'
            )
        for name in ("enum", "any_of"):
            if name in node and (not isinstance(node[name], list) or not node[name]):
                raise bad(f"Invalid value at '{path}.{name}': a non-empty list.")
        _check_bounds(node, path, camel=False)
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.properties[{key!r}]", depth + 1)
        if "items" in node:
            walk(node["items"], f"{path}.items", depth + 1)
        for i, child in enumerate(node.get("any_of") or []):
            walk(child, f"{path}.any_of[{i}]", depth + 1)

    walk(schema, where, 0)


_BOUNDS = (
    ("minItems", "maxItems"),
    ("minLength", "maxLength"),
    ("minProperties", "maxProperties"),
    ("minimum", "maximum"),
)


def _check_bounds(node: dict[str, Any], path: str, *, camel: bool) -> None:
    for low, high in _BOUNDS:
        names = (low, high) if camel else (_snake(low), _snake(high))
        lo, hi = node.get(names[0]), node.get(names[1])
        if low != "minimum":  # proto int64 fields arrive as strings too
            lo, hi = _count(lo), _count(hi)
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
            raise bad(f"Invalid JSON schema at '{path}': {names[0]} {lo} > {names[1]} {hi}.")


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _resolve(root: dict[str, Any], ref: Any) -> Any:
    """The subschema a local ``$ref`` names, or None."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    node: Any = root
    for token in filter(None, ref[1:].split("/")):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    return node


_COUNTS = ("min_items", "max_items", "min_length", "max_length", "min_properties", "max_properties")


def openapi_to_json(schema: Any) -> Any:
    """A ``responseSchema`` (proto Schema, either key spelling) as JSON Schema, to draw from."""
    if not isinstance(schema, dict):
        return schema
    node = {_snake(k): v for k, v in schema.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            out["type"] = str(value).lower()
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: openapi_to_json(v) for k, v in value.items()}
        elif key == "items":
            out["items"] = openapi_to_json(value)
        elif key == "any_of" and isinstance(value, list):
            out["anyOf"] = [openapi_to_json(v) for v in value]
        elif key == "property_ordering":
            out["propertyOrdering"] = value
        elif key in _COUNTS:
            out[_camel(key)] = _count(value)
        elif key != "nullable":
            out[_camel(key)] = value
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


# -- drawing an instance from a schema ------------------------------------------------------
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


class _Words:
    """The prompt's words, handed out in turn (strings and keys the model "wrote")."""

    def __init__(self, text: str) -> None:
        self.words = [w.lower() for w in _WORD.findall(text)] or ["story"]
        self.at = 0

    def take(self, n: int) -> list[str]:
        out = [self.words[(self.at + i) % len(self.words)] for i in range(n)]
        self.at += n
        return out


def instance(schema: dict[str, Any], text: str) -> Any:
    """A JSON value that conforms to ``schema`` (JSON Schema), its strings from ``text``."""
    return _draw(schema, schema, _Words(text), 0)


def _draw(node: Any, root: dict[str, Any], words: _Words, depth: int) -> Any:
    if depth > MAX_DRAW_DEPTH:
        raise bad(TOO_MANY_STATES)
    if node is True or node == {} or not isinstance(node, dict):
        return " ".join(words.take(2))
    if "$ref" in node:
        return _draw(_resolve(root, node["$ref"]), root, words, depth + 1)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    if node.get("anyOf"):
        options = node["anyOf"]
        nulls = [o for o in options if _is_null(o, root)]
        others = [o for o in options if not _is_null(o, root)]
        chosen = nulls[0] if (depth > GENERATE_DEPTH and nulls) or not others else others[0]
        return _draw(chosen, root, words, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        real = [t for t in kind if t != "null"]
        kind = "null" if not real or (depth > GENERATE_DEPTH and "null" in kind) else real[0]
    if kind is None:
        kind = "object" if "properties" in node else "array" if "items" in node else "string"
    if kind == "object":
        return _draw_object(node, root, words, depth)
    if kind == "array":
        return _draw_array(node, root, words, depth)
    if kind in ("integer", "number"):
        return _draw_number(node, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _draw_string(node, words)


def _is_null(node: Any, root: dict[str, Any]) -> bool:
    if isinstance(node, dict) and "$ref" in node:
        node = _resolve(root, node["$ref"])
    return isinstance(node, dict) and node.get("type") == "null"


def _draw_object(node: dict[str, Any], root: dict[str, Any], words: _Words, depth: int) -> Any:
    properties: dict[str, Any] = node.get("properties") or {}
    order = [p for p in node.get("propertyOrdering") or [] if p in properties]
    order += [p for p in properties if p not in order]
    required = set(node.get("required") or [])
    want = _count(node.get("minProperties")) or 0
    chosen = [p for p in order if p in required]
    for p in order:  # optional properties only as far as minProperties needs them
        if len(chosen) >= want:
            break
        if p not in chosen:
            chosen.append(p)
    chosen.sort(key=order.index)
    out = {p: _draw(properties[p], root, words, depth + 1) for p in chosen}
    out.update({r: " ".join(words.take(2)) for r in required if r not in properties})
    extra = node.get("additionalProperties")
    while len(out) < want and extra is not False:
        key = "-".join(words.take(1))
        key = key if key not in out else f"{key}-{len(out)}"
        out[key] = _draw(extra if isinstance(extra, dict) else {}, root, words, depth + 1)
    return out


def _draw_array(node: dict[str, Any], root: dict[str, Any], words: _Words, depth: int) -> Any:
    prefix = node.get("prefixItems") or []
    low = _count(node.get("minItems")) or 0
    high = _count(node.get("maxItems"))
    n = max(low, len(prefix), 1 if depth <= GENERATE_DEPTH else 0)
    if high is not None:
        n = min(n, high)
    out = [_draw(prefix[i], root, words, depth + 1) for i in range(min(n, len(prefix)))]
    items = node.get("items", {})
    out += [_draw(items, root, words, depth + 1) for _ in range(n - len(out))]
    return out


def _draw_number(node: dict[str, Any], integer: bool) -> int | float:
    def num(name: str) -> float | None:
        value = node.get(name)
        return (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )

    low, high = num("minimum"), num("maximum")
    xlow, xhigh = num("exclusiveMinimum"), num("exclusiveMaximum")
    step = 1.0 if integer else 0.5
    if xlow is not None:
        low = max(low if low is not None else xlow + step, xlow + step)
    if xhigh is not None:
        high = min(high if high is not None else xhigh - step, xhigh - step)
    if low is not None and high is not None:
        value = (low + high) / 2
    elif low is not None:
        value = low + step
    elif high is not None:
        value = min(high, 1.0) if high >= 1 else high - step
    else:
        value = 2.0 if integer else 2.5
    if integer:
        value = math.ceil(value) if low is not None else math.floor(value)
        if high is not None and value > high:
            value = math.floor(high)
        return int(value)
    return value


def _draw_string(node: dict[str, Any], words: _Words) -> str:
    fmt = node.get("format")
    if fmt == "date-time":
        return "2026-12-04T06:00:00Z"
    if fmt == "date":
        return "2026-12-04"
    if fmt == "time":
        return "06:00:00"
    text = " ".join(words.take(3))
    low = _count(node.get("minLength")) or 0
    while len(text) < low:
        text += " " + " ".join(words.take(3))
    high = _count(node.get("maxLength"))
    return text[:high].rstrip() or text[:high] if high is not None else text


# -- the writer endpoint --------------------------------------------------------------------
def writer(server: GoogleServer, h: _Handler, route: Route, body: bytes) -> None:
    """Answer one structured-output request (see the module docstring)."""
    try:
        raw = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    record = WriterRequest(route.backend, route.model, raw if isinstance(raw, dict) else {})
    try:
        if route.model not in WRITER_MODELS:
            raise server._model_not_found(route)
        if len(body) > JUDGE_MAX_REQUEST_BYTES:
            raise bad(f"Request payload size exceeds the limit: {JUDGE_MAX_REQUEST_BYTES} bytes.")
        _parse_writer(record.body, record)
    except Exception as exc:
        record.error = getattr(exc, "message", str(exc))
        with server._lock:
            server.writer_requests.append(record)
        raise
    if server.writer_latency:
        time.sleep(server.writer_latency)
    with server._lock:
        scripted = server._writer_script.popleft() if server._writer_script else None
        response_id = _response_id(server)
    answer: dict[str, Any] = {"modelVersion": route.model, "responseId": response_id}
    record.blocked = any(server._blocked(t) for t in record.texts)
    if record.blocked:
        answer["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT"}
    else:
        try:
            text, finish = _answer(server, record, scripted)
        except GoogleError as exc:
            record.error = exc.message
            with server._lock:
                server.writer_requests.append(record)
            raise
        record.answer, record.finish_reason = text or "", finish
        candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
        if text is not None:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        answer["candidates"] = [candidate]
    record.usage = answer["usageMetadata"] = _writer_usage(record)
    if route.model in WRITER_PRICES:
        per_input, per_output = WRITER_PRICES[route.model]
        out = record.usage.get("candidatesTokenCount", 0) + record.usage.get(
            "thoughtsTokenCount", 0
        )
        record.usd = (record.usage["promptTokenCount"] * per_input + out * per_output) / 1e6
    with server._lock:
        server.writer_requests.append(record)
    h.send_json(200, answer)


def _answer(
    server: GoogleServer, record: WriterRequest, scripted: tuple[str | None, str] | None
) -> tuple[str | None, str]:
    if scripted is not None:
        record.source = "script"
        return scripted
    play = server.writer
    if play is not None:
        record.source = "writer"
        try:
            made = play(record)
        except Exception as exc:
            raise GoogleError(
                500, "INTERNAL", f"The test's writer raised {type(exc).__name__}: {exc}"
            ) from None
        if made is None:
            return None, "STOP"
        text = json.dumps(made) if isinstance(made, Mapping) else str(made)
    else:
        record.source = "schema"
        drawn = record.schema
        if record.schema_field == "response_schema":
            drawn = openapi_to_json(drawn)
        text = json.dumps(instance(drawn, record.text))
    limit = record.max_output_tokens
    if limit is not None and -(-len(text) // CHARS_PER_TOKEN) > limit:
        return text[: limit * CHARS_PER_TOKEN], "MAX_TOKENS"
    return text, "STOP"


def _parse_writer(data: dict[str, Any], record: WriterRequest) -> None:
    data = {_snake(k): v for k, v in data.items()}
    contents = _contents(data)
    for i, content in enumerate(contents):
        scratch = JudgeRequest("", "", {})
        _parse_content(content, f"contents[{i}]", scratch, images=True)
        if scratch.videos or scratch.sounds:
            raise bad(f"contents[{i}]: this fake's writer takes text and images only.")
        role = str({_snake(k): v for k, v in content.items()}.get("role") or "user")
        record.texts += scratch.texts
        record.images += scratch.images
        record.turns.append((role, "\n".join(scratch.texts)))
    system = data.get("system_instruction")
    if system is not None:
        scratch = JudgeRequest("", "", {})
        _parse_content(system, "system_instruction", scratch, images=False)
        record.system_instruction = "\n".join(scratch.texts)
    config = data.get("generation_config")
    if not isinstance(config, dict):
        raise bad("generation_config must be an object.")
    config = {_snake(k): v for k, v in config.items()}
    for name in config:
        if name not in WRITER_GENERATION_FIELDS:
            raise unknown_field(name, "generation_config")
    record.generation_config = config
    schemas = [n for n in ("response_json_schema", "response_schema") if config.get(n) is not None]
    if len(schemas) != 1:
        raise bad(
            "Exactly one of responseJsonSchema and responseSchema must be set"
            f" ({len(schemas)} given)."
        )
    mime = config.get("response_mime_type")
    if mime != "application/json":
        raise bad(
            f"responseMimeType {mime!r} is not supported with a response schema: use"
            " application/json."
        )
    modalities = [str(m).upper() for m in config.get("response_modalities") or ["TEXT"]]
    if modalities != ["TEXT"]:
        raise bad(f"Response modalities {', '.join(modalities)} are not supported by this model.")
    limit = config.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise bad(f"Invalid value at 'generation_config.max_output_tokens' ({limit!r}).")
    record.schema_field = schemas[0]
    record.schema = config[schemas[0]]
    if record.schema_field == "response_json_schema":
        record.ignored = check_json_schema(record.schema)
    else:
        check_openapi_schema(record.schema)


def _thoughts(record: WriterRequest) -> int:
    thinking = record.generation_config.get("thinking_config")
    if isinstance(thinking, dict):
        budget = {_snake(k): v for k, v in thinking.items()}.get("thinking_budget")
        if budget == 0:
            return 0
    return WRITER_THOUGHT_TOKENS


def _writer_usage(record: WriterRequest) -> dict[str, Any]:
    chars = len(record.system_instruction) + sum(map(len, record.texts))
    chars += len(json.dumps(record.schema)) if record.schema else 0
    text_tokens = -(-chars // CHARS_PER_TOKEN)
    image_tokens = JUDGE_IMAGE_TOKENS * len(record.images)
    prompt = text_tokens + image_tokens
    details = [{"modality": "TEXT", "tokenCount": text_tokens}]
    if image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "totalTokenCount": prompt,
        "promptTokensDetails": details,
    }
    if not record.blocked:
        answer = -(-len(record.answer) // CHARS_PER_TOKEN)
        limit = record.max_output_tokens
        if record.finish_reason == "MAX_TOKENS" and limit is not None:
            answer = limit
        thoughts = _thoughts(record)
        usage["candidatesTokenCount"] = answer
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        usage["totalTokenCount"] = prompt + answer + thoughts
    return usage


def _response_id(server: GoogleServer) -> str:
    from .google_server import _alnum

    return _alnum(server._rng, 20)


# -- the image models -----------------------------------------------------------------------
@dataclass(frozen=True)
class ImageModel:
    """What one Gemini image model takes and answers."""

    max_inputs: int  # images a request may hold
    sizes: Mapping[str, Mapping[str, tuple[int, int]]]  # imageSize -> aspect ratio -> (w, h)
    output_tokens: Mapping[str, int]  # imageSize -> tokens an image
    input_image_tokens: int
    usd_per_million_input: float
    usd_per_million_image: float  # output image tokens
    thinking: bool  # Gemini 3: image parts carry a thoughtSignature


# [IMG] "Gemini 2.5 Flash Image" table (1K only, 1290 tokens).
_FLASH_25 = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
# [IMG] "Gemini 3 Pro Image" table at 1K; 2K and 4K are twice and four times that (same table).
_GEMINI_3_1K = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
}
# [V31] adds 1:4, 4:1, 1:8, 8:1; pixels at 1K from [3P] a live probe (2064x512, 2928x352);
# 512 is half of 1K (the fake's, agreeing with a [3P] table).
_FLASH_31_1K = {
    **_GEMINI_3_1K,
    "1:4": (512, 2064),
    "4:1": (2064, 512),
    "1:8": (352, 2928),
    "8:1": (2928, 352),
}


def _scaled(table: Mapping[str, tuple[int, int]], factor: float) -> dict[str, tuple[int, int]]:
    return {ratio: (round(w * factor), round(h * factor)) for ratio, (w, h) in table.items()}


IMAGE_MODELS: dict[str, ImageModel] = {
    # [IMG]: at most 3 input images; 1290 tokens an image. Prices: ai.google.dev pricing
    # ($0.30 / 1M input, $30 / 1M image tokens = $0.039 an image).
    "gemini-2.5-flash-image": ImageModel(
        3, {"1K": _FLASH_25}, {"1K": 1290}, 258, 0.30, 30.0, False
    ),
    # [IMG]: 14 images (5 of people); 1120 tokens at 1K/2K, 2000 at 4K; 560 an input image and
    # $2 / 1M input, $120 / 1M image tokens (pricing page, [3P] transcriptions agree).
    "gemini-3-pro-image": ImageModel(
        14,
        {"1K": _GEMINI_3_1K, "2K": _scaled(_GEMINI_3_1K, 2), "4K": _scaled(_GEMINI_3_1K, 4)},
        {"1K": 1120, "2K": 1120, "4K": 2000},
        560,
        2.0,
        120.0,
        True,
    ),
    # [V31]: 14 images; 747/1120/1680/2520 tokens; 1120 an input image. Prices [3P]
    # (xairouter, UF Navigator): $0.50 / 1M input, $60 / 1M image tokens ($0.067 at 1K).
    "gemini-3.1-flash-image": ImageModel(
        14,
        {
            "512": _scaled(_FLASH_31_1K, 0.5),
            "1K": _FLASH_31_1K,
            "2K": _scaled(_FLASH_31_1K, 2),
            "4K": _scaled(_FLASH_31_1K, 4),
        },
        {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
        1120,
        0.50,
        60.0,
        True,
    ),
}
# Shut down 2026-06-25 (deprecations page, as [3P] gemilab quotes it); served with
# GoogleServer(serve_image_previews=True) under their GA twin's rules.
IMAGE_PREVIEWS = {
    "gemini-3-pro-image-preview": "gemini-3-pro-image",
    "gemini-3.1-flash-image-preview": "gemini-3.1-flash-image",
}
RETIRED_IMAGE_MODELS = (
    *IMAGE_PREVIEWS,
    "gemini-2.5-flash-image-preview",
    "gemini-2.0-flash-preview-image-generation",
)
# [V31] "Supported MIME types" for image input; magic bytes the fake checks.
# [V31] and the Gemini 3 Pro Image card: "Model availability: Global: global" (Vertex project
# mode; elsewhere the model is not found).
IMAGE_LOCATIONS = ("global",)
IMAGE_INPUT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
MAX_INLINE_IMAGE_BYTES = 7 * 1024 * 1024  # [V31] "7 MB" an inline image
DEFAULT_IMAGE_SIZE = "1K"  # [SDK] ImageConfig.image_size: "the model will use default value 1K"
IMAGE_BLOCKED = ("IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "prompt")
# [SDK] models._ImageConfig_to_vertex: the Vertex wire names (output_mime_type and
# output_compression_quality travel inside imageOutputOptions); the Gemini API has none.
VERTEX_IMAGE_FIELDS = ("person_generation", "prominent_people", "image_output_options")
IMAGE_CONFIG_FIELDS = ("aspect_ratio", "image_size", *VERTEX_IMAGE_FIELDS)
PERSON_GENERATION = ("ALLOW_ALL", "ALLOW_ADULT", "ALLOW_NONE")  # [SDK] ImageConfig


def image_pixels(
    model: str, aspect_ratio: str = "1:1", size: str = DEFAULT_IMAGE_SIZE
) -> tuple[int, int]:
    """The (width, height) ``model`` answers for that aspect ratio and size ([IMG], [V31])."""
    spec = IMAGE_MODELS[IMAGE_PREVIEWS.get(model, model)]
    return spec.sizes[size][aspect_ratio]


@dataclass
class ImageRequest:
    """One request that reached an image model (answered, blocked or refused)."""

    backend: str
    model: str
    body: dict[str, Any]
    texts: list[str] = field(default_factory=list)
    references: list[tuple[str, bytes]] = field(default_factory=list)  # input images, in order
    system_instruction: str = ""
    modalities: list[str] = field(default_factory=list)  # as answered: TEXT and/or IMAGE
    image_config: dict[str, Any] = field(default_factory=dict)  # snake_case, as sent
    aspect_ratio: str = ""  # as answered (after defaults)
    image_size: str = ""
    width: int = 0
    height: int = 0
    mime_type: str = ""  # of the answered image
    image: bytes = b""  # the answered image's bytes
    text_answer: str = ""
    finish_reason: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    usd: float = 0.0  # its price at the model's rates
    blocked: bool = False
    error: str | None = None

    @property
    def prompt(self) -> str:
        return "\n".join(self.texts)


def image(server: GoogleServer, h: _Handler, route: Route, body: bytes) -> None:
    """Answer one image-generation request (see the module docstring)."""
    try:
        raw = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    record = ImageRequest(route.backend, route.model, raw if isinstance(raw, dict) else {})
    try:
        spec = _image_model(server, route)
        if len(body) > JUDGE_MAX_REQUEST_BYTES:
            raise bad(f"Request payload size exceeds the limit: {JUDGE_MAX_REQUEST_BYTES} bytes.")
        _parse_image_request(record.body, record, spec, vertex=route.backend != "gemini")
    except Exception as exc:
        record.error = getattr(exc, "message", str(exc))
        with server._lock:
            server.image_requests.append(record)
        raise
    if server.image_latency:
        time.sleep(server.image_latency)
    with server._lock:
        scripted = server._image_script.popleft() if server._image_script else None
        response_id = _response_id(server)
        signature = server._rng.randbytes(24)
    answer: dict[str, Any] = {"modelVersion": route.model, "responseId": response_id}
    record.blocked = any(server._blocked(t) for t in record.texts)
    if record.blocked and server.image_blocked == "prompt":
        answer["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT"}
    elif record.blocked:
        record.finish_reason = server.image_blocked
        answer["candidates"] = [{"finishReason": record.finish_reason, "index": 0}]
    else:
        parts: list[dict[str, Any]] = []
        if scripted is not None:
            record.finish_reason, text = scripted
            record.text_answer = text or ""
            parts += [{"text": text}] if text else []
        else:
            record.finish_reason = "STOP"
            if "TEXT" in record.modalities:
                record.text_answer = f"Here is the picture: {record.prompt[:120].strip()}"
                parts.append({"text": record.text_answer})
            record.image = draw(record, record.width, record.height, record.mime_type)
            part: dict[str, Any] = {
                "inlineData": {
                    "mimeType": record.mime_type,
                    "data": base64.b64encode(record.image).decode(),
                }
            }
            if spec.thinking:
                part["thoughtSignature"] = base64.b64encode(signature).decode()
            parts.append(part)
        candidate: dict[str, Any] = {"finishReason": record.finish_reason, "index": 0}
        if parts:
            candidate["content"] = {"role": "model", "parts": parts}
        answer["candidates"] = [candidate]
    record.usage = answer["usageMetadata"] = _image_usage(record, spec)
    record.usd = (
        record.usage["promptTokenCount"] * spec.usd_per_million_input
        + record.usage.get("candidatesTokenCount", 0) * spec.usd_per_million_image
    ) / 1e6
    with server._lock:
        server.image_requests.append(record)
    if h.fault == "drop_after_accept":  # drawn and billed, the answer lost
        h.drop()
    elif h.fault == HOLD:
        hold(server, h)
    else:
        h.send_json(200, answer)


def _image_model(server: GoogleServer, route: Route) -> ImageModel:
    if route.location is not None and route.location not in IMAGE_LOCATIONS:
        raise server._model_not_found(route)
    model = route.model
    if model in IMAGE_PREVIEWS and server.serve_image_previews:
        return IMAGE_MODELS[IMAGE_PREVIEWS[model]]
    if model in RETIRED_IMAGE_MODELS:
        raise server._model_retired(route)
    if model not in IMAGE_MODELS:
        raise server._model_not_found(route)
    return IMAGE_MODELS[model]


def _parse_image_request(
    data: dict[str, Any], record: ImageRequest, spec: ImageModel, *, vertex: bool
) -> None:
    data = {_snake(k): v for k, v in data.items()}
    contents = _contents(data)
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise bad(f"contents[{i}] must be an object.")
        content = {_snake(k): v for k, v in content.items()}
        for name in content:
            if name not in ("role", "parts"):
                raise unknown_field(name, f"contents[{i}]")
        if content.get("role", "user") not in ("user", "model"):
            raise bad(f"Please use a valid role: user, model. (contents[{i}].role)")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise bad(
                f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            )
        for j, part in enumerate(parts):
            _image_part(part, f"contents[{i}].parts[{j}]", record)
    if len(record.references) > spec.max_inputs:
        raise bad(
            f"Too many input images: {len(record.references)} (this model takes at most"
            f" {spec.max_inputs})."
        )
    system = data.get("system_instruction")
    if system is not None:
        scratch = JudgeRequest("", "", {})
        _parse_content(system, "system_instruction", scratch, images=False)
        record.system_instruction = "\n".join(scratch.texts)
    config = data.get("generation_config") or {}
    if not isinstance(config, dict):
        raise bad("generation_config must be an object.")
    config = {_snake(k): v for k, v in config.items()}
    for name in config:
        if name not in (*GENERATION_FIELDS, "image_config", "thinking_config"):
            raise unknown_field(name, "generation_config")
    if any(config.get(n) is not None for n in ("response_schema", "response_json_schema")) or (
        config.get("response_mime_type") not in (None, "text/plain")
    ):
        raise bad("JSON mode is not enabled for this model.")
    modalities = [str(m).upper() for m in config.get("response_modalities") or ["TEXT", "IMAGE"]]
    if "IMAGE" not in modalities or any(m not in ("TEXT", "IMAGE") for m in modalities):
        raise bad(f"Response modalities {', '.join(modalities)} are not supported by this model.")
    record.modalities = sorted(set(modalities), key=modalities.index)
    _image_config(config.get("image_config"), record, spec, vertex=vertex)


def _image_part(part: Any, where: str, record: ImageRequest) -> None:
    if not isinstance(part, dict):
        raise bad(f"{where} must be an object.")
    part = {_snake(k): v for k, v in part.items()}
    kinds = [k for k in part if k not in ("thought", "thought_signature")]
    if len(kinds) != 1:
        raise bad(f"{where} must hold exactly one of text and inline_data.")
    kind = kinds[0]
    if kind == "text" and isinstance(part["text"], str):
        if not part.get("thought"):
            record.texts.append(part["text"])
        return
    if kind == "file_data":
        raise bad(f"{where}.file_data: this fake holds no uploaded files; send inline_data.")
    if kind != "inline_data" or not isinstance(part["inline_data"], dict):
        raise unknown_field(kind, where)
    blob = {_snake(k): v for k, v in part["inline_data"].items()}
    for name in blob:
        if name not in ("mime_type", "data"):
            raise unknown_field(name, f"{where}.inline_data")
    mime = str(blob.get("mime_type") or "").lower()
    if mime.startswith(("audio/", "video/")):
        raise bad(f"Image generation does not support audio or video input ({where}).")
    if mime not in IMAGE_INPUT_TYPES:
        raise bad(f"Unsupported MIME type: {mime or '(none)'} ({where}.inline_data.mime_type)")
    data = _proto_bytes(blob.get("data"), f"{where}.inline_data.data")
    if len(data) > MAX_INLINE_IMAGE_BYTES:
        raise bad(f"{where}: an inline image is at most {MAX_INLINE_IMAGE_BYTES} bytes.")
    if not _looks_like(mime, data):
        raise bad(
            "Unable to process input image. Please retry or report in"
            f" https://developers.generativeai.google/guide/troubleshooting ({where})"
        )
    if not part.get("thought"):
        record.references.append((mime, data))


def _looks_like(mime: str, data: bytes) -> bool:
    if mime == "image/png":
        return data.startswith(b"\x89PNG")
    if mime == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if mime == "image/webp":
        return data.startswith(b"RIFF") and data[8:12] == b"WEBP"
    return data[4:8] == b"ftyp"  # HEIC / HEIF: an ISO-BMFF box


def _image_config(config: Any, record: ImageRequest, spec: ImageModel, *, vertex: bool) -> None:
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise bad("generation_config.image_config must be an object.")
    for name in config:
        snake = _snake(name)
        if snake not in IMAGE_CONFIG_FIELDS or (snake in VERTEX_IMAGE_FIELDS and not vertex):
            raise unknown_field(name, "generation_config.image_config")
    config = {_snake(k): v for k, v in config.items()}
    record.image_config = config
    size = config.get("image_size") or DEFAULT_IMAGE_SIZE
    if size not in spec.sizes:
        raise bad(
            f"Invalid image_size {size!r}: this model takes {', '.join(spec.sizes)} (upper-case K)."
        )
    table = spec.sizes[size]
    ratio = config.get("aspect_ratio")
    if ratio is None:
        ratio = _nearest_ratio(record.references[0][1], table) if record.references else "1:1"
    if ratio not in table:
        raise bad(f"Invalid aspect_ratio {ratio!r}: this model takes {', '.join(table)}.")
    people = config.get("person_generation")
    if people is not None and people not in PERSON_GENERATION:
        raise bad(f"Invalid person_generation {people!r}: {', '.join(PERSON_GENERATION)}.")
    output = config.get("image_output_options") or {}
    if not isinstance(output, dict):
        raise bad("generation_config.image_config.image_output_options must be an object.")
    output = {_snake(k): v for k, v in output.items()}
    for name in output:
        if name not in ("mime_type", "compression_quality"):
            raise unknown_field(name, "generation_config.image_config.image_output_options")
    mime = output.get("mime_type") or "image/png"
    if mime not in ("image/png", "image/jpeg"):
        raise bad(f"Unsupported image_output_options.mime_type {mime!r}: image/png or image/jpeg.")
    quality = output.get("compression_quality")
    if quality is not None and (not isinstance(quality, int) or not 0 <= quality <= 100):
        raise bad("image_output_options.compression_quality must be an integer from 0 to 100.")
    record.aspect_ratio, record.image_size, record.mime_type = ratio, size, mime
    record.width, record.height = table[ratio]


def _nearest_ratio(data: bytes, table: Mapping[str, tuple[int, int]]) -> str:
    """The listed ratio nearest the input image's ([IMG]: the output follows the input's
    size); 1:1 when the picture cannot be read (HEIC without a decoder)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            w, h = picture.size
    except (UnidentifiedImageError, OSError):
        return "1:1"
    return min(table, key=lambda r: abs(math.log((w / h) / (table[r][0] / table[r][1]))))


def _image_usage(record: ImageRequest, spec: ImageModel) -> dict[str, Any]:
    chars = len(record.system_instruction) + sum(map(len, record.texts))
    text_tokens = -(-chars // CHARS_PER_TOKEN)
    image_tokens = spec.input_image_tokens * len(record.references)
    prompt = text_tokens + image_tokens
    details = [{"modality": "TEXT", "tokenCount": text_tokens}]
    if image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "totalTokenCount": prompt,
        "promptTokensDetails": details,
    }
    if record.blocked:
        return usage
    made = spec.output_tokens[record.image_size] if record.image else 0
    said = -(-len(record.text_answer) // CHARS_PER_TOKEN)
    out = []
    if made:
        out.append({"modality": "IMAGE", "tokenCount": made})
    if said:
        out.append({"modality": "TEXT", "tokenCount": said})
    usage["candidatesTokenCount"] = made + said
    usage["candidatesTokensDetails"] = out
    usage["totalTokenCount"] = prompt + made + said
    return usage


# -- drawing --------------------------------------------------------------------------------
def draw(record: ImageRequest, width: int, height: int, mime: str = "image/png") -> bytes:
    """A deterministic picture of the prompt: a background and shapes whose colours and places
    come from the prompt's hash, the prompt's start written at the top, the input images as
    thumbnails along the bottom. PNG (or JPEG when asked, Vertex only)."""
    from PIL import Image, ImageDraw, ImageFont

    digest = hashlib.sha256(record.prompt.encode()).digest()
    stream = _bytes(digest)
    picture = Image.new("RGB", (width, height), tuple(next(stream) for _ in range(3)))
    pen = ImageDraw.Draw(picture)
    for _ in range(3 + next(stream) % 4):
        x0, y0 = next(stream) * width // 256, next(stream) * height // 256
        w, h = (16 + next(stream)) * width // 512, (16 + next(stream)) * height // 512
        colour = tuple(next(stream) for _ in range(3))
        box = (x0, y0, min(width - 1, x0 + w), min(height - 1, y0 + h))
        (pen.ellipse if next(stream) % 2 else pen.rectangle)(box, fill=colour)
    font = ImageFont.load_default(size=max(10, height // 24))
    pen.text((height // 48, height // 48), record.prompt[:60], fill=(255, 255, 255), font=font)
    side = max(8, height // 6)
    for i, (_, data) in enumerate(record.references):
        try:
            with Image.open(io.BytesIO(data)) as ref:
                thumb = ref.convert("RGB")
                thumb.thumbnail((side, side))
        except OSError:
            continue
        x = i * (side + 4)
        if x + thumb.width > width:
            break
        picture.paste(thumb, (x, height - thumb.height))
    out = io.BytesIO()
    if mime == "image/jpeg":
        picture.save(out, "JPEG", quality=85)
    else:
        picture.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _bytes(seed: bytes) -> Iterator[int]:
    """An endless stream of bytes drawn from ``seed``."""
    counter = 0
    while True:
        yield from hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
