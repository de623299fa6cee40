"""``gemini-writer``: a production written from a brief by a Gemini text model, as JSON
constrained by the production's schema (structured output). Imported by the hooks only (it
imports the SDK).

One ``generateContent`` a round: the core's ``instructions`` as the system instruction; the
brief as the user's turn; on a repair round the refused draft as the model's turn and the
validator's errors as the user's next turn. ``generationConfig``: ``responseMimeType:
application/json``, ``responseJsonSchema`` (``gemini_schema``) and ``maxOutputTokens``.

The schema. ai.google.dev/gemini-api/docs/structured-output ("JSON schema support") lists what
the API uses: ``type`` (null too), ``title``, ``description``, ``properties``, ``required``,
``additionalProperties``, ``enum``, ``format`` (``date-time``, ``date``, ``time``), ``minimum``,
``maximum``, ``items``, ``prefixItems``, ``minItems``, ``maxItems``, ``anyOf``, ``$ref``,
``$defs``; "the model ignores unsupported properties", and it "may reject very large or deeply
nested schemas" (the schema counts toward the input tokens). So pydantic's schema is sent
with: titles and defaults dropped (size; a default the model need not write); ``const`` as a
one-value ``enum``; a ``format`` other than those three dropped (``path`` becomes words in the
description); what the model would ignore (``minLength``, ``minProperties``, ``pattern``,
exclusive bounds, ...) said in the description instead ("at least 1 character"), so it still
guides the model; descriptions kept. The core validates the answer in any case.

Cost: ``usageMetadata``'s prompt tokens at the input price, answer and thinking tokens at the
output price (``WRITER_PRICES``; thinking is billed as output). ``estimate``: the prompt's
characters (system, brief, draft, errors, schema) at ``CHARS_PER_TOKEN`` plus the whole
``max_output_tokens`` at the output price: an upper bound on the output, a rough count of the
input.

Failures (``_generate``), and: a refused answer (``SAFETY``...) or a blocked prompt:
``EngineRefusal``; an answer cut at ``maxOutputTokens`` (``MAX_TOKENS``): an ``EngineError``
saying to raise ``max_output_tokens`` or ask for fewer shots; no answer or no text: an
``EngineError``. The JSON text is returned as it came: the core validates it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from google.genai import types
from ministudio.engines import EngineContext, EngineSpec
from ministudio.errors import EngineError, EngineRefusal
from ministudio.jobs import Draft, WritingRequest

from ministudio_veo import WRITER, specs
from ministudio_veo._catalog import WRITER_MODEL, WRITER_PRICES, WRITER_PROMOTIONS
from ministudio_veo._generate import Call, generate, name, texts, timeout

OPTIONS = ("max_output_tokens", "temperature", "thinking_level")
THINKING_LEVELS = ("low", "medium", "high")  # ThinkingConfig.thinking_level on Gemini 3
MAX_OUTPUT_TOKENS = 65_536  # Gemini 3.x Flash's output limit (the model card)
MAX_BRIEF = 200_000  # characters: far over the core's brief limit, under any context window
MAX_DRAFT = 4 * MAX_OUTPUT_TOKENS * 2  # characters of a draft sent back (it came from us)
MAX_ERRORS = 100  # errors sent back in one repair round (the rest are counted)
MAX_ERROR_CHARS = 1000  # characters of one error
CHARS_PER_TOKEN = 4  # a rough count of text tokens
DEFAULT_TIMEOUT = 300.0  # seconds: a long production with thinking takes minutes
REFUSED = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"})
# JSON Schema keywords the API uses (the docs' list); formats it honours.
KEYWORDS = frozenset(
    {
        "type",
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
        "$ref",
        "$defs",
    }
)
FORMATS = ("date-time", "date", "time")
DROPPED = frozenset({"title", "default", "examples", "$schema", "$id", "$comment", "readOnly"})


# -- the hook's work ------------------------------------------------------------------------
def write(request: WritingRequest, schema: dict[str, Any], context: EngineContext) -> Draft:
    """One round: the draft (or repair) as JSON text, and what it cost."""
    settings = read_options(request)
    key = context.key(_spec())  # MissingKeyError before any work
    model = model_of(request)
    contents = request_contents(request)
    config = request_config(request, schema, settings)
    call = Call(
        engine=WRITER,
        model=model,
        pick="use --model with a current one, e.g. " + WRITER_MODEL,
        timeout=timeout(context.env, "GEMINI_WRITER_TIMEOUT", DEFAULT_TIMEOUT),
    )
    response = generate(call, key, contents, config, context.env)
    text = answer_text(response, int(settings["max_output_tokens"]))
    return Draft(text=text, model=model, cost=cost(response, model))


def model_of(request: WritingRequest) -> str:
    model = (request.model or WRITER_MODEL).strip().removeprefix("models/")
    if not model or len(model) > 200:
        raise EngineError(WRITER, "--model must be a Gemini model id, e.g. " + WRITER_MODEL)
    return model


def read_options(request: WritingRequest) -> dict[str, Any]:
    """The options, checked: ``max_output_tokens`` (else the request's), ``temperature``,
    ``thinking_level``."""
    options: Mapping[str, Any] = request.options
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise EngineError(WRITER, f"unknown option {', '.join(unknown)}: use {', '.join(OPTIONS)}")
    limit = options.get("max_output_tokens", request.max_output_tokens)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_OUTPUT_TOKENS:
        raise EngineError(
            WRITER, f"max_output_tokens must be a whole number from 1 to {MAX_OUTPUT_TOKENS:,}"
        )
    found: dict[str, Any] = {"max_output_tokens": limit}
    if "temperature" in options:
        value = options["temperature"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
            raise EngineError(WRITER, "option temperature must be a number from 0 to 2")
        found["temperature"] = float(value)
    if "thinking_level" in options:
        level = str(options["thinking_level"]).lower()
        if level not in THINKING_LEVELS:
            raise EngineError(WRITER, f"option thinking_level must be {', '.join(THINKING_LEVELS)}")
        found["thinking_level"] = level
    return found


# -- the request ----------------------------------------------------------------------------
def request_contents(request: WritingRequest) -> list[types.Content]:
    """The brief as the user's turn; on a repair, the draft (model) and the errors (user)."""
    if len(request.brief) > MAX_BRIEF:
        raise EngineError(WRITER, f"the brief is over {MAX_BRIEF:,} characters; shorten it")
    turns = [_turn("user", f"The brief:\n\n{request.brief}")]
    if request.round > 0 and request.draft:
        if len(request.draft) > MAX_DRAFT:
            raise EngineError(
                WRITER, f"the draft to repair is over {MAX_DRAFT:,} characters; ask for fewer shots"
            )
        turns.append(_turn("model", request.draft))
        turns.append(_turn("user", repair_text(request.errors)))
    return turns


def repair_text(errors: tuple[str, ...]) -> str:
    """The follow-up of a repair round: what was wrong, then what to do."""
    shown = [" ".join(e.split())[:MAX_ERROR_CHARS] for e in errors[:MAX_ERRORS]]
    listed = "\n".join(f"- {e}" for e in shown) or "- (no details were given)"
    more = f"\n- ... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
    return (
        "That production was refused by the validator, for these reasons (each with its field "
        f"path):\n{listed}{more}\n\nFix every one of them, change nothing else, and answer "
        "with the whole corrected production as one JSON document."
    )


def _turn(role: str, text: str) -> types.Content:
    return types.Content(role=role, parts=[types.Part.from_text(text=text)])


def request_config(
    request: WritingRequest, schema: dict[str, Any], settings: Mapping[str, Any]
) -> types.GenerateContentConfig:
    thinking = settings.get("thinking_level")
    return types.GenerateContentConfig(
        system_instruction=request.instructions,
        response_mime_type="application/json",
        response_json_schema=gemini_schema(schema),
        max_output_tokens=int(settings["max_output_tokens"]),
        temperature=settings.get("temperature"),
        thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel(thinking.upper()))
        if thinking
        else None,
    )


