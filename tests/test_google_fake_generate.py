"""The Google fake's writer (structured output) and image models (tests/fakes/google_generate.py),
driven by the real ``google-genai`` SDK on the Gemini Developer API (and Vertex for the
Vertex-only image fields): what the API answers, what it refuses, what it bills."""

from __future__ import annotations

import io
import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from ministudio.spec import Production
from PIL import Image

from tests.fakes import google_generate as gen
from tests.fakes.google_server import GoogleServer

genai = pytest.importorskip("google.genai")
jsonschema = pytest.importorskip("jsonschema")
from google.genai import errors, types  # noqa: E402

WRITER = "gemini-3.8-flash"
FLASH_IMAGE = "gemini-3.1-flash-image"
_TLS = ssl.create_default_context()


@pytest.fixture
def google() -> Iterator[GoogleServer]:
    with GoogleServer() as server:
        yield server


def client(server: GoogleServer) -> Any:
    options = types.HttpOptions(base_url=server.base_url, client_args={"verify": _TLS})
    return genai.Client(api_key=server.api_key, http_options=options)


def raw(server: GoogleServer, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request as the wire has it (past the SDK's own conversions and checks)."""
    sdk = client(server)
    answer = sdk._api_client.request("post", f"models/{model}:generateContent", body)
    return json.loads(answer.body)  # type: ignore[no-any-return]


def vertex(server: GoogleServer, location: str = "global") -> Any:
    from google.oauth2.credentials import Credentials

    return genai.Client(
        vertexai=True,
        project="film-proj",
        location=location,
        credentials=Credentials(token=server.access_token),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(base_url=server.base_url, client_args={"verify": _TLS}),
    )


def write(server: GoogleServer, contents: Any, schema: Any, **config: Any) -> Any:
    field = config.pop("field", "response_json_schema")
    model = config.pop("model", WRITER)
    settings = {"response_mime_type": "application/json", field: schema, **config}
    sdk = client(server)  # held: a collected Client closes its connection
    return sdk.models.generate_content(model=model, contents=contents, config=settings)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def picture_of(answer: Any) -> Image.Image:
    parts = answer.candidates[0].content.parts
    data = next(p.inline_data for p in parts if p.inline_data)
    assert data.mime_type == "image/png"
    return Image.open(io.BytesIO(data.data))


def paint(server: GoogleServer, contents: Any, model: str = FLASH_IMAGE, **config: Any) -> Any:
    image_config = types.ImageConfig(**config.pop("image", {}))
    sdk = client(server)
    return sdk.models.generate_content(
        model=model,
        contents=contents,
        config=types.GenerateContentConfig(image_config=image_config, **config),
    )


# -- the writer -----------------------------------------------------------------------------
PRODUCTION = Production.model_json_schema()


def test_a_pydantic_schema_with_defs_refs_and_anyof_gets_an_answer_that_conforms(
    google: GoogleServer,
) -> None:
    assert {"$defs", "anyOf"} <= set(json.dumps(PRODUCTION).replace('"', " ").split())
    answer = write(google, "A lighthouse keeper befriends a whale at dawn.", PRODUCTION)
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    data = json.loads(answer.text)
    jsonschema.validate(data, PRODUCTION)  # what structured output promises
    assert list(data) == [p for p in PRODUCTION["properties"] if p in PRODUCTION["required"]]
    assert "lighthouse" in json.dumps(data)  # its strings come from the prompt
    record = google.writer_requests[-1]
    assert record.source == "schema" and record.schema == PRODUCTION and record.error is None
    assert "minLength" in record.ignored and "$ref" not in record.ignored
    usage = answer.usage_metadata  # the schema counts as input
    assert usage.prompt_token_count >= len(json.dumps(PRODUCTION)) // 4
    assert usage.candidates_token_count == -(-len(answer.text) // 4)
    assert usage.thoughts_token_count == gen.WRITER_THOUGHT_TOKENS
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )


def test_drawn_instances_keep_bounds_formats_and_recursion(google: GoogleServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "minimum": 3, "maximum": 9},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
            "cast": {
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/Who"},
                "minProperties": 2,
            },
            "tree": {"$ref": "#/$defs/Node"},
            "mood": {"enum": ["calm", "tense"]},
            "maybe": {"type": ["string", "null"]},
        },
        "required": ["when", "count", "ratio", "tags", "pair", "cast", "tree", "mood", "maybe"],
        "$defs": {
            "Who": {
                "type": "object",
                "properties": {"dna": {"type": "string", "minLength": 40}},
                "required": ["dna"],
            },
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["kids"],
            },
        },
    }
    data = json.loads(write(google, "Two sisters sail north", schema).text)
    jsonschema.validate(data, schema)
    assert 3 <= data["count"] <= 9 and 0 < data["ratio"] <= 1 and data["mood"] == "calm"
    assert len(data["cast"]) == 2 and all(len(w["dna"]) >= 40 for w in data["cast"].values())


