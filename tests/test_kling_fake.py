"""The Kling fake (tests/fakes/kling_server.py, kling_rules.py), driven over plain HTTP with
PyJWT tokens as Kling's own docs describe the wire (never through the plugin): JWT checks, the
envelope, task states, the capability map, omni-video, elements, external ids, the switches for
what the docs leave open, callbacks and faults."""

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

from tests.fakes.kling_server import ACCESS_KEY, PRESET_ELEMENTS, SECRET_KEY, KlingServer

HTTP = httpx.Client(timeout=10, trust_env=False)  # one client: a TLS context per call is slow
URL = "https://cdn.example.com/frame.png"  # image URLs are recorded, never fetched


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


def create(server: KlingServer, kind: str, **fields: Any) -> httpx.Response:
    body = {"model_name": "kling-v1-6", "prompt": "a red kite", "duration": "5", **fields}
    body = {k: v for k, v in body.items() if v is not None}
    return call(server, "POST", f"/v1/videos/{kind}", body)


def t2v(server: KlingServer, **fields: Any) -> httpx.Response:
    return create(server, "text2video", **fields)


def i2v(server: KlingServer, **fields: Any) -> httpx.Response:
    return create(server, "image2video", **{"image": URL, **fields})


def omni(server: KlingServer, **fields: Any) -> httpx.Response:
    return create(server, "omni-video", **{"model_name": "kling-v3-omni", **fields})