# -- the schema -----------------------------------------------------------------------------
def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` (pydantic's JSON Schema) as the Gemini API takes it (module docstring)."""
    converted: dict[str, Any] = _node(schema)
    return converted


def _node(node: Any) -> Any:
    if not isinstance(node, Mapping):
        return node  # a boolean schema (true: anything) stays
    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in node.items():
        if key in ("properties", "$defs"):
            out[key] = {name: _node(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _node(value)
        elif key in ("anyOf", "prefixItems"):
            out[key] = [_node(sub) for sub in value]
        elif key == "oneOf":  # one of several: anyOf is what the API takes
            out["anyOf"] = [_node(sub) for sub in value]
        elif key == "allOf" and len(value) == 1:
            out.update({k: v for k, v in _node(value[0]).items() if k not in out})
        elif key == "const":
            out["enum"] = [value]
        elif key == "format":
            if value in FORMATS:
                out[key] = value
            else:
                notes.append("a file path" if value == "path" else f"format: {value}")
        elif key in KEYWORDS:
            out[key] = value
        elif key not in DROPPED:
            notes.append(_note(key, value))
    if notes:
        said = "; ".join(notes)
        described = str(out.get("description", "")).rstrip()
        out["description"] = f"{described} ({said})" if described else said[:1].upper() + said[1:]
    return out


def _note(key: str, value: Any) -> str:
    """An ignored keyword in words, for the description."""
    words = {
        "minLength": f"at least {value} character{'s' if value != 1 else ''}",
        "maxLength": f"at most {value} characters",
        "minProperties": f"at least {value} entr{'ies' if value != 1 else 'y'}",
        "maxProperties": f"at most {value} entries",
        "exclusiveMinimum": f"greater than {value}",
        "exclusiveMaximum": f"less than {value}",
        "pattern": f"matching the regular expression {value}",
        "uniqueItems": "no repeated items" if value else "",
        "multipleOf": f"a multiple of {value}",
    }
    return words.get(key) or f"{key}: {json.dumps(value)[:200]}"


# -- the answer -----------------------------------------------------------------------------
def answer_text(response: types.GenerateContentResponse, limit: int) -> str:
    """The first candidate's JSON text (thoughts left out); typed errors for anything else."""
    if not response.candidates:
        raise EngineError(WRITER, "Gemini gave no answer (no candidate); run the command again")
    candidate = response.candidates[0]
    finish = name(candidate.finish_reason)
    if finish in REFUSED:
        said = f": {candidate.finish_message}" if candidate.finish_message else ""
        raise EngineRefusal(
            WRITER, f"Gemini refused to write this production ({finish}{said}); reword the brief"
        )
    if finish == "MAX_TOKENS":
        raise EngineError(
            WRITER,
            f"Gemini's answer was cut off at max_output_tokens ({limit:,} tokens): raise it "
            f"(--option max_output_tokens=N, at most {MAX_OUTPUT_TOKENS:,}) or ask for fewer "
            "shots",
        )
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    text = texts(parts)
    if not text.strip():
        raise EngineError(
            WRITER, f"Gemini's answer holds no text ({finish or 'no reason'}); run it again"
        )
    return text


# -- cost -----------------------------------------------------------------------------------
def price(model: str, today: date | None = None) -> tuple[float, float]:
    """USD per token (input, output) for ``model`` on ``today``; the default model's price
    for a model not in ``WRITER_PRICES``."""
    model = model if model in WRITER_PRICES else WRITER_MODEL
    until, launch = WRITER_PROMOTIONS.get(model, (date.min, WRITER_PRICES[model]))
    per_million = launch if (today or date.today()) < until else WRITER_PRICES[model]
    return per_million[0] / 1e6, per_million[1] / 1e6


def cost(response: types.GenerateContentResponse, model: str) -> float:
    """What the round cost, from ``usageMetadata`` (thinking billed as output)."""
    usage = response.usage_metadata
    if usage is None:
        return 0.0
    output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    per_input, per_output = price(model)
    return round((usage.prompt_token_count or 0) * per_input + output * per_output, 6)


def estimate(request: WritingRequest, schema: Mapping[str, Any] | None = None) -> float:
    """At most what a round of ``request`` costs: its prompt counted from its characters
    (a rough count) and the whole ``max_output_tokens`` at the output price (an upper bound
    on the answer and thinking)."""
    limit = request.options.get("max_output_tokens", request.max_output_tokens)
    if isinstance(limit, bool) or not isinstance(limit, int):
        limit = request.max_output_tokens
    schema_chars = (
        _production_schema_chars() if schema is None else len(json.dumps(gemini_schema(schema)))
    )
    chars = len(request.instructions) + len(request.brief) + schema_chars
    if request.round > 0 and request.draft:
        chars += len(request.draft) + len(repair_text(request.errors))
    per_input, per_output = price(model_of(request))
    return round(chars / CHARS_PER_TOKEN * per_input + max(limit, 0) * per_output, 6)


@functools.cache
def _production_schema_chars() -> int:
    """Characters of the production's schema as sent (the core sends this one)."""
    from ministudio.spec import Production

    return len(json.dumps(gemini_schema(Production.model_json_schema())))


def _spec() -> EngineSpec:
    return next(spec for spec in specs() if spec.id == WRITER)