def test_a_scripted_answer_is_answered_exactly_then_the_schema_again(google: GoogleServer) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    google.script_writer({"n": 7})
    google.script_writer("{not json", finish_reason="SAFETY")
    google.script_writer(None)
    assert json.loads(write(google, "count", schema).text) == {"n": 7}
    broken = write(google, "count", schema)
    assert broken.text == "{not json"
    assert broken.candidates[0].finish_reason == types.FinishReason.SAFETY
    empty = write(google, "count", schema)
    assert empty.candidates[0].content is None
    assert json.loads(write(google, "count", schema).text) == {"n": 2}  # drawn again
    assert [r.source for r in google.writer_requests] == ["script"] * 3 + ["schema"]


def test_the_writer_callable_plays_the_model_and_sees_the_whole_request(
    google: GoogleServer,
) -> None:
    seen: list[gen.WriterRequest] = []

    def model(request: gen.WriterRequest) -> dict[str, Any]:
        seen.append(request)
        return {"title": f"answer {len(request.turns)}"}

    google.writer = model
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    history = [
        types.Content(role="user", parts=[types.Part(text="Write a film about bees.")]),
        types.Content(role="model", parts=[types.Part(text='{"title": 5}')]),
        types.Content(role="user", parts=[types.Part(text="title: expected a string; fix it")]),
    ]
    answer = write(google, history, schema, system_instruction="You write films.")
    assert json.loads(answer.text) == {"title": "answer 3"}
    request = seen[0]
    assert request.system_instruction == "You write films."
    assert request.schema == schema and request.model == WRITER
    assert [role for role, _ in request.turns] == ["user", "model", "user"]
    assert request.text == "Write a film about bees.\ntitle: expected a string; fix it"
    assert google.writer_requests[-1].source == "writer"
    google.writer = lambda request: 1 / 0  # a broken stand-in is a 500 naming its error
    with pytest.raises(errors.ServerError, match="ZeroDivisionError") as info:
        write(google, "Again", schema)
    assert info.value.code == 500 and "ZeroDivisionError" in str(google.writer_requests[-1].error)


def test_max_output_tokens_cuts_the_answer_with_max_tokens(google: GoogleServer) -> None:
    google.writer = lambda request: {"story": "x" * 200}
    schema = {"type": "object", "properties": {"story": {"type": "string"}}}
    answer = write(google, "Tell it", schema, max_output_tokens=10)
    assert answer.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert answer.text == json.dumps({"story": "x" * 200})[:40]
    assert answer.usage_metadata.candidates_token_count == 10
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    roomy = write(google, "Tell it", schema, max_output_tokens=100, model="gemini-3.5-flash")
    assert roomy.candidates[0].finish_reason == types.FinishReason.STOP
    usage, (per_input, per_output) = roomy.usage_metadata, gen.WRITER_PRICES["gemini-3.5-flash"]
    output = usage.candidates_token_count + usage.thoughts_token_count  # thoughts bill as output
    price = (usage.prompt_token_count * per_input + output * per_output) / 1e6
    assert google.writer_requests[-1].usd == pytest.approx(price)
    assert google.writer_requests[0].usd is None  # gemini-3.8-flash: not on the pricing page


