"""The Sora fake (tests/fakes/sora_server.py), driven by the official openai SDK."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.sora_server import MODERATION, SoraServer

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

SECRET = "whsec_" + "ZmFrZS1zb3JhLXdlYmhvb2stc2VjcmV0LWZvci10ZXN0cw=="


@pytest.fixture
def sora() -> Iterator[SoraServer]:
    with SoraServer(latency=0.3, poll_after_ms=20) as server:
        yield server


def client(server: SoraServer, key: str | None = None, retries: int = 0) -> Any:
    return openai.OpenAI(
        api_key=key or server.api_key, base_url=server.api_url, max_retries=retries
    )


def png(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format=fmt)
    return out.getvalue()


def test_create_poll_download(sora: SoraServer, tmp_path: Path) -> None:
    from ministudio.media.probe import probe

    c = client(sora)
    video = c.videos.create(prompt="a red kite over the sea", seconds="8", size="1280x720")
    assert (video.status, video.progress, video.model) == ("queued", 0, "sora-2")
    assert (video.seconds, video.size, video.object) == ("8", "1280x720", "video")
    job = sora.jobs[video.id]
    assert job.content_type == "multipart/form-data"  # the SDK always sends a form
    assert job.fields == {"prompt": "a red kite over the sea", "seconds": "8", "size": "1280x720"}
    raw = c.videos.with_raw_response.retrieve(video.id)
    assert raw.headers["openai-poll-after-ms"] == "20" and raw.parse().status in (
        "queued",
        "in_progress",
    )
    before = job.retrieves
    done = c.videos.poll(video.id)  # sleeps the header's 20 ms between requests, not 1 s
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert job.retrieves - before >= 4
    assert done.completed_at and done.expires_at == done.completed_at + 86400
    assert "openai-poll-after-ms" not in c.videos.with_raw_response.retrieve(video.id).headers
    content = c.videos.download_content(video.id, variant="video")
    (tmp_path / "clip.mp4").write_bytes(content.content)
    info = probe(tmp_path / "clip.mp4")
    assert info.duration == pytest.approx(8.0, abs=0.2)
    assert info.width / info.height == pytest.approx(16 / 9, rel=0.05)
    assert c.videos.download_content(video.id, variant="thumbnail").content[8:12] == b"WEBP"
    sheet = c.videos.download_content(video.id, variant="spritesheet")
    assert sheet.response.headers["content-type"] == "image/jpeg"
    assert sora.accepts == ["application/binary"] * 3
    assert sora.submissions == 1 and sora.billed_usd == pytest.approx(0.80)
    assert sora.status_requests >= 3 and job.downloads == 1


def test_input_reference_and_validation(sora: SoraServer) -> None:
    c = client(sora)
    pro = c.videos.create(
        prompt="a lighthouse at dusk",
        model="sora-2-pro",
        size="1024x1792",
        input_reference=("frame.jpg", png((1024, 1792), "JPEG"), "image/jpeg"),
    )
    reference = sora.jobs[pro.id].input_reference
    assert reference is not None and reference["filename"] == "frame.jpg"
    assert reference["size"] == (1024, 1792) and reference["format"] == "JPEG"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"prompt": "x", "model": "sora-3"}, "model", "invalid_value"),
        ({"prompt": "x", "seconds": "5"}, "seconds", "invalid_value"),
        ({"prompt": "x", "size": "1920x1080"}, "size", "invalid_value"),
        ({"prompt": "x", "size": "1792x1024"}, "size", "invalid_value"),  # Pro only
        (
            {"prompt": "x", "input_reference": ("a.png", png((64, 64)), "image/png")},
            "input_reference",
            "invalid_value",
        ),
        (
            {"prompt": "x", "input_reference": ("a.gif", b"GIF89a", "image/gif")},
            "input_reference",
            "invalid_value",
        ),
        ({"prompt": "something forbidden"}, "prompt", MODERATION),
    ]
    for body, param, code in cases:
        with pytest.raises(openai.BadRequestError) as err:
            c.videos.create(**body)
        assert (err.value.param, err.value.code) == (param, code), body
        assert err.value.type == "invalid_request_error"
        assert set(err.value.body) == {"message", "type", "param", "code"}
    with pytest.raises(openai.AuthenticationError) as denied:
        client(sora, key="wrong").videos.retrieve(pro.id)
    assert denied.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        c.videos.retrieve("video_nope")
    with httpx.Client(headers={"Authorization": f"Bearer {sora.api_key}"}) as h:
        answer = h.post(sora.api_url + "/videos", json={"prompt": "json works too"})
        assert answer.status_code == 200 and answer.headers["x-request-id"].startswith("req_")
        assert sora.jobs[answer.json()["id"]].content_type == "application/json"
        assert h.post(sora.api_url + "/videos", json={}).status_code == 400
    assert sora.submissions == 2


def test_remix_list_delete(sora: SoraServer) -> None:
    c = client(sora)
    first = c.videos.create(prompt="a cat on a wall", model="sora-2-pro", seconds="12")
    with pytest.raises(openai.BadRequestError):  # not completed yet
        c.videos.remix(first.id, prompt="a dog on a wall")
    with pytest.raises(openai.BadRequestError):  # in flight
        c.videos.delete(first.id)
    c.videos.poll(first.id)
    remix = c.videos.remix(first.id, prompt="a dog on a wall")
    assert remix.remixed_from_video_id == first.id
    assert (remix.model, remix.seconds, remix.size) == ("sora-2-pro", "12", "720x1280")
    assert sora.jobs[remix.id].fields == {"prompt": "a dog on a wall"}
    with pytest.raises(openai.NotFoundError):
        c.videos.remix("video_nope", prompt="x")
    third = c.videos.create(prompt="a bird")
    page = c.videos.list(limit=2)
    assert [v.id for v in page.data] == [third.id, remix.id] and page.has_more
    assert [v.id for v in page.get_next_page().data] == [first.id]
    assert [v.id for v in c.videos.list(order="asc")] == [first.id, remix.id, third.id]
    c.videos.poll(remix.id)
    deleted = c.videos.delete(remix.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (remix.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        c.videos.retrieve(remix.id)
    with pytest.raises(openai.NotFoundError):
        c.videos.download_content(remix.id)
    assert [v.id for v in c.videos.list()] == [third.id, first.id]
    assert ("DELETE", f"/v1/videos/{remix.id}") in sora.requests


def test_failed_jobs_and_limits() -> None:
    with SoraServer(latency=0.2, concurrency=1, fault_retry_after=0.05) as sora:
        c = client(sora)
        sora.fail_next_job()
        video = c.videos.create(prompt="a quiet street")
        with pytest.raises(openai.RateLimitError) as busy:
            c.videos.create(prompt="one too many")
        assert busy.value.code == "rate_limit_exceeded"
        assert busy.value.response.headers["retry-after"] == "0.050"
        failed = c.videos.poll(video.id)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == MODERATION and sora.billed_usd == 0
        with pytest.raises(openai.NotFoundError):
            c.videos.download_content(video.id)
        assert sora.rejected["concurrency"] == 1


def test_injected_faults(sora: SoraServer) -> None:
    c = client(sora)
    sora.fail_next("create", "429")
    with pytest.raises(openai.RateLimitError) as err:
        c.videos.create(prompt="a cat")
    assert err.value.response.headers["x-should-retry"] == "false"
    sora.fail_next("create", "quota")
    with pytest.raises(openai.RateLimitError) as quota:
        c.videos.create(prompt="a cat")
    assert quota.value.code == "insufficient_quota"
    sora.fail_next("retrieve", "500")
    with pytest.raises(openai.InternalServerError):
        c.videos.retrieve("anything")
    sora.fail_next("create", "drop")
    with pytest.raises(openai.APIConnectionError):
        c.videos.create(prompt="lost request")
    assert sora.submissions == 0
    sora.fail_next("create", "drop_after_accept")
    with pytest.raises(openai.APIConnectionError):
        c.videos.create(prompt="lost answer")
    assert sora.submissions == 1  # accepted although the answer was lost
    # the SDK's default retries stop at x-should-retry: false
    sora.fail_next("list", "500")
    with pytest.raises(openai.InternalServerError):
        client(sora, retries=2).videos.list().data  # noqa: B018
    assert sum(1 for m, p in sora.requests if (m, p.split("?")[0]) == ("GET", "/v1/videos")) == 1
    with pytest.raises(ValueError, match="applies to"):
        sora.fail_next("retrieve", "truncate")


def test_truncated_download_detected(sora: SoraServer) -> None:
    c = client(sora)
    video = c.videos.poll(c.videos.create(prompt="a short clip").id)
    sora.fail_next("download", "truncate")
    got = b""
    with (
        c.videos.with_streaming_response.download_content(video.id) as answer,
        pytest.raises(Exception, match="peer closed connection") as cut,  # the SDK's httpx(2)
    ):
        expected = int(answer.headers["content-length"])
        for chunk in answer.iter_bytes():
            got += chunk
    assert type(cut.value).__name__ == "RemoteProtocolError"
    assert 0 < len(got) < expected
    whole = c.videos.download_content(video.id).content
    assert len(whole) == expected


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.got.append((body, dict(self.headers.items())))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_project_webhooks_carry_sdk_verifiable_signatures() -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.got = []  # type: ignore[attr-defined]
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    try:
        with SoraServer(latency=0.1, webhook_url=url, webhook_secret=SECRET) as sora:
            c = client(sora)
            sora.fail_next_job()
            bad = c.videos.create(prompt="a blocked clip")
            ok = c.videos.create(prompt="a sunny beach")
            assert sora.wait_idle()
            assert all(d.delivered and d.attempts == 1 for d in sora.webhooks)
    finally:
        receiver.shutdown()
        receiver.server_close()
    verifier = openai.OpenAI(api_key="unused", webhook_secret=SECRET)
    events = {}
    for body, headers in receiver.got:  # type: ignore[attr-defined]
        verifier.webhooks.verify_signature(body, headers)  # raises if the signature is wrong
        event = json.loads(body)
        assert event["object"] == "event" and event["id"].startswith("evt_")
        events[event["data"]["id"]] = event["type"]
    assert events == {ok.id: "video.completed", bad.id: "video.failed"}
    body, headers = receiver.got[0]  # type: ignore[attr-defined]
    with pytest.raises(openai.InvalidWebhookSignatureError):
        verifier.webhooks.verify_signature(body + b" ", headers)


def test_a_retired_endpoint_answers_invalid_url() -> None:
    with SoraServer(retired=True) as sora:
        with pytest.raises(openai.NotFoundError) as err:
            client(sora).videos.create(prompt="a cat")
        assert err.value.body["message"] == "Invalid URL (POST /v1/videos)"
        assert sora.submissions == 0