def wait_done(server: KlingServer, path: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = call(server, "GET", path).json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            return data
        assert time.monotonic() < deadline, f"{path} still {data['task_status']}"
        time.sleep(0.05)


def png(size: tuple[int, int], fmt: str = "PNG") -> str:
    from PIL import Image

    sink = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(sink, format=fmt)
    return base64.b64encode(sink.getvalue()).decode()


def refused(answer: httpx.Response, code: int, words: str) -> None:
    """``answer`` is the documented error shape with ``code`` and ``words`` in its message."""
    payload = answer.json()
    assert set(payload) == {"code", "message", "request_id"}, payload
    assert payload["code"] == code and words in payload["message"], payload
    assert answer.status_code == {1201: 400, 1200: 400, 1203: 404, 1301: 400}[code]


def ok(answer: httpx.Response) -> Any:
    """``data`` of a success: HTTP 200, code 0."""
    assert answer.status_code == 200 and answer.json()["code"] == 0, answer.text
    return answer.json()["data"]


# -- envelope, states, download ---------------------------------------------------------------
def test_text2video_envelope_states_and_download(kling: KlingServer, tmp_path: Path) -> None:
    from ministudio.media.probe import probe

    answer = t2v(kling, aspect_ratio="9:16", external_task_id="ms-shot-0003")
    assert answer.status_code == 200
    payload = answer.json()
    assert payload["code"] == 0 and payload["message"] == "SUCCEED" and payload["request_id"]
    data = payload["data"]
    assert set(data) == {"task_id", "task_info", "task_status", "created_at", "updated_at"}
    assert data["task_status"] == "submitted" and data["task_id"].isdigit()
    assert data["task_info"] == {"external_task_id": "ms-shot-0003"}
    now_ms = time.time() * 1000
    assert abs(data["created_at"] - now_ms) < 10_000 and data["updated_at"] >= data["created_at"]
    time.sleep(0.1)
    running = ok(call(kling, "GET", f"/v1/videos/text2video/{data['task_id']}"))
    assert running["task_status"] == "processing" and "task_result" not in running
    assert running["final_unit_deduction"] == "0" and running["watermark_info"] == {
        "enabled": False
    }
    done = wait_done(kling, "/v1/videos/text2video/ms-shot-0003")  # by external id, in the path
    assert done["task_id"] == data["task_id"] and done["task_status_msg"] == ""
    assert done["updated_at"] > done["created_at"]
    (video,) = done["task_result"]["videos"]
    assert set(video) == {"id", "url", "duration"} and video["duration"] == "5.0"
    assert done["final_unit_deduction"] == "2"  # kling-v1-6 std: 0.4 units/s ([3P] notes 1.3)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(HTTP.get(video["url"]).content)  # no auth: a CDN URL
    info = probe(clip)
    assert info.duration == pytest.approx(5.0, abs=0.1) and info.fps == 24
    assert info.height > info.width
    task = kling.tasks[data["task_id"]]
    assert (task.width, task.height) == (720, 1280) and task.downloads == 1
    assert kling.submissions == 1 and kling.billed_usd == pytest.approx(0.28)
    assert kling.status_requests >= 2


def test_a_kling_v3_clip_lasts_its_duration_and_takes_a_watermark(
    kling: KlingServer, tmp_path: Path
) -> None:
    from ministudio.media.probe import probe

    data = ok(
        t2v(
            kling, model_name="kling-v3", mode="pro", duration="3", watermark_info={"enabled": True}
        )
    )
    done = wait_done(kling, f"/v1/videos/text2video/{data['task_id']}")
    (video,) = done["task_result"]["videos"]
    assert video["duration"] == "3.0" and done["watermark_info"] == {"enabled": True}
    assert done["final_unit_deduction"] == "2.4"  # 0.8 units/s pro silent
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(HTTP.get(video["watermark_url"]).content)
    assert probe(clip).duration == pytest.approx(3.0, abs=0.1)
    assert (kling.tasks[data["task_id"]].width, kling.tasks[data["task_id"]].height) == (
        1920,
        1080,
    )


def test_image2video_takes_base64_and_urls(kling: KlingServer) -> None:
    body = {
        "model_name": "kling-v2-1",
        "mode": "pro",
        "duration": "10",
        "image": png((1280, 720)),
        "image_tail": "https://cdn.example.com/last.png",
        "prompt": "the astronaut turns",
    }
    task_id = ok(call(kling, "POST", "/v1/videos/image2video", body))["task_id"]
    task = kling.tasks[task_id]
    assert task.kind == "image2video" and (task.width, task.height) == (1920, 1080)
    assert task.images["image"].format == "PNG" and task.images["image_tail"].source == "url"
    assert task.request["image"].startswith("<base64 PNG")
    # queried on another kind, it does not exist
    for other in ("text2video", "omni-video"):
        refused(call(kling, "GET", f"/v1/videos/{other}/{task_id}"), 1203, "does not exist")


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
    basic = HTTP.get(
        f"{kling.base_url}/v1/videos/text2video", headers={"Authorization": kling.token()}
    )
    assert (basic.status_code, basic.json()["code"]) == (401, 1002)  # no "Bearer "


# -- the capability map and the bodies --------------------------------------------------------
SIMPLE = {"type": "simple", "config": {"zoom": 5}}
FRAMES = {"image": URL, "image_tail": URL}
SHOTS = [{"index": 1, "prompt": "a", "duration": "2"}, {"index": 2, "prompt": "b", "duration": "3"}]


@pytest.mark.parametrize(
    ("kind", "fields", "code", "words"),
    [
        ("text2video", {"duration": 5}, 1201, "string"),
        ("text2video", {"duration": "7"}, 1201, "not supported by kling-v1-6"),
        ("text2video", {"model_name": "kling-v3", "duration": "16"}, 1201, "'3'..'15'"),
        ("text2video", {"prompt": ""}, 1201, "prompt is required"),
        ("text2video", {"prompt": "x" * 2501}, 1201, "2500"),
        ("text2video", {"negative_prompt": "x" * 2501}, 1201, "2500"),
        ("text2video", {"mode": "fast"}, 1201, "mode"),
        ("text2video", {"mode": "4k", "model_name": "kling-v3"}, 1201, "mode"),
        ("text2video", {"aspect_ratio": "4:3"}, 1201, "aspect_ratio"),
        ("text2video", {"cfg_scale": 1.5}, 1201, "cfg_scale"),
        ("text2video", {"cfg_scale": 0.5, "model_name": "kling-v2-master"}, 1201, "cfg_scale"),
        ("text2video", {"model_name": "kling-v2-1"}, 1203, "does not exist"),
        ("text2video", {"model_name": "kling-v3-omni"}, 1203, "does not exist"),
        ("text2video", {"model_name": "kling-v4"}, 1203, "does not exist"),
        ("text2video", {"callback_url": "ftp://x"}, 1201, "callback_url"),
        ("text2video", {"external_task_id": 7}, 1201, "external_task_id"),
        ("text2video", {"prompt": "a forbidden thing"}, 1301, "content security"),
        ("text2video", {"seed": 1}, 1201, "unknown parameter(s): seed"),
        ("text2video", {"image": URL}, 1201, "unknown parameter(s): image"),
        ("text2video", {"watermark_info": {"enabled": "yes"}}, 1201, "watermark_info"),
        # camera_control: t2v kling-v1 std 5 s only (capability map)
        ("text2video", {"camera_control": SIMPLE}, 1201, "not supported for kling-v1-6"),
        (
            "text2video",
            {"model_name": "kling-v1", "duration": "10", "camera_control": SIMPLE},
            1201,
            "not supported for kling-v1 std 10s",
        ),
        (
            "text2video",
            {"model_name": "kling-v1", "mode": "pro", "camera_control": SIMPLE},
            1201,
            "not supported",
        ),
        (
            "text2video",
            {
                "model_name": "kling-v1",
                "camera_control": {"type": "simple", "config": {"pan": 2, "zoom": 1}},
            },
            1201,
            "exactly one",
        ),
        (
            "text2video",
            {
                "model_name": "kling-v1",
                "camera_control": {"type": "down_back", "config": {"zoom": 1}},
            },
            1201,
            "no config",
        ),
        # sound: kling-v2-6 pro only; none on models without an audio row
        ("text2video", {"model_name": "kling-v2-6", "sound": "on"}, 1201, "std mode"),
        ("text2video", {"sound": "on"}, 1201, "not supported by kling-v1-6"),
        ("text2video", {"model_name": "kling-v3", "sound": "yes"}, 1201, "'on' or 'off'"),
        # multi-shot: kling-v3 only; shot_type; shots sum to the duration
        ("text2video", {"multi_shot": True, "shot_type": "intelligence"}, 1201, "multi_shot"),
        (
            "text2video",
            {"model_name": "kling-v3", "multi_shot": True, "multi_prompt": SHOTS},
            1201,
            "shot_type",
        ),
        (
            "text2video",
            {
                "model_name": "kling-v3",
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": SHOTS,
                "duration": "6",
            },
            1201,
            "sum to 5",
        ),
        (
            "text2video",
            {
                "model_name": "kling-v3",
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": [{"index": n, "prompt": "a", "duration": "1"} for n in range(7)],
                "duration": "7",
            },
            1201,
            "1 to 6 shots",
        ),
        (
            "text2video",
            {
                "model_name": "kling-v3",
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": [{"index": 1, "prompt": "a" * 513, "duration": "5"}],
            },
            1201,
            "512",
        ),
        (
            "text2video",
            {
                "model_name": "kling-v3",
                "multi_shot": True,
                "shot_type": "intelligence",
                "prompt": "",
            },
            1201,
            "prompt is required",
        ),
        # image2video
        ("image2video", {"image": None}, 1201, "image or image_tail"),
        ("image2video", {"prompt": ""}, 1201, "prompt is required"),
        ("image2video", {"image": "data:image/png;base64," + png((400, 400))}, 1201, "data:"),
        ("image2video", {"image": png((299, 400))}, 1201, "300px"),
        ("image2video", {"image": png((1200, 300))}, 1201, "aspect ratio"),
        ("image2video", {"image": png((400, 400), "GIF")}, 1201, "jpg"),
        ("image2video", {"image": "%%%"}, 1201, "base64"),
        ("image2video", {"aspect_ratio": "16:9"}, 1201, "unknown parameter(s): aspect_ratio"),
        ("image2video", {"model_name": "kling-video-o1"}, 1203, "does not exist"),
        # start + end frames: pro only before v3 (v1: std/pro 5 s), never on the masters
        ("image2video", FRAMES, 1201, "start and end frames (image_tail) are not supported"),
        ("image2video", {**FRAMES, "model_name": "kling-v1", "duration": "10"}, 1201, "v1 std 10s"),
        ("image2video", {**FRAMES, "model_name": "kling-v2-master"}, 1201, "not supported"),
        ("image2video", {**FRAMES, "model_name": "kling-v2-5-turbo"}, 1201, "not supported"),
        (
            "image2video",
            {**FRAMES, "model_name": "kling-v2-6", "mode": "pro", "sound": "on"},
            1201,
            "only without sound",
        ),
        # an end frame alone: kling-v1-5 / kling-v1-6 pro only
        ("image2video", {"image": None, "image_tail": URL}, 1201, "end frame alone"),
        (
            "image2video",
            {"image": None, "image_tail": URL, "model_name": "kling-v2-1", "mode": "pro"},
            1201,
            "end frame alone",
        ),
        (
            "image2video",
            {"image": None, "image_tail": URL, "model_name": "kling-v3", "mode": "pro"},
            1201,
            "end frame alone",
        ),
        # camera_control on image2video: kling-v1-5 pro 5 s, simple only
        (
            "image2video",
            {"model_name": "kling-v1-5", "mode": "pro", "camera_control": {"type": "forward_up"}},
            1201,
            "only type 'simple'",
        ),
        (
            "image2video",
            {"model_name": "kling-v1-5", "camera_control": SIMPLE},
            1201,
            "v1-5 std 5s",
        ),
        # mutually exclusive: image_tail / masks / camera_control
        (
            "image2video",
            {**FRAMES, "mode": "pro", "camera_control": {"type": "forward_up"}},
            1201,
            "exclusive",
        ),
        (
            "image2video",
            {"model_name": "kling-v1", "static_mask": URL, "camera_control": SIMPLE},
            1201,
            "exclusive",
        ),
        ("image2video", {"static_mask": URL}, 1201, "motion brush"),
        (
            "image2video",
            {
                "model_name": "kling-v1",
                "dynamic_masks": [{"mask": URL, "trajectories": [{"x": 1, "y": 1}]}],
            },
            1201,
            "2 to 77",
        ),
        # multi-shot with an end frame; elements; voices
        (
            "image2video",
            {
                **FRAMES,
                "model_name": "kling-v3",
                "multi_shot": True,
                "shot_type": "intelligence",
            },
            1201,
            "multi_shot",
        ),
        ("image2video", {"element_list": [{"element_id": 1}]}, 1201, "not supported by kling-v1-6"),
        (
            "image2video",
            {"model_name": "kling-v3", "element_list": [{"element_id": 42}]},
            1203,
            "42",
        ),
        (
            "image2video",
            {"model_name": "kling-v3", "element_list": [{"element_id": 42}] * 4},
            1201,
            "at most 3",
        ),
        (
            "image2video",
            {
                "model_name": "kling-v3",
                "element_list": [{"element_id": PRESET_ELEMENTS[0].element_id}],
                "voice_list": [{"voice_id": "v1"}],
            },
            1201,
            "cannot be used together",
        ),
        (
            "image2video",
            {"model_name": "kling-v2-6", "mode": "pro", "voice_list": [{"voice_id": "v1"}]},
            1201,
            "needs sound 'on'",
        ),
        (
            "image2video",
            {"model_name": "kling-v3", "sound": "on", "voice_list": [{"voice_id": "v1"}]},
            1201,
            "voice_list is not supported",
        ),
        (
            "image2video",
            {
                "model_name": "kling-v2-6",
                "mode": "pro",
                "sound": "on",
                "voice_list": [{"voice_id": "a"}, {"voice_id": "b"}, {"voice_id": "c"}],
            },
            1201,
            "up to 2",
        ),
    ],
)
def test_creates_are_checked(
    kling: KlingServer, kind: str, fields: dict[str, Any], code: int, words: str
) -> None:
    answer = create(kling, kind, **({"image": URL} if kind == "image2video" else {}) | fields)
    refused(answer, code, words)
    assert kling.submissions == 0 and kling.refusals == [(code, answer.json()["message"])]


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("text2video", {"model_name": "kling-v1", "camera_control": SIMPLE}),
        ("text2video", {"model_name": "kling-v1", "camera_control": {"type": "down_back"}}),
        ("text2video", {"model": "anything", "model_name": None}),  # the legacy field: V1
        ("text2video", {"model_name": None, "duration": None}),  # kling-v1, "5"
        ("text2video", {"external_task_id": "", "callback_url": "", "negative_prompt": ""}),
        ("text2video", {"model_name": "kling-v2-6", "mode": "pro", "sound": "on"}),
        ("text2video", {"model_name": "kling-v3", "sound": "on", "duration": "15"}),
        ("text2video", {"model_name": "kling-v2-master", "mode": "pro", "duration": "10"}),
        (
            "text2video",
            {
                "model_name": "kling-v3",
                "prompt": "",  # "the prompt parameter is invalid" with multi_shot customize
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": SHOTS,
            },
        ),
        ("text2video", {"model_name": "kling-v3", "multi_shot": True, "shot_type": "intelligence"}),
        ("text2video", {"multi_shot": False, "shot_type": "bogus"}),  # "invalid": no effect
        ("image2video", {**FRAMES, "model_name": "kling-v1"}),  # v1 std 5 s start/end
        ("image2video", {**FRAMES, "mode": "pro", "duration": "10"}),
        ("image2video", {**FRAMES, "model_name": "kling-v2-6", "mode": "pro"}),
        ("image2video", {**FRAMES, "model_name": "kling-v3", "duration": "7"}),
        ("image2video", {"image": None, "image_tail": URL, "mode": "pro", "duration": "10"}),
        ("image2video", {"image_tail": png((1200, 300)), "mode": "pro"}),  # no ratio rule
        ("image2video", {"model_name": "kling-v1-5", "mode": "pro", "camera_control": SIMPLE}),
        (
            "image2video",
            {
                "model_name": "kling-v1",
                "static_mask": URL,
                "dynamic_masks": [
                    {"mask": URL, "trajectories": [{"x": 1, "y": 1}, {"x": 9, "y": 9}]}
                ],
            },
        ),
        (
            "image2video",
            {
                "model_name": "kling-v3",
                "multi_shot": "true",  # as the official example sends it
                "shot_type": "customize",
                "multi_prompt": SHOTS,
                "prompt": "",
            },
        ),
        (
            "image2video",
            {
                "model_name": "kling-v2-6",
                "mode": "pro",
                "sound": "on",
                "voice_list": [{"voice_id": "v1"}, {"voice_id": "v2"}],
            },
        ),
        (
            "image2video",
            {
                "model_name": "kling-v3",
                "element_list": [{"element_id": str(PRESET_ELEMENTS[0].element_id)}],
            },
        ),
    ],
)
def test_what_the_map_allows_is_accepted(
    kling: KlingServer, kind: str, fields: dict[str, Any]
) -> None:
    body = ({"image": URL} if kind == "image2video" else {}) | fields
    data = ok(create(kling, kind, **body))
    assert kling.tasks[data["task_id"]].kind == kind and kling.submissions == 1


