"""The Luma Dream Machine fake (tests/fakes/luma_server.py), driven by the official SDK."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.luma_server import MODERATION_FAILED, LumaServer

lumaai = pytest.importorskip("lumaai")


@pytest.fixture
def luma() -> Iterator[LumaServer]:
    with LumaServer(latency=0.3, image_latency=0.1) as server:
        yield server


def client(server: LumaServer, key: str | None = None) -> Any:
    return lumaai.LumaAI(auth_token=key or server.api_key, base_url=server.api_url, max_retries=0)


def wait_done(c: Any, gen_id: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        gen = c.generations.get(gen_id)
        if gen.state in ("completed", "failed"):
            return gen
        assert time.monotonic() < deadline, f"{gen_id} still {gen.state}"
        time.sleep(0.05)


def test_video_create_poll_download(luma: LumaServer, tmp_path: Path) -> None:
    from ministudio.media.probe import probe

    c = client(luma)
    gen = c.generations.create(
        model="ray-2",
        prompt="a red kite over the sea",
        aspect_ratio="16:9",
        resolution="540p",
        duration="5s",
        keyframes={"frame0": {"type": "image", "url": "https://example.com/a.jpg"}},
    )
    assert gen.state == "queued" and gen.assets is None and gen.generation_type == "video"
    assert gen.request.model == "ray-2"
    done = wait_done(c, gen.id)
    assert done.state == "completed" and done.failure_reason is None
    assert done.assets.video.endswith(".mp4") and done.assets.image
    data = httpx.get(done.assets.video).content  # no auth: a CDN URL
    (tmp_path / "clip.mp4").write_bytes(data)
    info = probe(tmp_path / "clip.mp4")
    assert info.duration == pytest.approx(5.0, abs=0.2)
    assert info.width / info.height == pytest.approx(16 / 9, rel=0.05)
    job = luma.jobs[gen.id]
    assert (job.width, job.height) == (960, 540)
    assert job.keyframes == {"frame0": {"type": "image", "url": "https://example.com/a.jpg"}}
    assert ("POST", "/dream-machine/v1/generations/video") in luma.requests
    assert luma.submissions == 1 and luma.billed_cents == pytest.approx(39.8, abs=0.2)
    assert c.credits.get().credit_balance == pytest.approx(100_000 - job.cost_cents)
    assert c.ping.check().message == "pong"

    # extend the finished clip: a generation keyframe must name a completed generation
    ext = c.generations.create(
        model="ray-flash-2",
        duration="9s",
        keyframes={"frame0": {"type": "generation", "id": gen.id}},
    )
    assert luma.jobs[ext.id].keyframes["frame0"] == {"type": "generation", "id": gen.id}
    assert luma.jobs[ext.id].duration == 9.0
    with pytest.raises(lumaai.BadRequestError):
        c.generations.create(
            model="ray-2", keyframes={"frame0": {"type": "generation", "id": "nope"}}
        )


def test_legacy_path(luma: LumaServer) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {luma.api_key}"}) as h:
        r = h.post(
            luma.api_url + "/generations",
            json={"model": "ray-2", "prompt": "a cat", "resolution": "720p"},
        )
        assert r.status_code == 201
        gen = r.json()
        assert gen["state"] == "queued" and gen["request"]["generation_type"] == "video"
    assert luma.jobs[gen["id"]].legacy_path
    assert wait_done(client(luma), gen["id"]).state == "completed"


def test_image_generation(luma: LumaServer) -> None:
    c = client(luma)
    gen = c.generations.image.create(
        model="photon-1",
        prompt="@character in a forest",
        format="png",
        aspect_ratio="1:1",
        character_ref={"identity0": {"images": ["https://example.com/face.jpg"]}},
        image_ref=[{"url": "https://example.com/ref.jpg", "weight": 0.85}],
    )
    assert gen.generation_type == "image"
    done = wait_done(c, gen.id)
    assert done.assets.image.endswith(".png") and done.assets.video is None
    r = httpx.get(done.assets.image)
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert luma.jobs[gen.id].request["character_ref"]["identity0"]["images"]
    sync = c.generations.image.create(model="photon-flash-1", prompt="a blue cup", sync=True)
    assert sync.state == "completed" and sync.assets.image.endswith(".jpg")


def test_auth_and_validation(luma: LumaServer) -> None:
    with pytest.raises(lumaai.AuthenticationError) as err:
        client(luma, key="wrong").generations.create(model="ray-2", prompt="a cat")
    assert err.value.body == {"detail": "Invalid API key is provided"}
    c = client(luma)
    cases = [
        ({"model": "ray-2"}, "Prompt is required"),
        ({"model": "ray-2", "prompt": "ab"}, "Prompt is too short, minimum length is 3 characters"),
        ({"model": "ray-2", "prompt": "x" * 5001}, "Prompt is too long"),
        ({"model": "ray-1-6", "prompt": "a cat"}, "Invalid model"),
        ({"model": "ray-2", "prompt": "a cat", "duration": "7s"}, "Invalid duration"),
        ({"model": "ray-2", "prompt": "a cat", "resolution": "8k"}, "Invalid resolution"),
        ({"model": "ray-2", "prompt": "a cat", "aspect_ratio": "2:1"}, "Invalid aspect_ratio"),
        (
            {
                "model": "ray-2",
                "prompt": "a cat",
                "loop": True,
                "keyframes": {"frame1": {"type": "image", "url": "https://x.test/b.jpg"}},
            },
            "Loop is not supported for end frame",
        ),
    ]
    for body, detail in cases:
        with pytest.raises(lumaai.BadRequestError) as err:
            c.generations.create(**body)
        assert err.value.status_code == 400
        assert err.value.body["detail"].startswith(detail), body
    with pytest.raises(lumaai.BadRequestError):
        c.generations.image.create(model="ray-2", prompt="a cat")
    assert luma.submissions == 0
    with pytest.raises(lumaai.NotFoundError):
        c.generations.get("no-such-id")


def test_blocked_word_fails(luma: LumaServer) -> None:
    c = client(luma)
    gen = c.generations.create(model="ray-2", prompt="something forbidden here")
    done = wait_done(c, gen.id)
    assert done.state == "failed" and done.failure_reason == MODERATION_FAILED
    assert done.assets is None and luma.billed_cents == 0
    assert httpx.get(f"{luma.base_url}/cdn/{gen.id}.mp4").status_code == 404
    luma.fail_next_job("Prompt processing failed")
    other = wait_done(c, c.generations.create(model="ray-2", prompt="a calm lake").id)
    assert other.failure_reason == "Prompt processing failed"


def test_concurrency_and_rate_limits() -> None:
    with LumaServer(latency=0.5, concurrency=2, creates_per_minute=3) as luma:
        c = client(luma)
        for i in range(2):
            c.generations.create(model="ray-2", prompt=f"clip number {i}")
        with pytest.raises(lumaai.RateLimitError) as err:
            c.generations.create(model="ray-2", prompt="one too many")
        assert 0 < float(err.value.response.headers["retry-after"]) <= 0.5
        assert "detail" in err.value.body
        assert luma.rejected["concurrency_limit"] == 1 and luma.peak_concurrency == 2
        assert luma.wait_idle()
        with pytest.raises(lumaai.RateLimitError):  # the 4th create within the minute
            c.generations.create(model="ray-2", prompt="over the per-minute limit")
        assert luma.rejected["rate_limit"] == 1


def test_injected_faults(luma: LumaServer) -> None:
    c = client(luma)
    luma.fail_next("create", "429")
    with pytest.raises(lumaai.RateLimitError) as err:
        c.generations.create(model="ray-2", prompt="a cat")
    assert err.value.response.headers["x-should-retry"] == "false"
    luma.fail_next("get", "500")
    with pytest.raises(lumaai.InternalServerError):
        c.generations.get("anything")
    luma.fail_next("create", "drop_after_accept")
    with pytest.raises(lumaai.APIConnectionError):
        c.generations.create(model="ray-2", prompt="lost answer")
    assert luma.submissions == 1  # accepted although the answer was lost
    # the SDK's default retries stop at x-should-retry: false
    retrying = lumaai.LumaAI(auth_token=luma.api_key, base_url=luma.api_url)
    luma.fail_next("ping", "500")
    with pytest.raises(lumaai.InternalServerError):
        retrying.ping.check()
    assert sum(1 for m, p in luma.requests if p.endswith("/ping")) == 1


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.got.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_callbacks(luma: LumaServer) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.got = []  # type: ignore[attr-defined]
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        c = client(luma)
        ok = c.generations.create(model="ray-2", prompt="a sunny beach", callback_url=url)
        bad = c.generations.create(model="ray-2", prompt="forbidden beach", callback_url=url)
        assert luma.wait_idle()
        got = receiver.got  # type: ignore[attr-defined]
        states = {g: [p["state"] for p in got if p["id"] == g] for g in (ok.id, bad.id)}
        assert states[ok.id] == ["dreaming", "completed"]
        assert states[bad.id] == ["dreaming", "failed"]
        done = next(p for p in got if p["state"] == "completed")
        assert done["assets"]["video"].endswith(".mp4")
        assert all(w.delivered and w.attempts == 1 for w in luma.webhooks)
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_list_and_delete() -> None:
    with LumaServer(latency=3.0) as luma:  # slow: all three stay in flight
        _list_and_delete(luma)


def _list_and_delete(luma: LumaServer) -> None:
    c = client(luma)
    ids = [c.generations.create(model="ray-2", prompt=f"shot {i}").id for i in range(3)]
    page = c.generations.list(limit=2, offset=0)
    assert [g.id for g in page.generations] == ids[::-1][:2]
    assert page.count == 2 and page.has_more and page.limit == 2 and page.offset == 0
    rest = c.generations.list(limit=2, offset=2)
    assert [g.id for g in rest.generations] == [ids[0]] and not rest.has_more
    assert c.generations.delete(ids[1]) is None
    assert ("DELETE", f"/dream-machine/v1/generations/{ids[1]}") in luma.requests
    with pytest.raises(lumaai.NotFoundError):
        c.generations.get(ids[1])
    assert [g.id for g in c.generations.list().generations] == [ids[2], ids[0]]
    assert luma.active == 2  # a deleted generation no longer counts
    with pytest.raises(lumaai.NotFoundError):
        c.generations.delete(ids[1])


def test_truncated_download_detected(luma: LumaServer) -> None:
    c = client(luma)
    done = wait_done(c, c.generations.create(model="ray-2", prompt="a short clip").id)
    luma.fail_next("download", "truncate")
    with httpx.Client() as h, h.stream("GET", done.assets.video) as r:
        expected = int(r.headers["content-length"])
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                got += chunk
    assert 0 < len(got) < expected
    whole = httpx.get(done.assets.video)
    assert len(whole.content) == int(whole.headers["content-length"]) == expected


def test_list_pages_refusals_and_a_capped_page() -> None:
    """The documented query (integer limit and offset, defaults 100 and 0); what the docs do
    not bound is refused in Luma's error shape; a server capping its pages (``list_limit``,
    the docs are silent) still pages right."""
    with LumaServer(latency=3.0, list_limit=2) as luma:
        c = client(luma)
        ids = [c.generations.create(model="ray-2", prompt=f"shot {i}").id for i in range(3)]
        page = c.generations.list(limit=100)
        assert [g.id for g in page.generations] == ids[::-1][:2] and page.has_more
        assert page.limit == 2 and page.count == 2
        rest = c.generations.list(limit=100, offset=2)
        assert [g.id for g in rest.generations] == [ids[0]] and not rest.has_more
        for query in ("limit=ten", "limit=0", "offset=-1"):
            answer = httpx.get(
                f"{luma.api_url}/generations?{query}",
                headers={"Authorization": f"Bearer {luma.api_key}"},
            )
            assert answer.status_code == 400 and set(answer.json()) == {"detail"}


def test_fields_outside_the_sdk_types() -> None:
    """Unknown fields: refused by default (400 naming the field), dropped with
    ``unknown_fields="ignore"`` (the docs do not say which Luma does)."""
    body = {"model": "ray-2", "prompt": "a cat", "negative_prompt": "dogs"}
    with (
        LumaServer(latency=0.05) as luma,
        httpx.Client(headers={"Authorization": f"Bearer {luma.api_key}"}) as h,
    ):
        r = h.post(luma.api_url + "/generations/video", json=body)
        assert r.status_code == 400 and r.json() == {"detail": "Unknown field 'negative_prompt'"}
        frame = {"type": "image", "url": "https://x.test/a.jpg", "weight": 1}
        r = h.post(
            luma.api_url + "/generations/video",
            json={"model": "ray-2", "prompt": "a cat", "keyframes": {"frame0": frame}},
        )
        assert r.status_code == 400 and "weight" in r.json()["detail"]
        assert luma.submissions == 0
    with (
        LumaServer(latency=0.05, unknown_fields="ignore") as luma,
        httpx.Client(headers={"Authorization": f"Bearer {luma.api_key}"}) as h,
    ):
        assert h.post(luma.api_url + "/generations/video", json=body).status_code == 201


def test_sdk_types_refusals(luma: LumaServer) -> None:
    c = client(luma)
    video = [
        ({"model": "ray-2", "prompt": "a cat", "generation_type": "image"}, "generation_type"),
        ({"model": "ray-2", "prompt": "a cat", "loop": "yes"}, "loop must be a boolean"),
        ({"model": "ray-2", "prompt": "a cat", "concepts": ["dolly_zoom"]}, "concepts must be"),
        (
            {"model": "ray-2", "keyframes": {"frame0": {"type": "video", "url": "https://x/a"}}},
            "frame0: type must be",
        ),
        ({"model": "ray-2", "keyframes": {"frame2": {"type": "image"}}}, "Unknown keyframe"),
    ]
    for body, detail in video:
        with pytest.raises(lumaai.BadRequestError) as err:
            c.generations.create(**body)
        assert detail in err.value.body["detail"], body
    url = "https://example.com/r.jpg"
    image = [
        ({"image_ref": [{"url": url}] * 5}, "image_ref: at most 4"),
        ({"style_ref": [{"url": url}] * 2}, "style_ref: at most 1"),
        ({"image_ref": [{"url": url, "weight": 1.5}]}, "weight must be a number from 0 to 1"),
        ({"modify_image_ref": {"url": "file:///etc/passwd"}}, "http(s)"),
        ({"character_ref": {"identity0": {"images": [url] * 5}}}, "1 to 4"),
        ({"character_ref": {"identity1": {"images": [url]}}}, "only identity0"),
        ({"format": "webp"}, "Invalid format"),
    ]
    for changes, detail in image:
        body = {"model": "photon-1", "prompt": "a cat"} | changes
        with pytest.raises(lumaai.BadRequestError) as err:
            c.generations.image.create(**body)
        assert detail in err.value.body["detail"], body
    no_model = httpx.post(
        luma.api_url + "/generations/image",
        json={"prompt": "a cat"},
        headers={"Authorization": f"Bearer {luma.api_key}"},
    )
    assert no_model.status_code == 400 and no_model.json() == {"detail": "Model is required"}
    assert luma.submissions == 0
    # what the types allow: a looping forward extension (the spec's "extend_video" example)
    done = wait_done(c, c.generations.create(model="ray-2", prompt="a calm sea").id)
    c.generations.create(
        model="ray-2",
        loop=True,
        concepts=[{"key": "dolly_zoom"}],
        keyframes={"frame0": {"type": "generation", "id": done.id}},
    )
    assert luma.status_requests >= 1


def test_concept_keys() -> None:
    with LumaServer(latency=0.05, concept_keys=("dolly_zoom", "orbit_left")) as luma:
        c = client(luma)
        assert c.generations.concepts.list() == ["dolly_zoom", "orbit_left"]
        c.generations.create(model="ray-2", prompt="a cat", concepts=[{"key": "orbit_left"}])
        with pytest.raises(lumaai.BadRequestError) as err:
            c.generations.create(model="ray-2", prompt="a cat", concepts=[{"key": "spin"}])
        assert err.value.body["detail"] == "Unknown concept 'spin'"
