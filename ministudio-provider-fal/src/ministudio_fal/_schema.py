"""Any fal endpoint by id: its input schema read from fal's Platform API once, cached on disk
with the date it was fetched, and turned into the plugin's ``Endpoint`` and ``Field`` objects
(``_table``), so ``_request.body`` maps a request onto it and refuses what it cannot take
before anything is paid for.

Sources (read 2026-12-03):

- **MODELS**: https://fal.ai/docs/platform-apis/v1/models (``GET https://api.fal.ai/v1/models``,
  "Find Mode": ``?endpoint_id=<id>``; ``expand=openapi-3.0`` "includes the full OpenAPI 3.0
  schema in the 'openapi' field" of each model; the answer lists them under ``models`` with
  ``next_cursor`` and ``has_more``; "Authentication: Optional", ``Authorization: Key ...``).
- **PRICING**: https://fal.ai/docs/platform-apis/v1/models/pricing
  (``GET https://api.fal.ai/v1/models/pricing?endpoint_id=<id>``, key required; answers
  ``{"prices": [{"endpoint_id", "unit_price", "unit", "currency"}], "next_cursor",
  "has_more"}``; "Values are expressed per model's billing unit").
- The per-endpoint OpenAPI document's shape (the "Queue OpenAPI for <id>" a model's
  ``llms.txt`` embeds, e.g. https://fal.ai/models/alibaba/happy-horse/reference-to-video/llms.txt):
  ``paths["/<id>"].post.requestBody.content["application/json"].schema`` is a ``$ref`` to
  ``components.schemas.<Name>Input``, an object with ``properties``, ``required`` and
  ``x-fal-order-properties``; a property may be inline (``type``, ``enum``, ``minimum``,
  ``maximum``, ``default``), a ``$ref``/``allOf`` of an enum schema, or ``anyOf`` with null.

The schema is hostile input: the download is bounded (``MAX_BYTES``), as are the fields, the
enum sizes and the ``$ref`` depth; a ``$ref`` loop, a non-JSON answer or a document without an
input schema is an ``EngineError`` naming the endpoint, never a crash.

Environment: ``FAL_API_URL`` (the render's; default ``https://api.fal.ai/v1``),
``FAL_SCHEMA_CACHE`` (the process's; default ``<user cache dir>/ministudio/fal``),
``FAL_SCHEMA_MAX_AGE_DAYS`` (default 7).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ministudio.errors import EngineError, TransientError

from ministudio_fal._table import Endpoint, Field

ENGINE = "fal"
DEFAULT_API_URL = "https://api.fal.ai/v1"
MAX_AGE_DAYS = 7.0
MAX_BYTES = 2 << 20  # a real endpoint's whole document is tens of kB
MAX_FIELDS = 200
MAX_ENUM = 1000
MAX_DEPTH = 16  # nested $ref / allOf / anyOf
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_LOCK = threading.Lock()
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+")
# Image inputs whose role is clear from the name (fal's image-to-video pages: ``image_url``
# is the start frame; ``end_image_url``/``tail_image_url`` the end frame).
FIRST_FRAME = frozenset({"image_url", "start_image_url", "first_frame_url"})
LAST_FRAME = frozenset({"end_image_url", "tail_image_url", "last_image_url", "last_frame_url"})
# PRICING's billing units: only these make a per-second or per-clip estimate; any other
# unit (megapixel, GPU second, ...) leaves the estimate unknown.
PER_SECOND = frozenset({"second", "seconds", "video_second", "video_seconds", "s"})
PER_VIDEO = frozenset({"video", "videos", "clip", "request", "generation"})


@dataclass(frozen=True)
class Price:
    unit_price: float
    unit: str
    currency: str

    def estimate(self, seconds: float) -> float | None:
        """USD for a clip of ``seconds``; None when the unit does not say."""
        if self.currency.upper() != "USD":
            return None
        unit = self.unit.lower().strip()
        if unit in PER_SECOND:
            return self.unit_price * seconds
        if unit in PER_VIDEO:
            return self.unit_price
        return None

    @property
    def per_second(self) -> float:
        if self.currency.upper() == "USD" and self.unit.lower().strip() in PER_SECOND:
            return self.unit_price
        return 0.0


@dataclass(frozen=True)
class Loaded:
    endpoint: Endpoint
    price: Price | None
    fetched_at: dt.datetime


def endpoint_id(model: Any) -> str:
    """The endpoint id the user named (``routing.options.fal.model``), checked: the queue URL
    and the cache file are built from it."""
    if not isinstance(model, str) or not model.strip():
        raise EngineError(
            ENGINE,
            "no fal endpoint named: set routing.options.fal.model to an endpoint id, e.g. "
            "'fal-ai/ltx-2/text-to-video' (its page is fal.ai/models/<id>)",
        )
    name = model.strip().strip("/")
    if len(name) > 200 or not _ID.fullmatch(name) or ".." in name:
        raise EngineError(ENGINE, f"'{model[:80]}' is not a fal endpoint id (owner/app[/path])")
    return name


def cache_dir() -> Path:
    env = os.environ.get("FAL_SCHEMA_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ministudio")) / "fal"


def cache_path(model: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:100]
    digest = hashlib.sha256(model.encode()).hexdigest()[:12]
    return cache_dir() / f"{safe}-{digest}.json"


def max_age() -> dt.timedelta:
    try:
        days = float(os.environ.get("FAL_SCHEMA_MAX_AGE_DAYS") or MAX_AGE_DAYS)
    except ValueError:
        days = MAX_AGE_DAYS
    return dt.timedelta(days=days if math.isfinite(days) and days >= 0 else MAX_AGE_DAYS)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# -- the cache -------------------------------------------------------------------------------


def _read_cache(model: str) -> dict[str, Any] | None:
    path = cache_path(model)
    try:
        if path.stat().st_size > 2 * MAX_BYTES:
            return None
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("endpoint_id") != model:
        return None
    try:
        when = dt.datetime.fromisoformat(str(record.get("fetched_at")))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    record["fetched_at"] = when
    return record


def _write_cache(model: str, record: dict[str, Any]) -> None:
    path = cache_path(model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only means fetching again next time


def cached(model: str) -> Loaded | None:
    """What the cache holds for ``model``, whatever its age (for ``estimate_cost``, which
    may not fetch); None when nothing usable is cached."""
    record = _read_cache(model)
    if record is None:
        return None
    try:
        return _loaded(model, record)
    except EngineError:
        return None


def load(model: str, env: Mapping[str, str], key: str, *, now: dt.datetime | None = None) -> Loaded:
    """``model``'s endpoint from the cache, fetched (and cached) when missing or older than
    ``max_age()``. A refetch that fails for a passing reason falls back on the stale copy.
    One load at a time in a process, so shots checked or sent at once fetch it once."""
    with _LOCK:
        return _load(model, env, key, now or _now())


def _load(model: str, env: Mapping[str, str], key: str, moment: dt.datetime) -> Loaded:
    record = _read_cache(model)
    if record is not None:
        age = moment - record["fetched_at"]
        unpriced = key and not record.get("keyed")  # fetched without a key: no price asked
        if dt.timedelta(days=-1) <= age <= max_age() and not unpriced:
            return _loaded(model, record)
    try:
        fresh = fetch(model, env, key, now=moment)
    except TransientError:
        if record is not None:
            return _loaded(model, record)
        raise
    loaded = _loaded(model, fresh)  # refuse a bad document before caching it
    _write_cache(model, {**fresh, "fetched_at": fresh["fetched_at"].isoformat()})
    return loaded


def _loaded(model: str, record: dict[str, Any]) -> Loaded:
    price = _price(record.get("price"))
    document = record.get("openapi")
    endpoint = parse(model, document, price=price, source=str(record.get("source") or ""))
    return Loaded(endpoint=endpoint, price=price, fetched_at=record["fetched_at"])


# -- fetching ----------------------------------------------------------------------------------


def api_url(env: Mapping[str, str]) -> str:
    return str(env.get("FAL_API_URL") or DEFAULT_API_URL).rstrip("/")


def fetch(
    model: str, env: Mapping[str, str], key: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The cache record for ``model``: its OpenAPI document (MODELS, ``expand=openapi-3.0``)
    and its price (PRICING; None when fal does not answer it)."""
    base = api_url(env)
    answer = _get(base, "/models", {"endpoint_id": model, "expand": "openapi-3.0"}, key, model)
    models = answer.get("models") if isinstance(answer, dict) else None
    if not isinstance(models, list):
        raise EngineError(ENGINE, f"fal's model search answered no 'models' list for '{model}'")
    entry = next((m for m in models if isinstance(m, dict) and m.get("endpoint_id") == model), None)
    if entry is None:
        raise EngineError(
            ENGINE,
            f"fal has no endpoint '{model}' (its model search found none): check "
            "routing.options.fal.model against fal.ai/models",
        )
    document = entry.get("openapi")
    if not isinstance(document, dict):
        raise EngineError(ENGINE, f"fal's model search gave no OpenAPI schema for '{model}'")
    priced = None
    if key:  # PRICING needs a key; MODELS does not
        try:
            priced = _get(base, "/models/pricing", {"endpoint_id": model}, key, model)
        except EngineError:  # a price fal will not tell leaves the estimate unknown
            priced = None
    price = None
    prices = priced.get("prices") if isinstance(priced, dict) else None
    if isinstance(prices, list):
        price = next(
            (p for p in prices if isinstance(p, dict) and p.get("endpoint_id") == model), None
        )
    return {
        "endpoint_id": model,
        "fetched_at": now or _now(),
        "source": f"{base}/models?endpoint_id={model}&expand=openapi-3.0",
        "openapi": document,
        "price": price,
        "keyed": bool(key),
    }