def test_fps_resolution_and_units_follow_the_tables(kling: KlingServer) -> None:
    cases = [
        ("text2video", {"model_name": "kling-v1", "mode": "pro"}, 30, 720, "3.5"),
        ("image2video", {"image": URL}, 30, 720, "2"),  # kling-v1-6 i2v: 30 fps
        ("text2video", {"mode": "pro"}, 24, 1080, "3.5"),
        ("text2video", {"model_name": "kling-v2-1-master"}, 24, 1080, "10"),
        ("text2video", {"model_name": "kling-v3", "sound": "on", "duration": "10"}, 24, 720, "9"),
    ]
    ids = [ok(create(kling, kind, **fields))["task_id"] for kind, fields, *_ in cases]
    assert kling.wait_idle()
    for task_id, (_, _, fps, short, units) in zip(ids, cases, strict=True):
        task = kling.tasks[task_id]
        assert (task.fps, min(task.width, task.height)) == (fps, short)
        kind = task.kind
        assert ok(call(kling, "GET", f"/v1/videos/{kind}/{task_id}"))["final_unit_deduction"] == (
            units
        )


# -- omni-video -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({}, 1201, "aspect_ratio is required"),
        ({"model_name": "kling-v3", "aspect_ratio": "1:1"}, 1203, "does not exist"),
        ({"model_name": "kling-video-o1", "aspect_ratio": "1:1", "duration": "7"}, 1201, "5 or 10"),
        ({"model_name": "kling-video-o1", "aspect_ratio": "1:1", "duration": "11"}, 1201, "o1"),
        ({"aspect_ratio": "1:1", "negative_prompt": "x"}, 1201, "unknown parameter"),
        ({"image_list": [{"image_url": URL, "type": "end_frame"}]}, 1201, "needs a first_frame"),
        ({"image_list": [{"image_url": ""}], "aspect_ratio": "1:1"}, 1201, "must not be empty"),
        ({"image_list": [{"image_url": URL, "type": "middle"}]}, 1201, "first_frame or end_frame"),
        (
            {"image_list": [{"image_url": URL}] * 8, "aspect_ratio": "1:1"},
            1201,
            "must not exceed 7",
        ),
        (
            {
                "image_list": [{"image_url": URL}] * 5,
                "video_list": [{"video_url": URL, "refer_type": "feature"}],
                "aspect_ratio": "1:1",
            },
            1201,
            "must not exceed 4",
        ),
        (
            {"video_list": [{"video_url": URL, "refer_type": "feature"}], "sound": "on"},
            1201,
            "sound must be off",
        ),
        (
            {
                "video_list": [{"video_url": URL}],  # refer_type defaults to base
                "image_list": [{"image_url": URL, "type": "first_frame"}],
            },
            1201,
            "base (edit) video",
        ),
        ({"video_list": [{"video_url": URL}] * 2}, 1201, "at most 1"),
        (
            {
                "multi_shot": True,
                "shot_type": "intelligence",
                "image_list": [{"image_url": URL, "type": "first_frame"}],
            },
            1201,
            "multi_shot",
        ),
        (
            {
                "model_name": "kling-video-o1",
                "multi_shot": True,
                "shot_type": "intelligence",
                "aspect_ratio": "1:1",
            },
            1201,
            "multi_shot is not supported by kling-video-o1",
        ),
        (
            {
                "model_name": "kling-video-o1",
                "image_list": [
                    {"image_url": URL, "type": "first_frame"},
                    {"image_url": URL, "type": "end_frame"},
                    {"image_url": URL},
                ],
            },
            1201,
            "at most 2 images",
        ),
        (
            {
                "model_name": "kling-video-o1",
                "image_list": [
                    {"image_url": URL, "type": "first_frame"},
                    {"image_url": URL, "type": "end_frame"},
                ],
                "element_list": [{"element_id": PRESET_ELEMENTS[0].element_id}],
            },
            1201,
            "at most 0",
        ),
        ({"aspect_ratio": "1:1", "element_list": [{"element_id": 9}]}, 1203, "does not exist"),
    ],
)
def test_omni_creates_are_checked(
    kling: KlingServer, fields: dict[str, Any], code: int, words: str
) -> None:
    refused(omni(kling, **fields), code, words)
    assert kling.submissions == 0