def test_an_openapi_response_schema_is_followed_in_its_property_order(
    google: GoogleServer,
) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "b": {"type": "STRING", "nullable": True},
            "a": {"type": "INTEGER", "minimum": 4},
            "c": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": "2"},
        },
        "required": ["a", "b", "c"],
        "propertyOrdering": ["c", "a", "b"],
    }
    answer = raw(
        google,
        WRITER,
        {
            "contents": [{"role": "user", "parts": [{"text": "Bees"}]}],
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": schema,
                "thinkingConfig": {"thinkingBudget": 0},
            },
        },
    )
    text = answer["candidates"][0]["content"]["parts"][0]["text"]
    assert list(json.loads(text)) == ["c", "a", "b"]
    assert json.loads(text)["a"] >= 4 and len(json.loads(text)["c"]) == 2
    assert "thoughtsTokenCount" not in answer["usageMetadata"]  # thinking budget 0


@pytest.mark.parametrize(
    ("schema", "field", "words"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}}, None, "cannot resolve"),
        ({"type": "object", "properties": {"a": {"type": "text"}}}, None, "unknown type"),
        ({"type": "array", "minItems": 3, "maxItems": 1}, None, "minItems 3 > maxItems 1"),
        ({"type": "string", "enum": []}, None, "non-empty"),
        (
            {
                "type": "OBJECT",
                "properties": {"a": {"type": "STRING"}},
                "additionalProperties": False,
            },
            "response_schema",
            'Unknown name "additionalProperties"',
        ),
        ({"type": "GADGET"}, "response_schema", "Invalid value"),
    ],
)
def test_the_writer_refuses_what_the_api_refuses(
    google: GoogleServer, schema: dict[str, Any], field: str | None, words: str
) -> None:
    # the SDK would convert or check a responseSchema; send it as the wire has it
    key = "responseSchema" if field else "responseJsonSchema"
    body = {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"responseMimeType": "application/json", key: schema},
    }
    with pytest.raises(errors.ClientError, match=words) as info:
        raw(google, WRITER, body)
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert google.writer_requests[-1].error and not google.judge_requests


def test_very_deep_schemas_unknown_models_and_other_mime_types_are_refused(
    google: GoogleServer,
) -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(gen.MAX_SCHEMA_DEPTH + 1):
        deep = {"type": "object", "properties": {"x": deep}}
    with pytest.raises(errors.ClientError, match="too many states"):
        write(google, "Hi", deep)
    endless = {  # every node needs a child: no finite answer
        "$ref": "#/$defs/N",
        "$defs": {
            "N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}, "required": ["n"]}
        },
    }
    with pytest.raises(errors.ClientError, match="too many states"):
        write(google, "Hi", endless)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with pytest.raises(errors.ClientError) as info:
        write(google, "Hi", schema, model="gemini-0.9-ultra")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError, match="responseMimeType"):
        write(google, "Hi", schema, response_mime_type="text/plain")
    assert len(google.writer_requests) == 4 and all(r.error for r in google.writer_requests)


def test_blocked_words_faults_and_the_judge_keep_their_ways(google: GoogleServer) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    blocked = write(google, "something forbidden", schema)
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    assert not blocked.candidates and google.writer_requests[-1].blocked
    google.fail_next("writer", "429")
    with pytest.raises(errors.ClientError) as info:
        write(google, "Hi", schema)
    assert info.value.code == 429
    google.fail_next("writer", "503")
    with pytest.raises(errors.ServerError):
        write(google, "Hi", schema)
    assert json.loads(write(google, "Hi", schema).text)["a"]
    assert len(google.writer_requests) == 2  # faults are not recorded
    verdict = {
        "type": "object",
        "properties": {
            "continuity": {
                "type": "object",
                "properties": {f: {"type": "string"} for f in ("reason", "score", "passed")},
            }
        },
    }
    judged = write(google, "Judge this", verdict)  # a verdict schema: still the judge's
    assert json.loads(judged.text)["continuity"]["passed"] is True
    assert len(google.judge_requests) == 1 and len(google.writer_requests) == 2


