"""The strict fake of Runway's API (tests/fakes/runway_server.py, rules in
tests/fakes/runway_rules.py, each citing Runway's SDK or API reference) refuses what Runway
refuses, through the official runwayml SDK and raw HTTP; its switches are tested both ways."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml

from .fakes.runway_rules import Rules
from .fakes.runway_server import RunwayServer, write_clip

KEY = "rw-fake-SECRET-19"
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


def _sdk(server: RunwayServer, key: str = KEY) -> runwayml.RunwayML:
    return runwayml.RunwayML(api_key=key, base_url=server.base_url, max_retries=0)


def _post(server: RunwayServer, path: str, body: Any, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06", **headers}
    sent = {k: v for k, v in sent.items() if v}
    return httpx.post(f"{server.base_url}{path}", json=body, headers=sent)


TEXT = {"model": "gen4.5", "promptText": "a kite", "ratio": "1280:720", "duration": 5}


def test_the_sdk_creates_polls_and_gets_a_real_mp4() -> None:
    # throttled for a second: the first status comes well within it, even on a loaded machine
    with RunwayServer(api_key=KEY, latency=0.05, throttled=1.0) as server:
        client = _sdk(server)
        made = client.text_to_video.create(
            model="gen4.5", prompt_text="a kite", ratio="720:1280", duration=3, seed=7
        )
        seen = set()
        for _ in range(500):
            task = client.tasks.retrieve(made.id)
            seen.add(task.status)
            if task.status == "SUCCEEDED":
                break
            time.sleep(0.02)
        assert {"THROTTLED", "SUCCEEDED"} <= seen
        output = task.model_dump(by_alias=True).get("output") or task.output  # type: ignore[union-attr]
        video = httpx.get(output[0]).content
        assert video[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("path", "body", "status", "match"),
    [
        ("/v1/text_to_video", {**TEXT, "model": "gen4_turbo"}, 400, "model"),
        ("/v1/text_to_video", {**TEXT, "model": "gen9"}, 400, "model"),
        ("/v1/text_to_video", {**TEXT, "ratio": "960:960"}, 400, "ratio"),
        ("/v1/text_to_video", {**TEXT, "duration": 11}, 400, "duration"),
        ("/v1/text_to_video", {**TEXT, "duration": 1}, 400, "duration"),
        ("/v1/text_to_video", {**TEXT, "promptText": "x" * 1001}, 400, "promptText"),
        ("/v1/text_to_video", {**TEXT, "promptText": "\U0001f600" * 501}, 400, "promptText"),
        ("/v1/text_to_video", {k: v for k, v in TEXT.items() if k != "duration"}, 400, "duration"),
        ("/v1/text_to_video", {**TEXT, "seed": -1}, 400, "seed"),
        ("/v1/text_to_video", {**TEXT, "referenceImages": []}, 400, "unrecognized"),
        (
            "/v1/image_to_video",
            {**TEXT, "promptImage": [{"uri": PNG, "position": "last"}]},
            400,
            "position",
        ),
        ("/v1/image_to_video", {**TEXT, "promptImage": "http://example.com/a.png"}, 400, "HTTPS"),
        ("/v1/image_to_video", {**TEXT, "promptImage": "https://10.1.2.3/a.png"}, 400, "domain"),
        (
            "/v1/image_to_video",
            {**TEXT, "promptImage": "data:image/png;base64," + "A" * (5 * 1024 * 1024 - 22)},
            400,
            "5MB",
        ),
        ("/v1/image_to_video", {**TEXT, "ratio": "1584:672"}, 400, "promptImage"),
    ],
)
def test_documented_refusals(path: str, body: dict[str, Any], status: int, match: str) -> None:
    with RunwayServer(api_key=KEY) as server:
        answer = _post(server, path, body)
        assert answer.status_code == status and match in answer.json()["error"]
        assert server.created == []


def test_a_prompt_of_1000_utf16_units_passes() -> None:
    with RunwayServer(api_key=KEY) as server:
        assert _post(server, "/v1/text_to_video", {**TEXT, "promptText": "é" * 1000}).is_success
        body = {**TEXT, "ratio": "1584:672", "promptImage": [{"uri": PNG, "position": "first"}]}
        assert _post(server, "/v1/image_to_video", body).is_success


def test_a_wrong_key_is_401_through_the_sdk() -> None:
    with RunwayServer(api_key=KEY) as server, pytest.raises(runwayml.AuthenticationError):
        _sdk(server, "wrong").text_to_video.create(
            model="gen4.5", prompt_text="a", ratio="1280:720", duration=5
        )


@pytest.mark.parametrize("version_status", [400, 401])
def test_the_version_header_is_required(version_status: int) -> None:
    with RunwayServer(api_key=KEY, rules=Rules(version_status=version_status)) as server:
        assert _post(server, "/v1/text_to_video", TEXT, **{"X-Runway-Version": ""}).status_code == (
            version_status
        )
        wrong = _post(server, "/v1/text_to_video", TEXT, **{"X-Runway-Version": "2023-01-01"})
        assert wrong.status_code == version_status
        assert _post(server, "/v1/text_to_video", TEXT).is_success  # the SDK's version


@pytest.mark.parametrize(("switch", "three_seconds"), [("5-10", False), ("2-10", True)])
def test_turbo_durations_are_a_switch(switch: str, three_seconds: bool) -> None:
    body = {
        "model": "gen4_turbo",
        "ratio": "1280:720",
        "promptImage": PNG,
        "duration": 3,
    }
    with RunwayServer(api_key=KEY, rules=Rules(turbo_durations=switch)) as server:
        assert _post(server, "/v1/image_to_video", body).is_success is three_seconds
        assert _post(server, "/v1/image_to_video", {**body, "duration": 10}).is_success


def test_delete_cancels_a_running_task_and_deletes_a_finished_one() -> None:
    with RunwayServer(api_key=KEY, latency=5.0) as server:
        client = _sdk(server)
        made = client.text_to_video.create(
            model="gen4.5", prompt_text="a", ratio="1280:720", duration=5
        )
        client.tasks.delete(made.id)
        assert client.tasks.retrieve(made.id).status == "CANCELLED"
        client.tasks.delete(made.id)
        with pytest.raises(runwayml.NotFoundError):
            client.tasks.retrieve(made.id)


# -- video to video (Aleph 2.0) -----------------------------------------------------------------
EDIT = {"model": "aleph2", "videoUri": "https://cdn.example.com/take.mp4", "promptText": "rain"}


def _finished(client: runwayml.RunwayML, task_id: str) -> Any:
    for _ in range(400):
        task = client.tasks.retrieve(task_id)
        if task.status in ("SUCCEEDED", "FAILED"):
            return task
        time.sleep(0.02)
    raise AssertionError("the task never finished")


def test_aleph_edits_a_task_output_into_a_real_mp4_of_its_size_and_length() -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        client = _sdk(server)
        made = client.text_to_video.create(
            model="gen4.5", prompt_text="a kite", ratio="720:1280", duration=3
        )
        (url,) = _finished(client, made.id).output
        edit = client.video_to_video.create(
            model="aleph2", video_uri=url, prompt_text="make it rain", ratio="720:1280", seed=3
        )
        (edited,) = _finished(client, edit.id).output
        video = httpx.get(edited).content
        assert video[4:8] == b"ftyp"
        source, aleph = server.created
        assert aleph.endpoint == "video_to_video" and aleph.body["videoUri"] == url
        assert (aleph.width, aleph.height, aleph.duration) == (
            source.width,
            source.height,
            source.duration,
        )


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({**EDIT, "model": "gen4_aleph"}, "model"),  # gone from the spec (sdk-python d106617)
        ({k: v for k, v in EDIT.items() if k != "videoUri"}, "videoUri"),
        ({**EDIT, "videoUri": "http://cdn.example.com/take.mp4"}, "HTTPS"),
        ({**EDIT, "videoUri": "https://10.0.0.1/take.mp4"}, "domain"),
        ({**EDIT, "videoUri": "data:video/mp4;base64," + "A" * (5 * 1024 * 1024)}, "5MB"),
        ({**EDIT, "videoUri": PNG}, "video data URI"),
        ({**EDIT, "promptText": "x" * 1001}, "promptText"),
        ({**EDIT, "promptText": ""}, "promptText"),
        ({k: v for k, v in EDIT.items() if k != "promptText"}, "promptText"),
        ({**EDIT, "ratio": "1920:1080"}, "ratio"),
        ({**EDIT, "targetAspectRatio": "5:4"}, "targetAspectRatio"),
        ({**EDIT, "keyframes": [{"uri": PNG, "at": 0.5}] * 6}, "keyframes"),
        ({**EDIT, "keyframes": [{"uri": PNG, "at": 1.5}]}, "keyframes.at"),
        ({**EDIT, "outputFormat": "gif"}, "outputFormat"),
        ({**EDIT, "proresProfile": "422"}, "proresProfile"),
        ({**EDIT, "duration": 5}, "unrecognized"),
        ({**EDIT, "seed": 2**32}, "seed"),
    ],
)
def test_documented_aleph_refusals(body: dict[str, Any], match: str) -> None:
    with RunwayServer(api_key=KEY) as server:
        answer = _post(server, "/v1/video_to_video", body)
        assert answer.status_code == 400 and match in answer.json()["error"], answer.text
        assert server.created == []


def _data_uri(path: Path) -> str:
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()


def test_aleph_takes_urls_runway_uris_data_uris_and_keyframes(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", 36, 12)
    with RunwayServer(api_key=KEY) as server:
        uploaded = _sdk(server).uploads.create_ephemeral(file=clip).uri
        for uri in ("https://cdn.example.com/take.mp4", uploaded, _data_uri(clip)):
            assert _post(server, "/v1/video_to_video", {**EDIT, "videoUri": uri}).is_success
        frames = [{"uri": PNG, "seconds": 1.0}, {"uri": PNG, "at": 0.9}]
        assert _post(server, "/v1/video_to_video", {**EDIT, "keyframes": frames}).is_success
        wide = {**EDIT, "ratio": "1584:672", "targetAspectRatio": "21:9", "seed": 0}
        assert _post(server, "/v1/video_to_video", wide).is_success


@pytest.mark.parametrize(("switch", "passes"), [("listed", False), ("any", True)])
def test_alephs_ratio_list_is_a_switch(switch: str, passes: bool) -> None:
    with RunwayServer(api_key=KEY, rules=Rules(aleph_ratio=switch)) as server:
        given = {**EDIT, "ratio": "1920:1080"}
        assert _post(server, "/v1/video_to_video", given).is_success is passes
        assert _post(server, "/v1/video_to_video", {**EDIT, "ratio": "848:480"}).is_success
        assert not _post(server, "/v1/video_to_video", {**EDIT, "ratio": "wide"}).is_success


@pytest.mark.parametrize("required", [True, False])
def test_alephs_prompt_requirement_is_a_switch(required: bool) -> None:
    bare = {k: v for k, v in EDIT.items() if k != "promptText"}
    with RunwayServer(api_key=KEY, rules=Rules(aleph_prompt_required=required)) as server:
        assert _post(server, "/v1/video_to_video", bare).is_success is not required


def test_aleph_refuses_a_deleted_or_too_short_source() -> None:
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        client = _sdk(server)
        short = client.text_to_video.create(
            model="gen4.5", prompt_text="a", ratio="1280:720", duration=2
        )
        (url,) = _finished(client, short.id).output
        assert _post(server, "/v1/video_to_video", {**EDIT, "videoUri": url}).is_success
        server.tasks[short.id].duration = 1  # shorter than Aleph's 2 s
        answer = _post(server, "/v1/video_to_video", {**EDIT, "videoUri": url})
        assert answer.status_code == 400 and "2 to 30 seconds" in answer.json()["error"]
        client.tasks.delete(short.id)
        answer = _post(server, "/v1/video_to_video", {**EDIT, "videoUri": url})
        assert answer.status_code == 400 and "could not be fetched" in answer.json()["error"]
        assert len(server.created) == 2


# -- uploads (docs.dev.runwayml.com/assets/uploads; runwayml uploads.create_ephemeral) --------
def test_the_sdks_upload_lands_and_its_uri_is_a_video_aleph_takes(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "previz.mp4", 30, 12)
    with RunwayServer(api_key=KEY, latency=0.05) as server:
        client = _sdk(server)
        uri = client.uploads.create_ephemeral(file=clip).uri
        (slot,) = server.uploads.values()
        assert uri == slot.uri and uri.startswith("runway://")
        assert slot.path is not None and slot.path.read_bytes() == clip.read_bytes()
        assert server.bodies == [("uploads", {"filename": "previz.mp4", "type": "ephemeral"})]
        made = client.video_to_video.create(model="aleph2", video_uri=uri, prompt_text="rain")
        (url,) = _finished(client, made.id).output
        (task,) = server.created
        assert (task.width, task.height, task.fps, task.frames) == (128, 72, 12, 30)
        assert httpx.get(url).content[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"filename": "a.mp4", "type": "permanent"}, "type"),
        ({"filename": "", "type": "ephemeral"}, "filename"),
        ({"type": "ephemeral"}, "filename"),
        ({"filename": "a.mp4", "type": "ephemeral", "size": 1}, "unrecognized"),
    ],
)
def test_documented_upload_refusals(body: dict[str, Any], match: str) -> None:
    with RunwayServer(api_key=KEY) as server:
        answer = _post(server, "/v1/uploads", body)
        assert answer.status_code == 400 and match in answer.json()["error"], answer.text
        assert server.uploads == {}


def test_an_upload_under_512_bytes_and_an_unknown_runway_uri_are_refused(
    tmp_path: Path,
) -> None:
    tiny = tmp_path / "tiny.mp4"
    tiny.write_bytes(b"\x00" * 511)  # "The minimum uploadable file is 512 bytes"
    with RunwayServer(api_key=KEY) as server:
        client = _sdk(server)
        with pytest.raises(runwayml.APIStatusError) as small:
            client.uploads.create_ephemeral(file=tiny)
        assert small.value.status_code == 400 and "EntityTooSmall" in str(small.value.body)
        unknown = {**EDIT, "videoUri": "runway://uploads/nothing/here.mp4"}
        answer = _post(server, "/v1/video_to_video", unknown)
        assert answer.status_code == 400 and "could not be fetched" in answer.json()["error"]
        assert server.created == []


@pytest.mark.parametrize(
    ("frames", "fps", "match"),
    [
        (31 * 4, 4, "2 to 30 seconds"),  # [3P] "must be no longer than 30 seconds"
        (4, 4, "2 to 30 seconds"),
        (120, 60, "30 fps or less"),  # [3P] "at 30 fps or less"
    ],
)
def test_aleph_refuses_an_uploaded_video_by_its_probed_length_and_rate(
    tmp_path: Path, frames: int, fps: int, match: str
) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames, fps, 64, 36)
    with RunwayServer(api_key=KEY) as server:
        uri = _sdk(server).uploads.create_ephemeral(file=clip).uri
        for given in (uri, _data_uri(clip)):
            answer = _post(server, "/v1/video_to_video", {**EDIT, "videoUri": given})
            assert answer.status_code == 400 and match in answer.json()["error"], answer.text
        assert server.created == []


@pytest.mark.parametrize(("switch", "frames"), [("input", 84), ("5s", 60)])
def test_alephs_output_length_is_a_switch(tmp_path: Path, switch: str, frames: int) -> None:
    """No source says how long aleph2's output is: "input" (as long as the 7 s input) or
    "5s" (gen4_aleph's first 5 s)."""
    clip = write_clip(tmp_path / "clip.mp4", 84, 12, 64, 36)
    with RunwayServer(api_key=KEY, latency=0.05, rules=Rules(aleph_output=switch)) as server:
        client = _sdk(server)
        uri = client.uploads.create_ephemeral(file=clip).uri
        made = client.video_to_video.create(model="aleph2", video_uri=uri, prompt_text="rain")
        (url,) = _finished(client, made.id).output
        out = tmp_path / "out.mp4"
        out.write_bytes(httpx.get(url).content)
    from ministudio.media.probe import probe

    info = probe(out)
    assert (info.frames, info.fps, info.width, info.height) == (frames, 12.0, 64, 36)