def test_omni_video_tasks(kling: KlingServer) -> None:
    first = ok(
        omni(
            kling,
            model_name="kling-video-o1",
            duration="7",  # start & end frames: 3..10 s on o1
            image_list=[
                {"image_url": png((720, 1280)), "type": "first_frame"},
                {"image_url": URL, "type": "end_frame"},
            ],
        )
    )
    task = kling.tasks[first["task_id"]]
    assert (task.kind, task.model, task.mode, task.duration) == (
        "omni-video",
        "kling-video-o1",
        "pro",
        7,
    )
    assert (task.width, task.height) == (1080, 1920)  # the first frame's shape, pro 1080p
    assert task.request["image_list"][0]["image_url"].startswith("<base64 PNG")
    edit = ok(
        omni(kling, video_list=[{"video_url": URL, "keep_original_sound": "no"}], duration="12")
    )
    assert kling.tasks[edit["task_id"]].duration == 5  # a base video's own length (the fake's)
    multi = ok(
        omni(
            kling,
            multi_shot=True,
            shot_type="customize",
            multi_prompt=SHOTS,
            prompt="",
            aspect_ratio="9:16",
            sound="on",
        )
    )
    assert kling.tasks[multi["task_id"]].multi_shot
    done = wait_done(kling, f"/v1/videos/omni-video/{first['task_id']}")
    assert done["task_result"]["videos"][0]["duration"] == "7.0"
    listed = ok(call(kling, "GET", "/v1/videos/omni-video"))
    assert [t["task_id"] for t in listed] == [multi["task_id"], edit["task_id"], first["task_id"]]
    assert ok(call(kling, "GET", "/v1/videos/text2video")) == []