# -- the image models -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "ratio", "size", "pixels", "tokens"),
    [
        (FLASH_IMAGE, "16:9", "1K", (1376, 768), 1120),
        (FLASH_IMAGE, "9:16", "512", (384, 688), 747),
        (FLASH_IMAGE, "1:4", "1K", (512, 2064), 1120),
        ("gemini-3-pro-image", "21:9", "2K", (3168, 1344), 1120),
        ("gemini-2.5-flash-image", "4:5", None, (896, 1152), 1290),
    ],
)
def test_an_image_comes_at_the_documented_size_and_tokens(
    google: GoogleServer,
    model: str,
    ratio: str,
    size: str | None,
    pixels: tuple[int, int],
    tokens: int,
) -> None:
    image = {"aspect_ratio": ratio} | ({"image_size": size} if size else {})
    answer = paint(google, "A fox in the snow", model, image=image)
    assert picture_of(answer).size == pixels == gen.image_pixels(model, ratio, size or "1K")
    usage = answer.usage_metadata
    details = {d.modality.name: d.token_count for d in usage.candidates_tokens_details}
    assert details["IMAGE"] == tokens
    assert usage.candidates_token_count == tokens + details.get("TEXT", 0)
    record = google.image_requests[-1]
    spec = gen.IMAGE_MODELS[model]
    price = (
        usage.prompt_token_count * spec.usd_per_million_input
        + usage.candidates_token_count * spec.usd_per_million_image
    ) / 1e6
    assert record.usd == pytest.approx(price) and record.aspect_ratio == ratio


def test_an_image_is_drawn_from_its_prompt_and_references(google: GoogleServer) -> None:
    red = png((220, 20, 20), (160, 90))  # a 16:9 reference
    answer = paint(
        google, ["Draw her again, smiling", types.Part.from_bytes(data=red, mime_type="image/png")]
    )
    parts = answer.candidates[0].content.parts
    assert parts[0].text and parts[1].inline_data and parts[1].thought_signature
    picture = picture_of(answer)
    assert picture.size == (1376, 768)  # the output follows the input image's shape
    assert picture.getpixel((2, picture.height - 2)) == (220, 20, 20)  # its thumbnail
    usage = answer.usage_metadata
    prompt = {d.modality.name: d.token_count for d in usage.prompt_tokens_details}
    assert prompt["IMAGE"] == gen.IMAGE_MODELS[FLASH_IMAGE].input_image_tokens
    again = paint(
        google, ["Draw her again, smiling", types.Part.from_bytes(data=red, mime_type="image/png")]
    )
    assert again.candidates[0].content.parts[1].inline_data.data == parts[1].inline_data.data
    only = paint(
        google, "A quiet pond", response_modalities=["IMAGE"], image={"aspect_ratio": "1:1"}
    )
    assert [bool(p.inline_data) for p in only.candidates[0].content.parts] == [True]
    record = google.image_requests[0]
    assert record.references == [("image/png", red)] and record.prompt == "Draw her again, smiling"


def test_reference_images_are_limited_per_model(google: GoogleServer) -> None:
    refs = [
        types.Part.from_bytes(data=png((i * 60, 90, 90)), mime_type="image/png") for i in range(4)
    ]
    with pytest.raises(errors.ClientError, match="at most 3") as info:
        paint(google, ["Blend these", *refs], "gemini-2.5-flash-image")
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert picture_of(paint(google, ["Blend these", *refs[:3]], "gemini-2.5-flash-image"))
    many = refs * 4  # 16
    with pytest.raises(errors.ClientError, match="at most 14"):
        paint(google, ["Blend these", *many])
    assert picture_of(paint(google, ["Blend these", *many[:14]]))


