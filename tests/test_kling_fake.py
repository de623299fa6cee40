"""The Kling fake (tests/fakes/kling_server.py), driven over plain HTTP with PyJWT tokens, as
spec section 3 describes the wire: JWT checks, the envelope, task states, external ids, the
error table, callbacks and faults."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.fakes.kling_server import ACCESS_KEY, SECRET_KEY, KlingServer

HTTP = httpx.Client(timeout=10, trust_env=False)  # one client: a TLS context per call is slow


@pytest.fixture
def kling() -> Iterator[KlingServer]:
    with KlingServer(latency=0.3, render_scale=0.05) as server:
        yield server


def call(
    server: KlingServer,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or server.token()}"}
    return HTTP.request(method, server.base_url + path, json=body, headers=headers)


def t2v(server: KlingServer, **fields: Any) -> httpx.Response:
    body = {"model_name": "kling-v1-6", "prompt": "a red kite", "duration": "5", **fields}
    return call(server, "POST", "/v1/videos/text2video", body)


def wait_done(server: KlingServer, kind: str, ident: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = call(server, "GET", f"/v1/videos/{kind}/{ident}").json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            return data
        assert time.monotonic() < deadline, f"{ident} still {data['task_status']}"
        time.sleep(0.05)


def png(size: tuple[int, int], fmt: str = "PNG") -> str:
    from PIL import Image

    sink = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(sink, format=fmt)
    return base64.b64encode(sink.getvalue()).decode()


def test_text2video_envelope_states_and_download(kling: KlingServer, tmp_path: Path) -> None:
    from ministudio.media.probe import probe

    answer = t2v(kling, aspect_ratio="9:16", external_task_id="ms-shot-0003")
    assert answer.status_code == 200
    payload = answer.json()
    assert payload["code"] == 0 and payload["message"] == "SUCCEED" and payload["request_id"]
    data = payload["data"]
    assert data["task_status"] == "submitted" and data["task_id"].isdigit()
    assert data["task_info"] == {"external_task_id": "ms-shot-0003"}
    now_ms = time.time() * 1000
    assert abs(data["created_at"] - now_ms) < 10_000 and data["updated_at"] >= data["created_at"]
    time.sleep(0.1)
    running = call(kling, "GET", f"/v1/videos/text2video/{data['task_id']}").json()["data"]
    assert running["task_status"] == "processing" and "task_result" not in running
    done = wait_done(kling, "text2video", "ms-shot-0003")  # by external id
    assert done["task_id"] == data["task_id"] and done["task_status_msg"] == ""
    assert done["updated_at"] > done["created_at"]
    (video,) = done["task_result"]["videos"]
    assert video["duration"] == "5.0" and isinstance(video["duration"], str)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(HTTP.get(video["url"]).content)  # no auth: a CDN URL
    info = probe(clip)
    assert info.duration == pytest.approx(5.0, abs=0.1) and info.fps == 24
    assert info.height > info.width
    task = kling.tasks[data["task_id"]]
    assert (task.width, task.height) == (720, 1280) and task.downloads == 1
    assert kling.submissions == 1 and kling.billed_usd == pytest.approx(0.28)
    assert kling.status_requests >= 2


def test_image2video_takes_base64_and_urls(kling: KlingServer) -> None:
    body = {
        "model_name": "kling-v2-1",
        "mode": "pro",
        "duration": "10",
        "image": png((1280, 720)),
        "image_tail": "https://cdn.example.com/last.png",
        "prompt": "the astronaut turns",
    }
    answer = call(kling, "POST", "/v1/videos/image2video", body)
    assert answer.status_code == 200, answer.text
    task = kling.tasks[answer.json()["data"]["task_id"]]
    assert task.kind == "image2video" and (task.width, task.height) == (1920, 1080)
    assert task.images["image"].format == "PNG" and task.images["image_tail"].source == "url"
    assert task.request["image"].startswith("<base64 PNG")
    # queried on the other endpoint, it does not exist
    missing = call(kling, "GET", f"/v1/videos/text2video/{task.task_id}")
    assert missing.status_code == 404 and missing.json()["code"] == 1203


def test_the_jwt_is_checked(kling: KlingServer) -> None:
    now = int(time.time())

    def code(token: str | None) -> tuple[int, int]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        answer = HTTP.get(f"{kling.base_url}/v1/videos/text2video", headers=headers)
        body = answer.json()
        assert body["request_id"] and ("data" in body) == (body["code"] == 0)
        return answer.status_code, body["code"]

    assert code(None) == (401, 1001)
    assert code("not-a-jwt") == (401, 1002)
    wrong = jwt.encode({"iss": ACCESS_KEY, "exp": now + 60, "nbf": now - 5}, "x" * 32)
    assert code(wrong) == (401, 1002)
    stranger = jwt.encode({"iss": "someone", "exp": now + 60, "nbf": now - 5}, SECRET_KEY)
    assert code(stranger) == (401, 1002)
    assert code(kling.token(nbf=now + 120)) == (401, 1003)
    assert code(kling.token(exp=now - 1)) == (401, 1004)
    assert code(jwt.encode({"iss": ACCESS_KEY, "exp": now + 60}, SECRET_KEY)) == (401, 1002)
    assert code(kling.token()) == (200, 0)
    messages = [
        call(kling, "GET", "/v1/videos/text2video", token=t).json()["message"]
        for t in (wrong, stranger)
    ]
    assert "signature" in messages[0] and "access key" in messages[1]


@pytest.mark.parametrize(
    ("kind", "fields", "status", "code", "words"),
    [
        ("text2video", {"duration": 5}, 400, 1201, "string"),
        ("text2video", {"duration": "7"}, 400, 1201, "'5' or '10'"),
        ("text2video", {"prompt": ""}, 400, 1201, "prompt is required"),
        ("text2video", {"prompt": "x" * 2501}, 400, 1201, "2500"),
        ("text2video", {"mode": "fast"}, 400, 1201, "mode"),
        ("text2video", {"aspect_ratio": "4:3"}, 400, 1201, "aspect_ratio"),
        ("text2video", {"cfg_scale": 1.5}, 400, 1201, "cfg_scale"),
        ("text2video", {"model_name": "kling-v2-1"}, 404, 1203, "not found"),
        ("text2video", {"callback_url": "ftp://x"}, 400, 1201, "callback_url"),
        ("text2video", {"prompt": "a forbidden thing"}, 400, 1301, "content security"),
        (
            "text2video",
            {"camera_control": {"type": "simple", "config": {"pan": 2, "zoom": 1}}},
            400,
            1201,
            "exactly one",
        ),
        (
            "text2video",
            {"camera_control": {"type": "down_back", "config": {"zoom": 1}}},
            400,
            1201,
            "no config",
        ),
        (
            "text2video",
            {"duration": "10", "camera_control": {"type": "simple", "config": {"zoom": 5}}},
            400,
            1201,
            "not supported",
        ),
        ("image2video", {}, 400, 1201, "image or image_tail"),
        ("image2video", {"image": "data:image/png;base64," + png((400, 400))}, 400, 1201, "data:"),
        ("image2video", {"image": png((299, 400))}, 400, 1201, "300px"),
        ("image2video", {"image": png((1200, 300))}, 400, 1201, "aspect ratio"),
        ("image2video", {"image": png((400, 400), "GIF")}, 400, 1201, "jpg"),
        ("image2video", {"image": "%%%"}, 400, 1201, "base64"),
        (
            "image2video",
            {
                "image": png((400, 400)),
                "image_tail": png((400, 400), "JPEG"),
                "camera_control": {"type": "forward_up"},
            },
            400,
            1201,
            "together",
        ),
    ],
)
def test_creates_are_checked(
    kling: KlingServer, kind: str, fields: dict[str, Any], status: int, code: int, words: str
) -> None:
    body = {"model_name": "kling-v1-6", "prompt": "a red kite", "duration": "5", **fields}
    answer = call(kling, "POST", f"/v1/videos/{kind}", body)
    assert answer.status_code == status
    payload = answer.json()
    assert payload["code"] == code and words in payload["message"] and "data" not in payload
    assert kling.submissions == 0 and kling.refusals == [(code, payload["message"])]


def test_external_ids_are_unique_and_listed(kling: KlingServer) -> None:
    first = t2v(kling, external_task_id="job-1").json()["data"]["task_id"]
    again = t2v(kling, external_task_id="job-1")
    assert again.status_code == 400 and again.json()["code"] == 1201
    assert "already exists" in again.json()["message"]
    legacy = {"model": "kling-v1", "prompt": "a kite", "external_task_id": "job-2"}
    second = call(kling, "POST", "/v1/videos/text2video", legacy).json()["data"]["task_id"]
    listed = call(kling, "GET", "/v1/videos/text2video?pageNum=1&pageSize=1").json()
    assert isinstance(listed["data"], list) and [t["task_id"] for t in listed["data"]] == [second]
    page2 = call(kling, "GET", "/v1/videos/text2video?pageNum=2&pageSize=1").json()["data"]
    assert [t["task_id"] for t in page2] == [first]
    assert call(kling, "GET", "/v1/videos/image2video").json()["data"] == []
    bad = call(kling, "GET", "/v1/videos/text2video?pageSize=501")
    assert bad.status_code == 400 and bad.json()["code"] == 1201
    assert kling.tasks[second].model == "kling-v1"  # the legacy field means V1


def test_limits_faults_and_failed_tasks(kling: KlingServer) -> None:
    kling.concurrency = 1
    t2v(kling)
    busy = t2v(kling)
    assert busy.status_code == 429 and busy.json() == {
        "code": 1303,
        "message": "parallel task over resource pack limit",
        "request_id": busy.json()["request_id"],
    }
    assert "Retry-After" not in busy.headers  # Kling documents none
    assert kling.wait_idle()
    kling.concurrency = None
    for fault, status in (("1102", 429), ("5000", 500), ("1302", 429)):
        kling.fail_next("create", fault)
        answer = t2v(kling)
        assert (answer.status_code, answer.json()["code"]) == (status, int(fault))
    kling.fail_next("create", "drop_after_accept")
    with pytest.raises(httpx.RemoteProtocolError):
        t2v(kling, external_task_id="lost")
    found = call(kling, "GET", "/v1/videos/text2video/lost").json()["data"]
    assert found["task_info"]["external_task_id"] == "lost"
    kling.fail_next("get", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        call(kling, "GET", f"/v1/videos/text2video/{found['task_id']}")
    kling.fail_next_task("Failure to pass the risk control system")
    failed = t2v(kling).json()["data"]["task_id"]
    done = wait_done(kling, "text2video", failed)
    assert done["task_status"] == "failed" and "risk control" in done["task_status_msg"]
    assert "task_result" not in done and done["final_unit_deduction"] == "0"
    with pytest.raises(ValueError, match="fault"):
        kling.fail_next("create", "truncate")


def test_truncated_and_failed_downloads(kling: KlingServer) -> None:
    task_id = t2v(kling).json()["data"]["task_id"]
    url = wait_done(kling, "text2video", task_id)["task_result"]["videos"][0]["url"]
    kling.fail_next("download", "truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        HTTP.get(url)
    kling.fail_next("download", "500")
    assert HTTP.get(url).status_code == 500
    whole = HTTP.get(url)
    assert whole.status_code == 200
    assert int(whole.headers["Content-Length"]) == len(whole.content) > 0


class _Receiver:
    """A loopback endpoint that records the callbacks POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_callbacks_carry_the_task_without_the_envelope(kling: KlingServer) -> None:
    receiver = _Receiver()
    try:
        ok = t2v(kling, callback_url=receiver.url, external_task_id="cb-1").json()["data"]
        kling.fail_next_task("Failure to pass the risk control system")
        bad = t2v(kling, callback_url=receiver.url).json()["data"]
        assert kling.wait_idle()
    finally:
        receiver.close()
    mine = [b for b in receiver.bodies if b["task_id"] == ok["task_id"]]
    assert [b["task_status"] for b in mine] == ["processing", "succeed"]
    last = mine[-1]
    assert "code" not in last and "data" not in last
    assert last["task_info"] == {"external_task_id": "cb-1"}
    assert last["task_result"]["videos"][0]["duration"] == "5.0"
    assert last["final_unit_deduction"] == "1" and isinstance(last["created_at"], int)
    theirs = [b for b in receiver.bodies if b["task_id"] == bad["task_id"]]
    assert [b["task_status"] for b in theirs] == ["processing", "failed"]
    assert "risk control" in theirs[-1]["task_status_msg"]
    assert all(d.delivered and d.attempts == 1 for d in kling.webhooks)