# -- elements ---------------------------------------------------------------------------------
def element_body(**fields: Any) -> dict[str, Any]:
    body = {
        "element_name": "Ann",
        "element_description": "a woman in a red coat",
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": png((400, 600)),
            "refer_images": [{"image_url": URL}, {"image_url": png((600, 400), "JPEG")}],
        },
        "tag_list": [{"tag_id": "o_102"}],
        **fields,
    }
    return {k: v for k, v in body.items() if v is not None}


def test_elements_are_made_found_used_and_deleted(kling: KlingServer) -> None:
    path = "/v1/general/advanced-custom-elements"
    made = ok(call(kling, "POST", path, element_body(external_task_id="el-ann")))
    assert made["task_status"] == "submitted" and made["task_info"] == {
        "external_task_id": "el-ann"
    }
    # not usable before it succeeded
    early = i2v(kling, model_name="kling-v3", element_list=[{"element_id": 1}])
    refused(early, 1203, "does not exist")
    done = wait_done(kling, f"{path}/el-ann")  # by external id, in the path
    assert done["task_id"] == made["task_id"]
    (element,) = done["task_result"]["elements"]
    assert isinstance(element["element_id"], int) and element["status"] == "succeed"
    assert element["reference_type"] == "image_refer" and element["tag_list"] == [
        {"tag_id": "o_102"}
    ]
    assert ok(call(kling, "GET", f"{path}/{made['task_id']}"))["task_id"] == made["task_id"]
    assert [e["task_id"] for e in ok(call(kling, "GET", f"{path}?pageNum=1&pageSize=5"))] == [
        made["task_id"]
    ]
    ids = [{"element_id": element["element_id"]}, {"element_id": PRESET_ELEMENTS[0].element_id}]
    task = ok(i2v(kling, model_name="kling-v3", prompt="<<<element_1>>> waves", element_list=ids))
    assert kling.tasks[task["task_id"]].element_ids == tuple(e["element_id"] for e in ids)
    presets = ok(call(kling, "GET", "/v1/general/advanced-presets-elements"))
    assert presets[0]["task_result"]["elements"][0]["owned_by"] == "kling"
    gone = ok(
        call(
            kling, "POST", "/v1/general/delete-elements", {"element_id": str(element["element_id"])}
        )
    )
    assert gone["task_id"] == made["task_id"]
    refused(
        i2v(kling, model_name="kling-v3", element_list=ids[:1]), 1203, str(element["element_id"])
    )
    status = ok(call(kling, "GET", f"{path}/{made['task_id']}"))
    assert status["task_result"]["elements"][0]["status"] == "deleted"
    refused(call(kling, "GET", f"{path}/nope"), 1203, "does not exist")
    # the external id is the account's: a video task cannot take it
    refused(t2v(kling, external_task_id="el-ann"), 1201, "already exists")