@pytest.mark.parametrize(
    ("model", "contents", "config", "words"),
    [
        (FLASH_IMAGE, "x", {"image": {"aspect_ratio": "5:3"}}, "Invalid aspect_ratio"),
        (FLASH_IMAGE, "x", {"image": {"image_size": "2k"}}, "upper-case K"),
        ("gemini-3-pro-image", "x", {"image": {"image_size": "512"}}, "Invalid image_size"),
        ("gemini-2.5-flash-image", "x", {"image": {"image_size": "2K"}}, "Invalid image_size"),
        ("gemini-2.5-flash-image", "x", {"image": {"aspect_ratio": "1:8"}}, "Invalid aspect_ratio"),
        (FLASH_IMAGE, "x", {"response_mime_type": "application/json"}, "JSON mode"),
        (FLASH_IMAGE, "x", {"response_modalities": ["TEXT"]}, "not supported"),
        (
            FLASH_IMAGE,
            ["x", types.Part.from_bytes(data=b"RIFF....WAVEfmt ", mime_type="audio/wav")],
            {},
            "audio or video",
        ),
        (
            FLASH_IMAGE,
            ["x", types.Part.from_bytes(data=b"nope", mime_type="image/png")],
            {},
            "Unable to process",
        ),
    ],
)
def test_image_requests_the_docs_refuse_are_400(
    google: GoogleServer, model: str, contents: Any, config: dict[str, Any], words: str
) -> None:
    with pytest.raises(errors.ClientError, match=words) as info:
        paint(google, contents, model, **config)
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert google.image_requests[-1].error


def test_unknown_and_retired_image_models_are_404(google: GoogleServer) -> None:
    for model, words in [
        ("gemini-3-pro-image-preview", "no longer available"),
        ("gemini-9-image", "not found"),
    ]:
        with pytest.raises(errors.ClientError, match=words) as info:
            paint(google, "x", model)
        assert info.value.code == 404
    with GoogleServer(serve_image_previews=True) as old:
        answer = paint(old, "x", "gemini-3-pro-image-preview", image={"image_size": "4K"})
        assert picture_of(answer).size == (4096, 4096)


def test_blocked_prompts_scripted_answers_and_faults(google: GoogleServer) -> None:
    blocked = paint(google, "a forbidden thing")
    assert blocked.candidates[0].finish_reason == types.FinishReason.IMAGE_SAFETY
    assert blocked.candidates[0].content is None and google.image_requests[-1].blocked
    google.script_image(finish_reason="NO_IMAGE", text="I would rather not.")
    refused = paint(google, "a cat")
    assert refused.candidates[0].finish_reason == types.FinishReason.NO_IMAGE
    assert refused.text == "I would rather not." and not google.image_requests[-1].image
    google.fail_next("image", "500")
    with pytest.raises(errors.ServerError):
        paint(google, "a cat")
    google.fail_next("image", "echo")
    with pytest.raises(errors.ClientError, match=google.api_key):
        paint(google, "a cat")
    assert picture_of(paint(google, "a cat"))
    with GoogleServer(image_blocked="prompt") as strict:
        feedback = paint(strict, "forbidden").prompt_feedback
        assert feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT


def test_vertex_takes_its_own_image_fields(google: GoogleServer) -> None:
    sdk = vertex(google)
    answer = sdk.models.generate_content(
        model=FLASH_IMAGE,
        contents="A red door",
        config=types.GenerateContentConfig(
            image_config=types.ImageConfig(
                output_mime_type="image/jpeg", person_generation="ALLOW_ADULT"
            )
        ),
    )
    data = next(p.inline_data for p in answer.candidates[0].content.parts if p.inline_data)
    assert data.mime_type == "image/jpeg" and data.data.startswith(b"\xff\xd8\xff")
    body = {
        "contents": [{"role": "user", "parts": [{"text": "A red door"}]}],
        "generationConfig": {"imageConfig": {"imageOutputOptions": {"mimeType": "image/jpeg"}}},
    }
    with pytest.raises(errors.ClientError, match='Unknown name "imageOutputOptions"'):
        raw(google, FLASH_IMAGE, body)
    regional = vertex(google, "us-central1")  # the image models live in "global" only
    with pytest.raises(errors.ClientError) as info:
        regional.models.generate_content(model=FLASH_IMAGE, contents="A red door")
    assert info.value.code == 404
