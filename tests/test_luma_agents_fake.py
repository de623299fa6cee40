"""The Luma Agents API fake (tests/fakes/luma_agents_server.py): raw HTTP, and the official
``luma_agents`` SDK pointed at it when that is installed."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.luma_agents_server import LumaAgentsServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
IMAGE = {"url": "https://example.com/a.png"}


@pytest.fixture
def luma() -> Iterator[LumaAgentsServer]:
    with LumaAgentsServer(latency=0.2, other_keys=("luma-api-other",)) as server:
        yield server


def http(server: LumaAgentsServer, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=server.api_url,
        headers={"Authorization": f"Bearer {key or server.api_key}"},
        timeout=10,
    )


def body(**video: Any) -> dict[str, Any]:
    return {"model": "ray-3.2", "type": "video", "prompt": "a red kite", "video": video}


def create(c: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/generations", json=payload)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def wait_done(c: httpx.Client, gen_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        gen = c.get(f"/generations/{gen_id}").json()
        if gen["state"] in ("completed", "failed"):
            return gen  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"{gen_id} still {gen['state']}"
        time.sleep(0.03)


def refused(c: httpx.Client, payload: dict[str, Any]) -> tuple[int, str]:
    r = c.post("/generations", json=payload)
    assert r.status_code >= 400, payload
    return r.status_code, r.json()["detail"]


def duration_of(data: bytes, tmp_path: Path) -> float:
    from ministudio.media.probe import probe

    path = tmp_path / f"clip-{len(data)}.mp4"
    path.write_bytes(data)
    return float(probe(path).duration)


# -- the happy path ------------------------------------------------------------------------------
def test_text_to_video_create_poll_download(luma: LumaAgentsServer, tmp_path: Path) -> None:
    with http(luma) as c:
        gen = create(c, body(duration="5s", resolution="540p") | {"aspect_ratio": "9:16"})
        assert gen["state"] == "queued" and gen["type"] == "video" and gen["output"] is None
        assert gen["model"] == "ray-3.2" and "request" not in gen
        done = wait_done(c, gen["id"])
    assert done["state"] == "completed" and done["failure_code"] is None
    [out] = done["output"]
    assert out["type"] == "video"
    r = httpx.get(out["url"])  # presigned: no bearer
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert duration_of(r.content, tmp_path) == pytest.approx(5.0, abs=0.2)
    job = luma.jobs[gen["id"]]
    assert (job.width, job.height) == (540, 960)
    assert luma.submissions == 1 and luma.status_requests >= 1 and luma.downloads == 1
    assert luma.billed_usd == pytest.approx(0.15)


def test_output_urls_expire_and_each_poll_mints_a_fresh_one(tmp_path: Path) -> None:
    with LumaAgentsServer(latency=0.05, output_url_ttl=1) as luma, http(luma) as c:
        gen = wait_done(c, create(c, body())["id"])
        url = gen["output"][0]["url"]
        assert httpx.get(url).status_code == 200
        forged = url[:-4] + "0000"
        assert httpx.get(forged).status_code == 403
        time.sleep(2.1)
        r = httpx.get(url)
        assert r.status_code == 403 and b"Request has expired" in r.content
        fresh = c.get(f"/generations/{gen['id']}").json()["output"][0]["url"]
        assert fresh != url and httpx.get(fresh).status_code == 200
        assert httpx.get(luma.output_url(gen["id"], ttl=-5)).status_code == 403


def test_auth_not_found_and_no_list(luma: LumaAgentsServer) -> None:
    with http(luma, key="wrong") as c:
        r = c.post("/generations", json=body())
        assert r.status_code == 401 and set(r.json()) == {"detail"}
    with http(luma) as c:
        r = c.get("/generations/00000000-0000-4000-8000-000000000000")
        assert r.status_code == 404 and "generation not found" in r.json()["detail"]
        assert c.get("/generations").status_code == 405  # no list endpoint
        gen = create(c, body())
        assert c.delete(f"/generations/{gen['id']}").status_code == 405  # nor delete
    with http(luma, key="luma-api-other") as other:  # another client's generation
        assert other.get(f"/generations/{gen['id']}").status_code == 404
    assert luma.submissions == 1


# -- what the docs refuse --------------------------------------------------------------------
BAD_VALUES = [  # 400: invalid on its own
    ({"model": "ray-3.2", "type": "video"}, "prompt is required"),
    (body() | {"prompt": ""}, "prompt must be 1 to 6000"),
    (body() | {"prompt": "x" * 6001}, "prompt must be 1 to 6000"),
    (body() | {"model": "ray-2"}, "Invalid model"),
    (body() | {"type": "video_extend"}, "Invalid type"),
    (body(duration="9s"), "Invalid duration"),
    (body(duration=5), "Invalid duration"),
    (body(resolution="4k"), "Invalid resolution"),
    (body() | {"aspect_ratio": "9:21"}, "Invalid aspect_ratio"),
    (body() | {"aspect_ratio": "3:2"}, "not supported for ray-3.2 video"),
    (body(start_frame={}), "Provide exactly one of"),
    (body(start_frame={"data": "aGk="}), "media_type is required with data"),
    (body(start_frame={"url": "ftp://x/a.png"}), "http(s)"),
    (body(start_frame={"generation_id": "nope"}), "generation 'nope' not found"),
    (body(start_frame={"file_id": "nope"}), "file 'nope' not found"),
    (body(keyframes=[IMAGE]), "keyframe_indexes is required"),
    (body(keyframes=[IMAGE] * 65, keyframe_indexes=list(range(65))), "at most 64"),
    (body(loop="yes"), "loop must be a boolean"),
    (body() | {"callback_url": "https://x.test/hook"}, "Unknown field 'callback_url'"),
    (body(keyframes={"frame0": IMAGE}), "keyframes must be a list"),
    ({"model": "ray-3.2", "type": "video_edit", "prompt": "p"}, "source is required"),
    (
        {"model": "ray-3.2", "type": "video_edit", "prompt": "p", "source": {"url": "https://x/v"}},
        "media_type is required with source.url",
    ),
]

BAD_COMBINATIONS = [  # 422: "Parameter combination rejected"
    (body() | {"model": "uni-1"}, "requires model 'ray-3.2'"),
    (body(start_frame={"url": "https://x/a.png", "file_id": "f"}), "Provide exactly one of"),
    (body(duration="10s", loop=True), "loop is not supported with duration 10s"),
    (body(hdr=True, loop=True), "loop is not supported with hdr"),
    (body(loop=True, end_frame=IMAGE), "loop is not supported with end_frame"),
    (body(duration="10s", start_frame=IMAGE), "not supported with duration 10s"),
    (body(duration="10s", end_frame=IMAGE), "not supported with duration 10s"),
    (body(hdr=True, start_frame=IMAGE), "not supported with hdr"),
    (body(hdr=True, resolution="360p"), "hdr is not supported at 360p"),
    (body(hdr=True, duration="10s"), "hdr is not supported with duration 10s"),
    (body(exr_export=True), "exr_export requires hdr"),
    (
        body(keyframes=[IMAGE], keyframe_indexes=[0], start_frame=IMAGE),
        "mutually exclusive with start_frame",
    ),
    (body(keyframes=[IMAGE], keyframe_indexes=[0], loop=True), "loop is not supported with"),
    (body(keyframes=[IMAGE, IMAGE], keyframe_indexes=[0]), "must match keyframes in length"),
    (body(keyframes=[IMAGE, IMAGE], keyframe_indexes=[3, 3]), "must be unique"),
    (body(keyframes=[IMAGE], keyframe_indexes=[121]), "outside the frame grid 0..120"),
    (body(keyframes=[IMAGE], keyframe_indexes=[-1]), "outside the frame grid"),
    (body(duration="10s", keyframes=[IMAGE], keyframe_indexes=[241]), "0..240"),
    (
        body(keyframes=[{"generation_id": "g"}], keyframe_indexes=[0]),
        "generation_id is only accepted",
    ),
    (body(start_frame={"url": "https://x/a.mp4", "media_type": "video/mp4"}), "image/"),
    (body(start_frame={"data": "not base64!", "media_type": "image/png"}), "not valid base64"),
    (body(start_frame={"data": "aGVsbG8=", "media_type": "image/png"}), "not a valid image/png"),
    (body(edit={"auto_controls": True}), "only valid for type 'video_edit'"),
    (body(source_position={"x_norm": 0}), "only valid for type 'video_reframe'"),
    (body() | {"image_ref": [IMAGE]}, "image_ref is not supported for type 'video'"),
    (body() | {"source": IMAGE}, "source is not valid for type 'video'"),
]


@pytest.mark.parametrize(("payload", "detail"), BAD_VALUES)
def test_invalid_values_are_400(luma: LumaAgentsServer, payload: Any, detail: str) -> None:
    with http(luma) as c:
        status, got = refused(c, payload)
    assert (status, detail in got) == (400, True), got
    assert luma.submissions == 0


@pytest.mark.parametrize(("payload", "detail"), BAD_COMBINATIONS)
def test_rejected_combinations_are_422(luma: LumaAgentsServer, payload: Any, detail: str) -> None:
    with http(luma) as c:
        status, got = refused(c, payload)
    assert (status, detail in got) == (422, True), got
    assert luma.submissions == 0


def test_what_the_docs_allow(luma: LumaAgentsServer) -> None:
    png = base64.b64encode(PNG).decode()
    ok = [
        body(duration="10s"),
        body(hdr=True, exr_export=True, resolution="1080p"),
        body(loop=True, start_frame=IMAGE),
        body(start_frame=IMAGE, end_frame={"data": png, "media_type": "image/png"}),
        body(duration="10s", keyframes=[IMAGE, IMAGE], keyframe_indexes=[0, 240]),
        body(hdr=True, keyframes=[IMAGE], keyframe_indexes=[0]),
        body(resolution="360p") | {"aspect_ratio": "21:9", "user_id": "end-user-7"},
        body(start_frame=IMAGE, resolution=None, duration=None),  # null = absent
    ]
    with http(luma) as c:
        for payload in ok:
            create(c, payload)
    assert luma.submissions == len(ok)


# -- extension ---------------------------------------------------------------------------------
def test_extension_forward_and_backward(luma: LumaAgentsServer, tmp_path: Path) -> None:
    with http(luma) as c:
        first = create(c, body())
        code, detail = refused(c, body(start_frame={"generation_id": first["id"]}))
        assert code == 422 and "not a completed video generation" in detail
        wait_done(c, first["id"])
        forward = create(c, body(start_frame={"generation_id": first["id"]}))
        backward = create(c, body(end_frame={"generation_id": first["id"]}))
        for payload, text in [
            (
                body(start_frame={"generation_id": first["id"]}, end_frame=IMAGE),
                "no other frame",
            ),
            (
                body(
                    start_frame={"generation_id": first["id"]},
                    end_frame={"generation_id": first["id"]},
                ),
                "no other frame",
            ),
            (body(start_frame={"generation_id": first["id"]}, duration="10s"), "10s"),
            (body(start_frame={"generation_id": first["id"]}, hdr=True), "hdr"),
        ]:
            code, detail = refused(c, payload)
            assert code == 422 and text in detail, detail
        done = wait_done(c, forward["id"])
        data = httpx.get(done["output"][0]["url"]).content
    assert duration_of(data, tmp_path) == pytest.approx(5.0, abs=0.2)  # the new 5 s only
    assert luma.jobs[forward["id"]].direction == "forward"
    assert luma.jobs[backward["id"]].direction == "backward"
    with http(luma, key="luma-api-other") as other:  # not the caller's generation
        code, detail = refused(other, body(start_frame={"generation_id": first["id"]}))
        assert code == 400 and "not found" in detail


def test_extension_including_the_source(tmp_path: Path) -> None:
    with (
        LumaAgentsServer(latency=0.1, extension_includes_source=True) as luma,
        http(luma) as c,
    ):
        first = wait_done(c, create(c, body())["id"])
        ext = wait_done(c, create(c, body(start_frame={"generation_id": first["id"]}))["id"])
        data = httpx.get(ext["output"][0]["url"]).content
        assert duration_of(data, tmp_path) == pytest.approx(10.0, abs=0.3)
        assert luma.jobs[ext["id"]].price_usd == pytest.approx(0.30)  # one 5 s block


# -- switches for what the docs leave open ------------------------------------------------------
def test_image_ref_on_video_when_accepted() -> None:
    with LumaAgentsServer(latency=0.05, video_image_refs=3) as luma, http(luma) as c:
        create(c, body() | {"image_ref": [IMAGE] * 3})
        code, detail = refused(c, body() | {"image_ref": [IMAGE] * 4})
        assert code == 422 and "at most 3" in detail
        assert luma.jobs[next(iter(luma.jobs))].image_refs[0]["url"] == IMAGE["url"]


def test_unknown_fields_ignored_when_so_configured() -> None:
    with LumaAgentsServer(latency=0.05, unknown_fields="ignore") as luma, http(luma) as c:
        create(c, body(frame0=IMAGE) | {"callback_url": "https://x.test/hook"})
    with LumaAgentsServer(latency=0.05) as luma, http(luma) as c:
        code, detail = refused(c, body(start_frame=IMAGE | {"type": "image"}))
        assert code == 400 and "Unknown field 'type'" in detail


def test_loop_keyframes_detail_and_list_details() -> None:
    text = "Loop is not supported for keyframes"
    with (
        LumaAgentsServer(loop_keyframes_detail=text, detail_format="list") as luma,
        http(luma) as c,
    ):
        r = c.post("/generations", json=body(keyframes=[IMAGE], keyframe_indexes=[0], loop=True))
        assert r.status_code == 422
        [error] = r.json()["detail"]
        assert error["msg"] == text and error["loc"][-1] == "loop"


def test_hdr_access_and_reframe_1080p_switches() -> None:
    with LumaAgentsServer(hdr_access=False) as luma, http(luma) as c:
        assert refused(c, body(hdr=True))[0] == 403
    with LumaAgentsServer(latency=0.05, reframe_1080p=False) as luma, http(luma) as c:
        src = wait_done(c, create(c, body())["id"])
        reframe = {
            "model": "ray-3.2",
            "type": "video_reframe",
            "prompt": "widen",
            "aspect_ratio": "21:9",
            "source": {"generation_id": src["id"]},
            "video": {"resolution": "1080p"},
        }
        code, detail = refused(c, reframe)
        assert code == 422 and "coming soon" in detail


# -- video_edit and video_reframe ---------------------------------------------------------------
def _edit(source: dict[str, Any], **video: Any) -> dict[str, Any]:
    return {
        "model": "ray-3.2",
        "type": "video_edit",
        "prompt": "make it snow",
        "source": source,
    } | ({"video": video} if video else {})


def test_video_edit(luma: LumaAgentsServer, tmp_path: Path) -> None:
    with http(luma) as c:
        src = wait_done(c, create(c, body(duration="10s"))["id"])
        ref = {"generation_id": src["id"]}
        controls = {
            "depth": {"enabled": True, "blur": 0.3},
            "pose": {"strength": "coarse"},
            "face": {"enabled": True},
            "normals": {"augmentation": 1},
            "trajectory": {"sparsity": 0},
        }
        edit = create(c, _edit(ref, edit={"strength": "flex_2", "controls": controls}))
        create(c, _edit(ref, edit={"auto_controls": True}) | {"aspect_ratio": "1:1"})
        create(
            c,
            _edit(
                {"url": "https://x.test/v.mp4", "media_type": "video/mp4"},
                edit={"keyframes": [IMAGE], "keyframe_indexes": [120]},
            ),
        )
        for payload, status, text in [
            (_edit(ref, end_frame=IMAGE), 422, "end_frame is not valid"),
            (_edit(ref, loop=True), 422, "loop is only valid for type 'video'"),
            (_edit(ref) | {"image_ref": [IMAGE]}, 422, "image_ref is not valid"),
            (_edit(ref, keyframes=[IMAGE], keyframe_indexes=[0]), 422, "type 'video'"),
            (_edit(ref, edit={"strength": "max"}), 400, "Invalid strength"),
            (_edit(ref, edit={"controls": {"depth": {"blur": 2}}}), 400, "0 to 1"),
            (_edit(ref, edit={"controls": {"pose": {"strength": "x"}}}), 400, "precise"),
            (_edit(ref, edit={"controls": {"edges": {}}}), 400, "Unknown field 'edges'"),
            (
                _edit(ref, edit={"auto_controls": True, "controls": {"face": {}}}),
                422,
                "auto_controls",
            ),
            (
                _edit(ref, start_frame=IMAGE, edit={"keyframes": [IMAGE], "keyframe_indexes": [0]}),
                422,
                "mutually exclusive with video.start_frame",
            ),
            (
                _edit(ref, edit={"keyframes": [IMAGE], "keyframe_indexes": [241]}),
                422,
                "0..240",
            ),
            (_edit(IMAGE), 400, "media_type is required"),
            (_edit({"url": "https://x/a.png", "media_type": "image/png"}), 422, "video/"),
        ]:
            code, detail = refused(c, payload)
            assert (code, text in detail) == (status, True), detail
        done = wait_done(c, edit["id"])
        data = httpx.get(done["output"][0]["url"]).content
    assert duration_of(data, tmp_path) == pytest.approx(10.0, abs=0.3)  # = the source's


def test_edit_source_limit() -> None:
    with LumaAgentsServer(latency=0.05, url_source_seconds=20) as luma, http(luma) as c:
        code, detail = refused(
            c, _edit({"url": "https://x.test/long.mp4", "media_type": "video/mp4"})
        )
        assert code == 422 and "18 seconds or shorter" in detail


def test_video_reframe(luma: LumaAgentsServer) -> None:
    with http(luma) as c:
        src = wait_done(c, create(c, body())["id"])  # 16:9

        def reframe(**changes: Any) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "model": "ray-3.2",
                "type": "video_reframe",
                "prompt": "extend the sides",
                "aspect_ratio": "21:9",
                "source": {"generation_id": src["id"]},
                "video": {
                    "source_position": {"x_norm": -0.1, "y_norm": 0, "w_norm": 1.2, "h_norm": 1}
                },
            }
            return payload | changes

        gen = create(c, reframe())
        assert luma.jobs[gen["id"]].aspect_ratio == "21:9"
        for payload, status, text in [
            (reframe(aspect_ratio="16:9"), 422, "must differ"),
            (reframe(aspect_ratio=None), 400, "aspect_ratio is required"),
            (reframe(video={"hdr": True}), 422, "hdr is not supported"),
            (reframe(video={"loop": True}), 422, "loop"),
            (reframe(video={"start_frame": IMAGE}), 422, "start_frame is not valid"),
            (reframe(video={"edit": {}}), 422, "video.edit"),
            (reframe(video={"source_position": {"x_norm": 0}}), 400, "y_norm is required"),
            (
                reframe(
                    video={"source_position": {"x_norm": 0, "y_norm": 0, "w_norm": 3, "h_norm": 1}}
                ),
                400,
                "(0, 2]",
            ),
            (reframe(aspect_ratio="9:16", video={"resolution": "1080p"}), 422, "9:16"),
        ]:
            code, detail = refused(c, payload)
            assert (code, text in detail) == (status, True), detail


# -- asynchronous failures, limits, faults -----------------------------------------------------
def test_moderation_and_planned_failures(luma: LumaAgentsServer) -> None:
    with http(luma) as c:
        bad = wait_done(c, create(c, body() | {"prompt": "something forbidden"})["id"])
        assert bad["state"] == "failed" and bad["failure_code"] == "content_moderated"
        assert bad["failure_reason"] and bad["output"] is None
        luma.fail_next_job("generation_failed", "GPU fell over")
        other = wait_done(c, create(c, body())["id"])
        assert (other["failure_code"], other["failure_reason"]) == (
            "generation_failed",
            "GPU fell over",
        )
    assert luma.billed_usd == 0


def test_limits_and_balance() -> None:
    with (
        LumaAgentsServer(latency=0.5, concurrency=2, creates_per_minute=3) as luma,
        http(luma) as c,
    ):
        for _ in range(2):
            create(c, body())
        r = c.post("/generations", json=body())
        assert r.status_code == 429 and r.json()["detail"] == "Too many concurrent jobs"
        assert 0 < float(r.headers["retry-after"]) <= 0.5
        assert luma.wait_idle()
        create(c, body())
        r = c.post("/generations", json=body())
        assert r.status_code == 429 and r.json()["detail"] == "Rate limit exceeded"
    with LumaAgentsServer(latency=0.05, balance_usd=0.2) as luma, http(luma) as c:
        create(c, body(resolution="540p"))  # 0.15
        r = c.post("/generations", json=body(resolution="720p"))  # 0.30
        assert r.status_code == 402 and r.json() == {"detail": "Insufficient balance"}


@pytest.mark.parametrize("kind", ["401", "402", "413", "422", "429", "500", "502", "503"])
def test_injected_status_faults(luma: LumaAgentsServer, kind: str) -> None:
    luma.fail_next("create", kind)
    with http(luma) as c:
        r = c.post("/generations", json=body())
        assert r.status_code == int(kind) and "detail" in r.json()
        assert r.headers["x-should-retry"] == "false"
        if kind == "429":
            assert float(r.headers["retry-after"]) == pytest.approx(luma.fault_retry_after)
        assert c.post("/generations", json=body()).status_code == 201
    assert luma.submissions == 1


def test_drops_and_truncation(luma: LumaAgentsServer) -> None:
    with http(luma) as c:
        luma.fail_next("create", "drop")
        with pytest.raises(httpx.TransportError):
            c.post("/generations", json=body())
        assert luma.submissions == 0
        luma.fail_next("create", "drop_after_accept")
        with pytest.raises(httpx.TransportError):
            c.post("/generations", json=body())
        assert luma.submissions == 1
        luma.fail_next("get", "drop")
        job_id = next(iter(luma.jobs))
        with pytest.raises(httpx.TransportError):
            c.get(f"/generations/{job_id}")
        url = wait_done(c, job_id)["output"][0]["url"]
    luma.fail_next("download", "truncate")
    with httpx.Client() as h, h.stream("GET", url) as r:
        expected = int(r.headers["content-length"])
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                got += chunk
    assert 0 < len(got) < expected
    luma.fail_next("download", "expired")
    assert httpx.get(url).status_code == 403
    assert httpx.get(url).status_code == 200
    with pytest.raises(ValueError):
        luma.fail_next("download", "402")


# -- files -----------------------------------------------------------------------------------
def test_files_presigned_flow_and_use(luma: LumaAgentsServer) -> None:
    with http(luma) as c:
        r = c.post(
            "/files", json={"mime_type": "image/png", "size_bytes": len(PNG), "filename": "a.png"}
        )
        assert r.status_code == 201
        created = r.json()
        file_id = created["id"]
        assert created["state"] == created["file"]["state"] == "pending"
        upload = created["upload"]
        assert upload["method"] == "PUT" and upload["url"].startswith(luma.base_url)
        # not ready yet: refused as a generation input
        code, detail = refused(c, body(start_frame={"file_id": file_id}))
        assert code == 422 and "not ready" in detail
        # completing before the PUT
        assert c.post(f"/files/{file_id}/complete").status_code == 422
        bad = httpx.put(upload["url"], content=PNG + b"x", headers=upload["headers"])
        assert bad.status_code == 403  # not the declared size
        put = httpx.put(upload["url"], content=PNG, headers=upload["headers"])
        assert put.status_code == 200 and put.headers["etag"]
        done = c.post(f"/files/{file_id}/complete")
        assert done.status_code == 200 and done.json()["id"] == file_id
        assert luma.wait_file(file_id).state == "ready"
        assert c.get(f"/files/{file_id}").json()["state"] == "ready"
        create(c, body(start_frame={"file_id": file_id}))
        # a video position wants a video file
        code, detail = refused(c, _edit({"file_id": file_id}))
        assert code == 422 and "not video/" in detail
    with http(luma, key="luma-api-other") as other:  # owned by the same client only
        assert other.get(f"/files/{file_id}").status_code == 404
        assert refused(other, body(start_frame={"file_id": file_id}))[0] == 400
    assert luma.uploads == 1


def test_files_video_source_inline_list_delete(luma: LumaAgentsServer, tmp_path: Path) -> None:
    with http(luma) as c:
        clip = wait_done(c, create(c, body())["id"])
        mp4 = httpx.get(clip["output"][0]["url"]).content
        r = c.post(
            "/files",
            data={"mime_type": "video/mp4", "purpose": "input"},
            files={"file": ("clip.mp4", mp4, "video/mp4")},
        )
        assert r.status_code == 201 and r.json()["upload"] is None
        file_id = r.json()["id"]
        file = luma.wait_file(file_id)
        assert file.state == "ready" and file.duration == pytest.approx(5.0, abs=0.2)
        edit = wait_done(c, create(c, _edit({"file_id": file_id}))["id"])
        assert duration_of(httpx.get(edit["output"][0]["url"]).content, tmp_path) == pytest.approx(
            5.0, abs=0.2
        )
        # bytes that are not what they claim: the file fails ingest
        junk = c.post(
            "/files",
            data={"mime_type": "image/png"},
            files={"file": ("x.png", b"junk", "image/png")},
        ).json()
        assert luma.wait_file(junk["id"]).state == "failed"
        assert c.get(f"/files/{junk['id']}").json()["failure_reason"]
        page = c.get("/files", params={"limit": 1}).json()
        assert [f["id"] for f in page["data"]] == [junk["id"]] and page["has_more"]
        rest = c.get("/files", params={"limit": 1, "cursor": page["next_cursor"]}).json()
        assert [f["id"] for f in rest["data"]] == [file_id] and not rest["has_more"]
        assert c.get("/files", params={"limit": 101}).status_code == 400
        assert c.delete(f"/files/{file_id}").status_code == 204
        assert c.get(f"/files/{file_id}").json()["state"] == "deleted"
        assert refused(c, _edit({"file_id": file_id}))[0] == 400
        assert c.post("/files", json={"mime_type": "image/png"}).status_code == 400
        too_big = c.post("/files", json={"mime_type": "video/mp4", "size_bytes": 6 * 1024**3})
        assert too_big.status_code == 413
    assert luma.uploads == 2


# -- the official SDK ------------------------------------------------------------------------------
def test_official_sdk_against_the_fake(luma: LumaAgentsServer) -> None:
    sdk = pytest.importorskip("luma_agents")
    client = sdk.Luma(auth_token=luma.api_key, base_url=luma.api_url, max_retries=0)
    gen = client.generations.create(
        model="ray-3.2",
        type="video",
        prompt="a red kite",
        aspect_ratio="16:9",
        video={"duration": "5s", "resolution": "540p", "start_frame": IMAGE},
    )
    assert gen.state == "queued"
    deadline = time.monotonic() + 10
    while (gen := client.generations.get(gen.id)).state not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.03)
    assert gen.state == "completed" and gen.output[0].url
    with pytest.raises(sdk.BadRequestError) as err:
        client.generations.create(
            model="ray-3.2", type="video", prompt="x", video={"duration": "9s"}
        )
    assert "Invalid duration" in err.value.body["detail"]
    with pytest.raises(sdk.UnprocessableEntityError):
        client.generations.create(
            model="ray-3.2", type="video", prompt="x", video={"loop": True, "duration": "10s"}
        )
    with pytest.raises(sdk.NotFoundError):
        client.generations.get("00000000-0000-4000-8000-000000000000")
    with pytest.raises(sdk.AuthenticationError):
        sdk.Luma(auth_token="wrong", base_url=luma.api_url, max_retries=0).generations.get(gen.id)
    luma.fail_next("create", "429")
    with pytest.raises(sdk.RateLimitError):
        client.generations.create(model="ray-3.2", type="video", prompt="x")
    created = client.files.create(mime_type="image/png", size_bytes=len(PNG))
    assert created.upload is not None and created.upload.method == "PUT"
    httpx.put(created.upload.url, content=PNG, headers=created.upload.headers or {})
    assert client.files.complete(created.id).id == created.id
    assert luma.wait_file(created.id).state == "ready"
    assert client.files.get(created.id).state == "ready"
    assert [f.id for f in client.files.list().data] == [created.id]
    client.files.delete(created.id)
    assert client.files.get(created.id).state == "deleted"


def test_hold_late_accept_and_echo(luma: LumaAgentsServer) -> None:
    from tests.fakes.hold import held

    luma.fail_next("create", "hold_after_accept")
    with http(luma) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/generations", json=body(), timeout=0.5)
    assert held(luma).is_set() and luma.submissions == 1
    luma.late_accept = 0.1
    luma.fail_next("create", "accept_after_client_died")
    with http(luma) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/generations", json=body(), timeout=0.3)
    deadline = time.monotonic() + 5
    while luma.submissions < 2:
        assert time.monotonic() < deadline, "the late create was never accepted"
        time.sleep(0.02)
    luma.fail_next("get", "echo")
    with http(luma) as c:
        r = c.get("/generations/x")
    assert r.status_code == 400 and luma.api_key in r.json()["detail"]


def test_media_too_large_is_413() -> None:
    with LumaAgentsServer(max_media_bytes=10, inline_upload_limit=10) as luma, http(luma) as c:
        data = base64.b64encode(PNG).decode()
        status, detail = refused(c, body(start_frame={"data": data, "media_type": "image/png"}))
        assert status == 413 and "size limit" in detail
        r = c.post("/files", data={"mime_type": "image/png"}, files={"file": ("a.png", PNG)})
        assert r.status_code == 413


# -- a local video as an edit's source (a previz to promote) ----------------------------------
def _mp4(path: Path, seconds: float, fps: int = 24, size: tuple[int, int] = (192, 108)) -> bytes:
    """A real H.264 MP4 of ``seconds`` at ``fps`` (one solid colour)."""
    from ministudio.media.encode import VideoWriter

    from tests.fakes.clips import solid_planes

    planes = solid_planes(*size, f"previz {seconds}")
    with VideoWriter(path, *size, fps) as writer:
        for _ in range(round(seconds * fps)):
            writer.write_yuv420p(planes)
    return path.read_bytes()


def _uploaded(c: httpx.Client, luma: LumaAgentsServer, data: bytes) -> str:
    """A ready video/mp4 file of ``data`` through the presigned flow ([SDK-A] files.py)."""
    made = c.post("/files", json={"mime_type": "video/mp4", "size_bytes": len(data)}).json()
    put = httpx.put(made["upload"]["url"], content=data, headers=made["upload"]["headers"])
    assert put.status_code == 200, put.text
    assert c.post(f"/files/{made['id']}/complete").status_code == 200
    assert luma.wait_file(made["id"]).state == "ready"
    return str(made["id"])


def test_a_video_file_source_sets_the_edit_length_and_price(
    luma: LumaAgentsServer, tmp_path: Path
) -> None:
    """A 7 s MP4 uploaded as a file: the edit lasts 7 s (probed from the bytes, rendered at
    the fake's fps), is billed as two 5 s edit blocks (the 10 s edit price), and its body is
    recorded."""
    data = _mp4(tmp_path / "previz.mp4", 7.0)
    with http(luma) as c:
        file_id = _uploaded(c, luma, data)
        assert luma.files[file_id].duration == pytest.approx(7.0)
        sent = _edit({"file_id": file_id}, resolution="720p", start_frame=IMAGE)
        done = wait_done(c, create(c, sent)["id"])
        clip = httpx.get(done["output"][0]["url"]).content
    assert duration_of(clip, tmp_path) == pytest.approx(7.0, abs=1 / luma.fps)
    assert luma.billed_usd == pytest.approx(2.16)  # 2 x 1.08 (720p)
    assert luma.create_bodies == [sent]
    # "owned by the same client and in state=ready" ([SDK-A] image_ref_param.py)
    with http(luma, "luma-api-other") as other:
        assert refused(other, sent) == (400, f"file {file_id!r} not found")
    with http(luma) as c:
        pending = c.post("/files", json={"mime_type": "video/mp4", "size_bytes": len(data)})
        code, detail = refused(c, _edit({"file_id": pending.json()["id"]}))
        assert code == 422 and "not ready" in detail


def test_a_video_file_source_over_18_s_is_refused(luma: LumaAgentsServer, tmp_path: Path) -> None:
    data = _mp4(tmp_path / "long.mp4", 19.0, fps=8, size=(64, 36))
    with http(luma) as c:
        file_id = _uploaded(c, luma, data)
        code, detail = refused(c, _edit({"file_id": file_id}))
        # an image file is no source, a video file no frame
        png = c.post(
            "/files", data={"mime_type": "image/png"}, files={"file": ("a.png", PNG, "image/png")}
        ).json()["id"]
        assert luma.wait_file(png).state == "ready"
        assert refused(c, _edit({"file_id": png}))[1].endswith("not video/*")
        short = _uploaded(c, luma, _mp4(tmp_path / "short.mp4", 2.0, fps=8, size=(64, 36)))
        frame = _edit({"file_id": short}, start_frame={"file_id": short})
        assert refused(c, frame)[1].endswith("not image/*")
    assert (code, "18 seconds or shorter" in detail) == (422, True)
    assert luma.submissions == 0 and len(luma.create_bodies) == 3


@pytest.mark.parametrize("minimum", [0.0, 3.0])
def test_a_short_source_either_way(tmp_path: Path, minimum: float) -> None:
    """The docs name no shortest source: ``edit_min_source_seconds`` answers either way."""
    data = _mp4(tmp_path / "short.mp4", 2.0, fps=8, size=(64, 36))
    with LumaAgentsServer(latency=0.05, edit_min_source_seconds=minimum) as luma, http(luma) as c:
        file_id = _uploaded(c, luma, data)
        r = c.post("/generations", json=_edit({"file_id": file_id}))
    if minimum:
        assert r.status_code == 422 and "at least 3 seconds" in r.json()["detail"]
    else:
        assert r.status_code == 201


# -- images: type "image" on uni-1 / uni-1-max ([D-img], [SDK-A], [D-price]) ------------------
def image(**fields: Any) -> dict[str, Any]:
    return {"type": "image", "prompt": "a red kite over a dock"} | fields


def test_an_image_is_drawn_as_a_real_picture_of_its_ratio_and_billed(
    luma: LumaAgentsServer,
) -> None:
    import io

    from PIL import Image

    data = base64.b64encode(PNG).decode()
    with http(luma) as c:
        gen = create(c, image(aspect_ratio="2:1", output_format="jpeg"))
        assert (gen["type"], gen["model"], gen["output"]) == ("image", "uni-1", None)
        done = wait_done(c, gen["id"])
        (out,) = done["output"]
        assert out["type"] == "image"
        answer = httpx.get(out["url"])
        assert answer.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(answer.content)) as picture:
            assert picture.format == "JPEG" and picture.width == 2 * picture.height
        refs = [
            {"data": data, "media_type": "image/png"},
            IMAGE,
            {"data": data, "media_type": "image/png"},
        ]
        maxed = create(c, image(model="uni-1-max", aspect_ratio="9:16", image_ref=refs))
        done = wait_done(c, maxed["id"])
        with Image.open(io.BytesIO(httpx.get(done["output"][0]["url"]).content)) as picture:
            assert picture.format == "PNG" and picture.height > picture.width  # png unless asked
    assert luma.jobs[maxed["id"]].width == 1152 and luma.jobs[maxed["id"]].height == 2048
    # [D-price]: $0.0404 text to image; uni-1-max with 3 references $0.1030 + 2 x $0.0030
    assert luma.billed_usd == pytest.approx(0.0404 + 0.1090)


BAD_IMAGES = [
    (image(prompt=""), 400, "prompt must be 1 to 6000"),
    (image(prompt="x" * 6001), 400, "prompt must be 1 to 6000"),
    (image(model="ray-3.2"), 422, "requires model 'uni-1' or 'uni-1-max'"),
    (image(aspect_ratio="21:9"), 400, "not supported for uni-1"),  # in the SDK enum, not [D-img]
    (image(aspect_ratio="4:3"), 400, "not supported for uni-1"),
    (image(style="anime"), 400, "Invalid style"),
    (image(output_format="webp"), 400, "Invalid output_format"),
    (image(web_search="yes"), 400, "web_search must be a boolean"),
    (image(image_ref=[IMAGE] * 10), 400, "at most 9"),
    (image(image_ref=IMAGE), 400, "image_ref must be a list"),
    (image(image_ref=[{"url": "https://x/a.png", "data": "aGk="}]), 422, "exactly one"),
    (image(image_ref=[{"data": "aGk="}]), 400, "media_type is required with data"),
    (image(image_ref=[{"data": "aGVsbG8=", "media_type": "image/png"}]), 422, "not a valid"),
    (image(image_ref=[{"generation_id": "g"}]), 422, "generation_id is only accepted"),
    (image(source=IMAGE), 422, "source is not valid for type 'image'"),
    (image(video={"duration": "5s"}), 422, "video is only valid"),
    (image(type="image_edit", source=IMAGE), 400, "not served by this fake"),
]


@pytest.mark.parametrize(("payload", "status", "said"), BAD_IMAGES)
def test_what_the_docs_refuse_for_an_image(
    luma: LumaAgentsServer, payload: dict[str, Any], status: int, said: str
) -> None:
    with http(luma) as c:
        code, detail = refused(c, payload)
    assert (code, said in detail) == (status, True), detail
    assert luma.submissions == 0


def test_a_blocked_word_fails_an_image_with_content_moderated_unbilled(
    luma: LumaAgentsServer,
) -> None:
    with http(luma) as c:
        gen = wait_done(c, create(c, image(prompt="a forbidden dock"))["id"])
    assert (gen["state"], gen["failure_code"], gen["output"]) == (
        "failed",
        "content_moderated",
        None,
    )
    assert luma.billed_usd == 0


@pytest.mark.parametrize(("ratio", "fmt"), [("1:1", "png"), ("16:9", "jpeg")])
def test_what_the_model_picks_when_ratio_and_format_are_unset(ratio: str, fmt: str) -> None:
    """[D-img]: left unset, the model picks a ratio and a format: which is a switch."""
    with (
        LumaAgentsServer(latency=0.05, image_default_ratio=ratio, image_default_format=fmt) as s,
        http(s) as c,
    ):
        gen = wait_done(c, create(c, {"prompt": "a kite"})["id"])  # type and model by default
        job = s.jobs[gen["id"]]
        assert (job.type, job.model, job.aspect_ratio, job.output_format) == (
            "image",
            "uni-1",
            ratio,
            fmt,
        )
        url = gen["output"][0]["url"]
        assert httpx.get(url).headers["content-type"] == f"image/{fmt}"


@pytest.mark.parametrize("allowed", [None, ("2:3", "9:16")])
def test_manga_ratios_are_a_switch(allowed: tuple[str, ...] | None) -> None:
    with LumaAgentsServer(latency=0.05, manga_aspect_ratios=allowed) as s, http(s) as c:
        create(c, image(style="manga", aspect_ratio="2:3"))
        r = c.post("/generations", json=image(style="manga", aspect_ratio="16:9"))
        if allowed is None:
            assert r.status_code == 201
        else:
            assert r.status_code == 422 and "manga" in r.json()["detail"]
        create(c, image(style="auto", aspect_ratio="16:9"))


def test_the_sdk_draws_an_image(luma: LumaAgentsServer) -> None:
    luma_agents = pytest.importorskip("luma_agents")
    client = luma_agents.Luma(auth_token=luma.api_key, base_url=luma.api_url, max_retries=0)
    made = client.generations.create(
        prompt="a kite",
        type="image",
        model="uni-1",
        aspect_ratio="3:1",
        image_ref=[{"data": base64.b64encode(PNG).decode(), "media_type": "image/png"}],
    )
    assert luma.wait_idle()
    done = client.generations.get(made.id)
    assert done.state == "completed" and done.output and done.output[0].type == "image"
    assert luma.jobs[made.id].price_usd == pytest.approx(0.0434)