def test_video_elements_are_not_for_o1(kling: KlingServer) -> None:
    body = element_body(
        reference_type="video_refer",
        element_image_list=None,
        element_video_list={"refer_videos": [{"video_url": URL}]},
        tag_list=None,
    )
    made = ok(call(kling, "POST", "/v1/general/advanced-custom-elements", body))
    done = wait_done(kling, f"/v1/general/advanced-custom-elements/{made['task_id']}")
    element_id = done["task_result"]["elements"][0]["element_id"]
    listed = [{"element_id": element_id}]
    ok(i2v(kling, model_name="kling-v3", element_list=listed))
    ok(omni(kling, aspect_ratio="1:1", element_list=listed))
    refused(
        omni(kling, model_name="kling-video-o1", aspect_ratio="1:1", element_list=listed),
        1201,
        "video_refer",
    )
    feature = [{"video_url": URL, "refer_type": "feature"}]
    refused(
        omni(kling, aspect_ratio="1:1", element_list=listed, video_list=feature),
        1201,
        "reference video",
    )


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"element_name": "x" * 21}, "element_name"),
        ({"element_description": None}, "element_description"),
        ({"reference_type": "audio_refer"}, "reference_type"),
        ({"element_image_list": {"frontal_image": URL, "refer_images": []}}, "1 to 3"),
        (
            {
                "element_image_list": {
                    "frontal_image": URL,
                    "refer_images": [{"image_url": URL}] * 4,
                }
            },
            "1 to 3",
        ),
        ({"element_image_list": {"refer_images": [{"image_url": URL}]}}, "frontal_image"),
        (
            {
                "element_image_list": {
                    "frontal_image": png((200, 400)),
                    "refer_images": [{"image_url": URL}],
                }
            },
            "300px",
        ),
        ({"tag_list": [{"tag_id": "o_109"}]}, "tag_id"),
        ({"element_voice_id": "v1"}, "only video_refer"),
        (
            {"reference_type": "video_refer", "element_video_list": {"refer_videos": []}},
            "exactly 1",
        ),
        ({"colour": "red"}, "unknown parameter(s): colour"),
    ],
)
def test_element_creates_are_checked(
    kling: KlingServer, fields: dict[str, Any], words: str
) -> None:
    answer = call(kling, "POST", "/v1/general/advanced-custom-elements", element_body(**fields))
    refused(answer, 1201, words)
    assert kling.elements == {}