def _get(base: str, path: str, params: dict[str, str], key: str, model: str) -> Any:
    import httpx

    what = f"fal's {path.strip('/').replace('/', ' ')} for '{model}'"
    host = urlsplit(base).hostname
    try:
        with (
            httpx.Client(
                headers={"Authorization": f"Key {key}"} if key else {},
                timeout=httpx.Timeout(30.0, connect=15.0),
                trust_env=host not in LOOPBACK,
            ) as http,
            http.stream("GET", base + path, params=params) as response,
        ):
            if response.status_code in (401, 403):
                raise EngineError(ENGINE, f"{what}: fal refused the key ({response.status_code})")
            if response.status_code == 429 or response.status_code >= 500:
                raise TransientError(ENGINE, f"{what}: fal answered {response.status_code}")
            if response.status_code >= 400:
                raise EngineError(ENGINE, f"{what}: fal answered {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > MAX_BYTES:
                raise EngineError(ENGINE, f"{what} is over {MAX_BYTES} bytes: refused")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    raise EngineError(ENGINE, f"{what} is over {MAX_BYTES} bytes: refused")
    except httpx.TransportError as exc:
        raise TransientError(ENGINE, f"{what}: {type(exc).__name__}") from None
    try:
        return json.loads(bytes(data))
    except (ValueError, RecursionError):
        raise EngineError(ENGINE, f"{what} is not JSON") from None


def _price(raw: Any) -> Price | None:
    if not isinstance(raw, dict):
        return None
    value = raw.get("unit_price")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return Price(float(value), str(raw.get("unit") or "")[:40], str(raw.get("currency") or ""))


# -- the OpenAPI document as Fields ------------------------------------------------------------


def parse(model: str, document: Any, *, price: Price | None = None, source: str = "") -> Endpoint:
    """``model``'s input schema in ``document`` (an OpenAPI 3 document as fal serves it) as
    an ``Endpoint`` of the generic engine."""
    if not isinstance(document, dict):
        raise EngineError(ENGINE, f"the schema of '{model}' is not an OpenAPI document")
    schema = _resolve(document, _input(document, model), model, 0, ())
    properties = schema.get("properties")
    if schema.get("type", "object") != "object" or not isinstance(properties, dict):
        raise EngineError(ENGINE, f"the input schema of '{model}' names no properties")
    if len(properties) > MAX_FIELDS:
        raise EngineError(ENGINE, f"the input schema of '{model}' has over {MAX_FIELDS} fields")
    required = schema.get("required") or []
    if not isinstance(required, list):
        required = []
    fields = {}
    for name, raw in properties.items():
        if not isinstance(name, str) or not name or len(name) > 100:
            raise EngineError(ENGINE, f"the input schema of '{model}' has a bad field name")
        fields[name] = _field(document, model, name, raw, name in required)
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    title = info.get("title") if isinstance(info, dict) else None
    return Endpoint(
        engine=ENGINE,
        endpoint=model,
        description=str(title or model)[:200],
        source=source,
        fields=fields,
        price_per_second=price.per_second if price else 0.0,
        expected_latency=120.0,
    )


def _input(document: dict[str, Any], model: str) -> Any:
    """The request body schema of the submit (``POST /<id>``) in ``paths``."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        raise EngineError(ENGINE, f"the schema of '{model}' has no paths")
    post = None
    item = paths.get(f"/{model}")
    if isinstance(item, dict) and isinstance(item.get("post"), dict):
        post = item["post"]
    else:  # the one POST that is not a request's status/cancel route
        posts = [
            v["post"]
            for k, v in paths.items()
            if isinstance(k, str)
            and "/requests/" not in k
            and isinstance(v, dict)
            and isinstance(v.get("post"), dict)
        ]
        if len(posts) == 1:
            post = posts[0]
    try:
        assert post is not None
        return post["requestBody"]["content"]["application/json"]["schema"]
    except (AssertionError, KeyError, TypeError):
        raise EngineError(
            ENGINE, f"the schema of '{model}' has no JSON request body for POST /{model}"
        ) from None


def _resolve(
    document: dict[str, Any], node: Any, model: str, depth: int, seen: tuple[str, ...]
) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed and its ``allOf`` merged (its own keys win)."""
    if depth > MAX_DEPTH:
        raise EngineError(ENGINE, f"the schema of '{model}' nests deeper than {MAX_DEPTH}")
    if not isinstance(node, dict):
        raise EngineError(ENGINE, f"the schema of '{model}' has a part that is not an object")
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    if ref is not None:
        prefix = "#/components/schemas/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            raise EngineError(ENGINE, f"the schema of '{model}' has a $ref it cannot follow")
        name = ref[len(prefix) :]
        if name in seen:
            raise EngineError(ENGINE, f"the schema of '{model}' has a $ref loop ({name})")
        components = document.get("components")
        schemas = components.get("schemas") if isinstance(components, dict) else None
        target = schemas.get(name) if isinstance(schemas, dict) else None
        if target is None:
            raise EngineError(ENGINE, f"the schema of '{model}' refers to a missing '{name}'")
        out.update(_resolve(document, target, model, depth + 1, (*seen, name)))
    parts = node.get("allOf")
    if isinstance(parts, list):
        for part in parts[:20]:
            out.update(_resolve(document, part, model, depth + 1, seen))
    out.update({k: v for k, v in node.items() if k not in ("$ref", "allOf")})
    return out


def _field(document: dict[str, Any], model: str, name: str, raw: Any, required: bool) -> Field:
    spec = _resolve(document, raw, model, 0, ())
    choices = spec.get("anyOf") or spec.get("oneOf")
    if isinstance(choices, list):  # e.g. anyOf [{type: integer}, {type: null}]
        options = [
            _resolve(document, c, model, 1, ())
            for c in choices[:20]
            if not (isinstance(c, dict) and c.get("type") == "null")
        ]
        if len(options) == 1:
            spec = {**options[0], **{k: v for k, v in spec.items() if k not in ("anyOf", "oneOf")}}
        elif options and all(isinstance(o.get("enum"), list) for o in options):
            spec = {**spec, "enum": [v for o in options for v in o["enum"]]}
    kind = spec.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1 ["integer", "null"]
        kind = next((k for k in kind if k != "null"), None)
    kind = str(kind) if isinstance(kind, str) else "string"
    enum = spec.get("enum")
    values: tuple[Any, ...] | None = None
    if isinstance(enum, list):
        if len(enum) > MAX_ENUM:
            raise EngineError(ENGINE, f"'{model}': {name} has over {MAX_ENUM} options")
        if not all(v is None or isinstance(v, (str, int, float, bool)) for v in enum):
            raise EngineError(ENGINE, f"'{model}': {name} has an option that is not a value")
        values = tuple(v for v in enum if v is not None)
    role = None
    if name in FIRST_FRAME:
        role = "first_frame"
    elif name in LAST_FRAME:
        role = "last_frame"
    return Field(
        name=name,
        type="url" if role else kind,
        required=required,
        enum=values,
        minimum=_number(spec.get("minimum")),
        maximum=_number(spec.get("maximum")),
        default=spec.get("default") if _plain(spec.get("default")) else None,
        role=role,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))
