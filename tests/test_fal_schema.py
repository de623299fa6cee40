"""The engine ``fal``: any fal endpoint by id (``routing.options.fal.model``), its input schema
read from fal's Platform API once and cached with its date, the request mapped onto it and
refused before paying when it cannot fit; against the loopback fake (tests/fakes/fal_server.py
and tests/fakes/fal_uncurated.py, written from fal's docs) with an endpoint the plugin's table
does not curate."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_fal
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineError
from ministudio_fal import _schema
from ministudio_fal._table import by_engine

from .fakes.fal_server import API_KEY, FalServer
from .fakes.fal_uncurated import REFERENCE, TEXT
from .requests import kite_request


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FalServer]:
    monkeypatch.setenv("FAL_SCHEMA_CACHE", str(tmp_path / "fal-cache"))
    monkeypatch.setenv("FAL_EXPECTED_LATENCY", "0.2")
    with FalServer(latency=(0.1, 0.2)) as fake:
        yield fake


def env_of(server: FalServer) -> dict[str, str]:
    return {
        "FAL_KEY": API_KEY,
        "FAL_QUEUE_URL": server.base_url,
        "FAL_API_URL": server.platform_url,
        "FAL_JWKS_URL": server.jwks_url,
        "FAL_TIMEOUT": "10",
    }


def film(options: dict[str, Any], *, duration: float = 5, ratio: str = "16:9") -> Any:
    from ministudio.spec import Production

    return Production.model_validate(
        {
            "title": "By id",
            "format": {"aspect_ratio": ratio, "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {
                            "id": "s1",
                            "action": "Ann waves",
                            "characters": ["ann"],
                            "duration": duration,
                        }
                    ],
                }
            ],
            "routing": {"video": "fal", "options": {"fal": options}},
        }
    )


def render(production: Any, server: FalServer, where: Path) -> Any:
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render as run

    env = env_of(server)
    return run(
        production,
        where / "out",
        host=PluginHost(env=env),
        store=_store(where),
        env=env,
    )


def _store(where: Path) -> Any:
    from ministudio.run.store import ContentStore

    return ContentStore(where / "store")


def context(server: FalServer, tmp: Path) -> EngineContext:
    return EngineContext(engine="fal", work_dir=tmp, env=env_of(server))


def test_a_film_routed_to_an_endpoint_by_id_fetches_its_schema_once(
    server: FalServer, tmp_path: Path
) -> None:
    assert TEXT not in {e.endpoint for e in by_engine().values()}  # not curated
    production = film({"model": TEXT, "enable_safety_checker": False})
    manifest = render(production, server, tmp_path / "a")
    (shot,) = manifest.shots
    assert shot.state == "done" and shot.engine == "fal"
    assert server.schema_requests == [TEXT]
    (job,) = server.jobs.values()
    assert job.endpoint == TEXT
    assert job.body == {
        "prompt": job.body["prompt"],
        "duration": 5,  # the schema's integer enum
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "seed": job.body["seed"],
        "enable_safety_checker": False,
    }
    assert shot.cost == pytest.approx(0.28 * 5)  # fal's pricing, per second
    cache = _schema.cache_path(TEXT)
    record = json.loads(cache.read_text())
    assert record["endpoint_id"] == TEXT and record["price"]["unit_price"] == 0.28
    fetched = dt.datetime.fromisoformat(record["fetched_at"])
    assert dt.datetime.now(dt.timezone.utc) - fetched < dt.timedelta(minutes=5)

    plan_in(production, server, tmp_path / "b")  # a new store: to render, schema cached
    assert server.schema_requests == [TEXT]

    record["fetched_at"] = (fetched - dt.timedelta(days=8)).isoformat()  # older than 7 days
    cache.write_text(json.dumps(record))
    plan_in(production, server, tmp_path / "c")
    assert server.schema_requests == [TEXT, TEXT]
    assert dt.datetime.fromisoformat(json.loads(cache.read_text())["fetched_at"]) > fetched
    assert len(server.billed) == 1


def plan_in(production: Any, server: FalServer, where: Path) -> Any:
    """``ministudio plan`` (``check_video`` for each shot not in the store) with a new store;
    without the key (plan reads the process's environment): fal's model search needs none."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import plan

    env = {k: v for k, v in env_of(server).items() if k != "FAL_KEY"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("FAL_KEY", raising=False)
        return plan(production, where / "out", host=PluginHost(env=env), store=_store(where))


@pytest.mark.parametrize(
    ("options", "duration", "ratio", "refusal"),
    [
        ({"model": TEXT, "motion_strength": 1}, 5, "16:9", "has no input 'motion_strength'"),
        ({"model": TEXT}, 2, "16:9", "not a length"),
        ({"model": TEXT}, 5, "21:9", "aspect_ratio='21:9' is not one of"),
        ({"model": REFERENCE}, 5, "16:9", "needs 'image_urls'"),
    ],
)
def test_an_impossible_shot_is_refused_before_paying(
    server: FalServer,
    tmp_path: Path,
    options: dict[str, Any],
    duration: float,
    ratio: str,
    refusal: str,
) -> None:
    with pytest.raises(EngineError, match=refusal):
        render(film(options, duration=duration, ratio=ratio), server, tmp_path)
    assert server.submits == [] and server.billed == []  # nothing reached fal's queue
    assert server.schema_requests == [options["model"]]


def test_plan_refuses_it_and_prices_it(
    server: FalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ministudio.plugins import PluginHost
    from ministudio.run.render import plan

    for name, value in env_of(server).items():
        monkeypatch.setenv(name, value)
    host = PluginHost(env=env_of(server))
    made = plan(film({"model": TEXT}), tmp_path / "out", host=host, store=_store(tmp_path))
    (shot,) = made.shots
    assert shot.engine == "fal" and shot.cost == pytest.approx(0.28 * 5)
    with pytest.raises(Exception, match="has no input 'camera'"):
        plan(film({"model": TEXT, "camera": "dolly"}), tmp_path / "out2", host=host)
    assert server.schema_requests == [TEXT] and server.submits == []


def test_no_endpoint_named(server: FalServer, tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"set routing\.options\.fal\.model"):
        render(film({}), server, tmp_path)
    for bad in ("", "flux", "../../etc/passwd", "fal-ai/x/../y", "a b/c"):
        with pytest.raises(EngineError, match="fal"):
            ministudio_fal.check_video(
                engine="fal",
                request=kite_request(model=bad or None),
                context=context(server, tmp_path),
            )
    with pytest.raises(EngineError, match="has no endpoint 'fal-ai/nowhere'"):
        ministudio_fal.check_video(
            engine="fal",
            request=kite_request(model="fal-ai/nowhere"),
            context=context(server, tmp_path),
        )
    assert server.submits == []


def _refused(server: FalServer, tmp: Path, answer: bytes, match: str) -> None:
    server.schema_answers[TEXT] = answer
    with pytest.raises(EngineError, match=match):
        ministudio_fal.check_video(
            engine="fal", request=kite_request(model=TEXT), context=context(server, tmp)
        )
    assert not _schema.cache_path(TEXT).exists()  # a bad schema is never cached


def _wrapped(document: Any) -> bytes:
    return json.dumps({"models": [{"endpoint_id": TEXT, "openapi": document}]}).encode()


def test_a_hostile_schema_is_a_typed_error(server: FalServer, tmp_path: Path) -> None:
    good = server.documents[TEXT]
    _refused(server, tmp_path, b"<html>not json", "is not JSON")
    _refused(server, tmp_path, b" " * (_schema.MAX_BYTES + 10), "over")
    _refused(server, tmp_path, b"[" * 100_000, "is not JSON")
    _refused(server, tmp_path, b'{"models": 5}', "no 'models' list")
    _refused(server, tmp_path, _wrapped("x"), "no OpenAPI schema")
    _refused(server, tmp_path, _wrapped({"paths": {}}), "no JSON request body")
    looped = json.loads(json.dumps(good))
    schemas = looped["components"]["schemas"]
    (name,) = [n for n in schemas if n.endswith("Input")]
    schemas[name] = {"$ref": f"#/components/schemas/{name}"}
    _refused(server, tmp_path, _wrapped(looped), r"\$ref loop")
    chained = json.loads(json.dumps(good))
    for i in range(40):  # a chain deeper than the bound
        chained["components"]["schemas"][f"S{i}"] = {"$ref": f"#/components/schemas/S{i + 1}"}
    chained["components"]["schemas"]["S40"] = {"type": "object", "properties": {}}
    chained["components"]["schemas"][name] = {"$ref": "#/components/schemas/S0"}
    _refused(server, tmp_path, _wrapped(chained), "nests deeper")
    wide = json.loads(json.dumps(good))
    wide["components"]["schemas"][name]["properties"] = {f"f{i}": {} for i in range(500)}
    _refused(server, tmp_path, _wrapped(wide), "over 200 fields")
    enum = json.loads(json.dumps(good))
    enum["components"]["schemas"][name]["properties"]["duration"]["enum"] = [{"x": 1}]
    _refused(server, tmp_path, _wrapped(enum), "not a value")
    missing = json.loads(json.dumps(good))
    del missing["components"]["schemas"][name]
    _refused(server, tmp_path, _wrapped(missing), "missing")
    assert server.submits == []


def test_refs_allof_and_anyof_are_read(server: FalServer) -> None:
    """A property given as ``allOf`` of an enum schema, an ``anyOf`` with null, a range."""
    document = json.loads(json.dumps(server.documents[TEXT]))
    schemas = document["components"]["schemas"]
    (name,) = [n for n in schemas if n.endswith("Input")]
    schemas["ResolutionEnum"] = {"type": "string", "enum": ["480p", "720p"]}
    props = schemas[name]["properties"]
    props["resolution"] = {"allOf": [{"$ref": "#/components/schemas/ResolutionEnum"}]}
    props["guidance"] = {
        "anyOf": [{"type": "number", "minimum": 1, "maximum": 8}, {"type": "null"}]
    }
    props["image_url"] = {"type": "string"}
    endpoint = _schema.parse(TEXT, document)
    assert endpoint.fields["resolution"].enum == ("480p", "720p")
    guidance = endpoint.fields["guidance"]
    assert (guidance.type, guidance.minimum, guidance.maximum) == ("number", 1.0, 8.0)
    assert endpoint.fields["duration"].enum == tuple(range(3, 16))
    assert endpoint.fields["prompt"].required and not endpoint.fields["seed"].required
    assert endpoint.role("first_frame") is endpoint.fields["image_url"]
    with pytest.raises(EngineError, match="guidance=9 is over 8"):
        from ministudio_fal._request import body

        body(endpoint, kite_request(options={"guidance": 9}), {})


def test_curated_engines_check_before_paying(server: FalServer, tmp_path: Path) -> None:
    ctx = EngineContext(engine="fal-seedance-2", work_dir=tmp_path, env=env_of(server))
    ministudio_fal.check_video(engine="fal-seedance-2", request=kite_request(), context=ctx)
    with pytest.raises(EngineError, match="not a length"):
        ministudio_fal.check_video(
            engine="fal-seedance-2", request=kite_request(duration=3.0), context=ctx
        )
    with pytest.raises(EngineError, match="takes no first_frame"):
        ministudio_fal.check_video(
            engine="fal-seedance-2",
            request=kite_request(first_frame=tmp_path / "not-made-yet.png"),
            context=ctx,
        )
    i2v = EngineContext(engine="fal-seedance-2-i2v", work_dir=tmp_path, env=env_of(server))
    with pytest.raises(EngineError, match="needs 'image_url'"):
        ministudio_fal.check_video(engine="fal-seedance-2-i2v", request=kite_request(), context=i2v)
    ministudio_fal.check_video(
        engine="fal-seedance-2-i2v",
        request=kite_request(first_frame=tmp_path / "not-made-yet.png"),
        context=i2v,
    )
    assert server.submits == [] and server.schema_requests == []


def test_the_estimate_comes_from_the_cached_price(server: FalServer, tmp_path: Path) -> None:
    request = kite_request(model=TEXT)
    assert ministudio_fal.estimate_cost(engine="fal", request=request) is None  # not fetched
    ministudio_fal.check_video(engine="fal", request=request, context=context(server, tmp_path))
    assert ministudio_fal.estimate_cost(engine="fal", request=request) == pytest.approx(1.4)
    assert _schema.Price(0.5, "megapixel", "USD").estimate(5) is None
    assert _schema.Price(0.5, "video", "USD").estimate(5) == 0.5


def run(awaitable: Any) -> Any:
    async def main() -> Any:
        return await awaitable

    return anyio.run(main)


def test_cancel(server: FalServer, tmp_path: Path) -> None:
    """``cancel_video``: a queued request leaves fal's queue unbilled (True); one already
    done is too late (False); the engine ``fal`` cancels by its ``<owner>/<app>/<id>`` ids."""
    slow = FalServer(latency=30.0, queued=0.9)
    with slow:
        env = {**env_of(slow), "FAL_API_URL": slow.platform_url}
        ctx = EngineContext(engine="fal", work_dir=tmp_path, env=env)
        made = run(
            ministudio_fal.submit_video(
                engine="fal", request=kite_request(model=TEXT), idempotency_key="k", context=ctx
            )
        )
        assert made.job_id.startswith("alibaba/happy-horse/") and len(slow.billed) == 1
        assert run(ministudio_fal.cancel_video(engine="fal", job_id=made.job_id, context=ctx))
        assert slow.billed == []
        curated = EngineContext(engine="fal-seedance-2", work_dir=tmp_path, env=env)
        job = run(
            ministudio_fal.submit_video(
                engine="fal-seedance-2",
                request=kite_request(),
                idempotency_key="k",
                context=curated,
            )
        ).job_id
        assert run(
            ministudio_fal.cancel_video(engine="fal-seedance-2", job_id=job, context=curated)
        )
    ctx = context(server, tmp_path)
    made = run(
        ministudio_fal.submit_video(
            engine="fal", request=kite_request(model=TEXT), idempotency_key="k", context=ctx
        )
    )
    deadline = time.monotonic() + 5
    while server.state(server.jobs[made.job_id.rpartition("/")[2]]) != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not run(ministudio_fal.cancel_video(engine="fal", job_id=made.job_id, context=ctx))
    with pytest.raises(EngineError, match="not a job id"):
        run(ministudio_fal.cancel_video(engine="fal", job_id="nothing", context=ctx))


def test_curated_estimates_and_costs_price_the_values_sent(
    server: FalServer, tmp_path: Path
) -> None:
    """A curated field's ``prices`` (Wan 2.7: 720p $0.10/s, 1080p $0.15/s) price the estimate
    and the clip made, not the entry's default price."""
    engine = "fal-wan-2.7"
    hd = kite_request(width=1920, height=1080)
    assert ministudio_fal.estimate_cost(engine=engine, request=kite_request()) == pytest.approx(
        0.10 * 5
    )
    assert ministudio_fal.estimate_cost(engine=engine, request=hd) == pytest.approx(0.15 * 5)
    from ministudio.jobs import JobStatus
    from ministudio_fal import _queue

    api = _queue.Api(by_engine()[engine], API_KEY, env_of(server))
    job = run(
        ministudio_fal.submit_video(
            engine=engine,
            request=kite_request(),
            idempotency_key="k",
            context=EngineContext(engine=engine, work_dir=tmp_path, env=env_of(server)),
        )
    ).job_id
    deadline = time.monotonic() + 5
    while server.state(server.jobs[job]) != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    made = run(
        _queue.download(
            api, job, JobStatus(job_id=job, state="succeeded"), tmp_path / "c.mp4", kite_request()
        )
    )
    assert made.cost == pytest.approx(0.10 * 5)


def test_a_budget_is_never_kept_by_guessing_an_unknown_price(
    server: FalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fal will not say what the endpoint costs: its shot's cost is unknown, not $0. A render
    under a budget then stops before paying; without one it renders, and plan says so."""
    from ministudio.plugins import PluginHost
    from ministudio.run.errors import BudgetError
    from ministudio.run.render import plan

    from .fakes import fal_uncurated

    monkeypatch.setattr(fal_uncurated, "PRICES", {})
    production = film({"model": TEXT})
    env = env_of(server)
    planned = plan(
        production, tmp_path / "out", host=PluginHost(env=env), store=_store(tmp_path), env=env
    )
    (shot,) = planned.shots
    assert shot.cost is None and planned.unpriced == ["s1"]
    budgeted = production.model_copy(update={"budget": 100.0})
    with pytest.raises(BudgetError, match="cost of s1 is unknown"):
        render(budgeted, server, tmp_path)
    assert server.submissions == 0  # nothing sent, nothing paid
    manifest = render(production, server, tmp_path)
    assert manifest.shots[0].state == "done" and server.submissions == 1


def test_a_continue_shot_on_an_image_to_video_engine_passes_the_check_and_gets_its_frame(
    server: FalServer, tmp_path: Path
) -> None:
    """The check runs before the shot before has made the frame a ``continue`` shot starts
    from: an engine that needs one is asked about a request with one, and the render then
    sends the real frame."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render as run_render
    from ministudio.spec import Production

    data = film({}).model_dump(mode="json", exclude_none=True)
    data["scenes"][0]["shots"].append(
        {
            "id": "s2",
            "action": "Ann walks on",
            "characters": ["ann"],
            "duration": 5,
            "continuity": "continue",
        }
    )
    data["routing"] = {"video": "fal-seedance-2", "shots": {"s2": "fal-seedance-2-i2v"}}
    production = Production.model_validate(data)
    assets = tmp_path / "assets"
    assets.mkdir()
    env = {
        **env_of(server),
        "FAL_ASSET_STORE": f"file://{assets}",
        "FAL_ASSET_BASE_URL": "https://assets.example.test/",
    }
    manifest = run_render(
        production, tmp_path / "out", host=PluginHost(env=env), store=_store(tmp_path), env=env
    )
    assert [s.state for s in manifest.shots] == ["done", "done"]
    (i2v,) = [job for job in server.jobs.values() if job.endpoint.endswith("image-to-video")]
    assert i2v.body["image_url"].startswith("https://assets.example.test/")