# -- external ids, lists and the switches for what the docs leave open -------------------------
def test_lists_page_newest_first(kling: KlingServer) -> None:
    first = ok(t2v(kling, external_task_id="job-1"))["task_id"]
    legacy = {"model": "kling-v1", "prompt": "a kite", "external_task_id": "job-2"}
    second = ok(call(kling, "POST", "/v1/videos/text2video", legacy))["task_id"]
    listed = call(kling, "GET", "/v1/videos/text2video?pageNum=1&pageSize=1").json()
    assert isinstance(listed["data"], list) and [t["task_id"] for t in listed["data"]] == [second]
    page2 = ok(call(kling, "GET", "/v1/videos/text2video?pageNum=2&pageSize=1"))
    assert [t["task_id"] for t in page2] == [first]
    assert ok(call(kling, "GET", "/v1/videos/image2video")) == []
    refused(call(kling, "GET", "/v1/videos/text2video?pageSize=501"), 1201, "pageSize")
    refused(call(kling, "GET", "/v1/videos/text2video?pageNum=0"), 1201, "pageNum")
    assert kling.tasks[second].model == "kling-v1"  # the legacy field means V1
    wrong = call(kling, "POST", "/v1/videos/text2video/123", {})
    assert (wrong.status_code, wrong.json()["code"]) == (404, 1202)


@pytest.mark.parametrize("answer", ["1201", "1200", "1203", "create", "existing"])
def test_a_reused_external_id(answer: str) -> None:
    with KlingServer(latency=0.2, render_scale=0.05, reused_external_id=answer) as kling:
        first = ok(t2v(kling, external_task_id="job-1"))
        again = i2v(kling, external_task_id="job-1")  # unique per account, across kinds
        if answer.isdigit():
            refused(again, int(answer), "already exists")
            assert kling.submissions == 1
        elif answer == "existing":
            same = ok(again)  # the first task, as it is now (it may be processing already)
            assert (same["task_id"], same["created_at"]) == (first["task_id"], first["created_at"])
            assert same["task_info"] == {"external_task_id": "job-1"} and kling.submissions == 1
        else:
            second = ok(again)
            assert second["task_id"] != first["task_id"] and kling.submissions == 2
            assert kling.by_external_id("job-1").task_id == second["task_id"]  # type: ignore[union-attr]
            found = ok(call(kling, "GET", "/v1/videos/image2video/job-1"))
            assert found["task_id"] == second["task_id"]
            found = ok(call(kling, "GET", "/v1/videos/text2video/job-1"))
            assert found["task_id"] == first["task_id"]


@pytest.mark.parametrize("answer", ["1203", "1201", "1200", "null"])
def test_an_unknown_task(answer: str) -> None:
    with KlingServer(latency=0.2, unknown_task=answer) as kling:
        for path in ("/v1/videos/text2video/123", "/v1/videos/omni-video/nope"):
            got = call(kling, "GET", path)
            if answer == "null":
                assert got.status_code == 200 and got.json()["data"] is None
            else:
                refused(got, int(answer), "does not exist")
    with pytest.raises(ValueError, match="unknown_task"):
        KlingServer(unknown_task="404")


def test_unknown_fields_can_be_ignored() -> None:
    with KlingServer(latency=0.2, render_scale=0.05, unknown_fields="ignore") as kling:
        data = ok(i2v(kling, aspect_ratio="16:9", seed=3))
        assert kling.tasks[data["task_id"]].request["seed"] == 3
        assert ok(call(kling, "GET", "/v1/videos/image2video?foo=1")) != []
    with KlingServer(latency=0.2) as strict:
        refused(call(strict, "GET", "/v1/videos/image2video?foo=1"), 1201, "foo")


@pytest.mark.parametrize("form", ["path", "both"])
def test_the_external_id_query_string_form(form: str) -> None:
    with KlingServer(latency=0.2, render_scale=0.05, external_id_query=form) as kling:
        task_id = ok(t2v(kling, external_task_id="ext-9"))["task_id"]
        assert ok(call(kling, "GET", "/v1/videos/text2video/ext-9"))["task_id"] == task_id
        got = call(kling, "GET", "/v1/videos/text2video?external_task_id=ext-9")
        if form == "both":
            assert ok(got)["task_id"] == task_id
        else:  # a list call with a parameter the docs do not list
            refused(got, 1201, "external_task_id")


@pytest.mark.parametrize("answer", ["refuse", "accept"])
def test_sound_on_a_model_without_audio(answer: str) -> None:
    with KlingServer(latency=0.2, render_scale=0.05, older_sound=answer) as kling:
        got = t2v(kling, sound="on")
        if answer == "refuse":
            refused(got, 1201, "sound 'on' is not supported by kling-v1-6")
        else:
            assert kling.tasks[ok(got)["task_id"]].sound
        # kling-v2-6 std is "only no audio" whatever the switch says
        refused(t2v(kling, model_name="kling-v2-6", sound="on"), 1201, "std mode")


def test_an_unknown_element_can_be_1201() -> None:
    with KlingServer(latency=0.2, unknown_element=1201) as kling:
        refused(i2v(kling, model_name="kling-v3", element_list=[{"element_id": 5}]), 1201, "5")


def test_the_content_policy_can_fail_the_task() -> None:
    with KlingServer(latency=0.1, render_scale=0.05, content_policy="fail") as kling:
        data = ok(t2v(kling, negative_prompt="nothing forbidden"))
        done = wait_done(kling, f"/v1/videos/text2video/{data['task_id']}")
        assert done["task_status"] == "failed" and "risk control" in done["task_status_msg"]
        assert "task_result" not in done and done["final_unit_deduction"] == "0"
        assert kling.billed_usd == 0


# -- limits, faults, downloads ----------------------------------------------------------------
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
    for fault, status in (("1102", 429), ("5000", 500), ("1302", 429), ("5001", 503)):
        kling.fail_next("create", fault)
        answer = t2v(kling)
        assert (answer.status_code, answer.json()["code"]) == (status, int(fault))
    kling.fail_next("create", "drop_after_accept")
    with pytest.raises(httpx.RemoteProtocolError):
        t2v(kling, external_task_id="lost")
    found = ok(call(kling, "GET", "/v1/videos/text2video/lost"))
    assert found["task_info"]["external_task_id"] == "lost"
    kling.fail_next("get", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        call(kling, "GET", f"/v1/videos/text2video/{found['task_id']}")
    kling.fail_next("elements", "1303")
    assert call(kling, "GET", "/v1/general/advanced-custom-elements").json()["code"] == 1303
    kling.fail_next_task("Failure to pass the risk control system")
    failed = ok(t2v(kling))["task_id"]
    done = wait_done(kling, f"/v1/videos/text2video/{failed}")
    assert done["task_status"] == "failed" and "risk control" in done["task_status_msg"]
    assert "task_result" not in done and done["final_unit_deduction"] == "0"
    with pytest.raises(ValueError, match="fault"):
        kling.fail_next("create", "truncate")


def test_truncated_and_failed_downloads(kling: KlingServer) -> None:
    task_id = ok(t2v(kling))["task_id"]
    url = wait_done(kling, f"/v1/videos/text2video/{task_id}")["task_result"]["videos"][0]["url"]
    kling.fail_next("download", "truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        HTTP.get(url)
    kling.fail_next("download", "500")
    assert HTTP.get(url).status_code == 500
    whole = HTTP.get(url)
    assert whole.status_code == 200
    assert int(whole.headers["Content-Length"]) == len(whole.content) > 0
    assert HTTP.get(url.replace(".mp4", "-wm.mp4")).status_code == 404  # no watermark asked


# -- callbacks --------------------------------------------------------------------------------
class _Receiver:
    """A loopback endpoint that records the callbacks POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_callbacks_carry_the_bare_task_on_each_change(kling: KlingServer) -> None:
    receiver = _Receiver()
    try:
        good = ok(t2v(kling, callback_url=receiver.url, external_task_id="cb-1"))
        kling.fail_next_task("Failure to pass the risk control system")
        bad = ok(t2v(kling, callback_url=receiver.url))
        element = ok(
            call(
                kling,
                "POST",
                "/v1/general/advanced-custom-elements",
                element_body(callback_url=receiver.url),
            )
        )
        assert kling.wait_idle()
    finally:
        receiver.close()
    mine = [b for b in receiver.bodies if b["task_id"] == good["task_id"]]
    assert [b["task_status"] for b in mine] == ["submitted", "processing", "succeed"]
    last = mine[-1]
    assert set(last) == {
        "task_id",
        "task_status",
        "task_status_msg",
        "created_at",
        "updated_at",
        "final_unit_deduction",
        "task_info",
        "task_result",
    }
    assert last["task_info"] == {"external_task_id": "cb-1"}
    assert last["task_result"]["videos"][0]["duration"] == "5.0"
    assert last["final_unit_deduction"] == "2" and isinstance(last["created_at"], int)
    theirs = [b for b in receiver.bodies if b["task_id"] == bad["task_id"]]
    assert [b["task_status"] for b in theirs] == ["submitted", "processing", "failed"]
    assert "risk control" in theirs[-1]["task_status_msg"] and "task_result" not in theirs[-1]
    made = [b for b in receiver.bodies if b["task_id"] == element["task_id"]]
    assert made[-1]["task_result"]["elements"][0]["element_id"] > 0
    assert all(d.delivered and d.attempts == 1 for d in kling.webhooks)
    assert not any("signature" in k.lower() for h in receiver.headers for k in h)  # unsigned


def test_callback_statuses_can_be_narrowed() -> None:
    receiver = _Receiver()
    try:
        with KlingServer(
            latency=0.1, render_scale=0.05, callback_statuses=("succeed", "failed")
        ) as kling:
            ok(t2v(kling, callback_url=receiver.url))
            assert kling.wait_idle()
    finally:
        receiver.close()
    assert [b["task_status"] for b in receiver.bodies] == ["succeed"]
