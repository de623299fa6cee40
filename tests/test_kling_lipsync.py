"""The engine ``kling-lipsync`` (Kling's Advanced Lip-Sync) hook by hook against the Kling fake
(tests/fakes/kling_lipsync.py, written from Kling's docs): submit (identify-face, then the
task), poll, download (a real MP4, priced), the lookup of a lost answer under each of the
fake's switches, refusals before anything is paid, callbacks; the fake's rules and switches;
then one render routed ``video: kling, lipsync: kling-lipsync``, and one killed and resumed."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import ministudio_kling
import numpy as np
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, EngineRefusal
from ministudio.jobs import (
    CharacterBrief,
    EnvironmentBrief,
    JobStatus,
    LineBrief,
    LipSyncRequest,
    ShotPrompt,
)
from ministudio.media.encode import VideoWriter
from ministudio.media.probe import probe
from ministudio_kling import _lipsync
from ministudio_kling._prices import lipsync_price

from .fakes.hold import HOLD, held
from .fakes.kling_server import KlingServer

ENGINE = "kling-lipsync"
KEY = "0123456789abcdef0123456789abcdef"
FPS = 12


def _clip(path: Path, width: int, height: int, seconds: float) -> Path:
    with VideoWriter(path, width, height, FPS) as writer:
        for i in range(round(seconds * FPS)):
            writer.write(np.full((height, width, 3), (5 * i) % 255, np.uint8))
    return path


def _wav(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    tone = (3000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(tone, channels).tobytes())
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lipsync")
    return {
        "take": _clip(folder / "take.mp4", 1280, 720, 3.0),
        "short": _clip(folder / "short.mp4", 1280, 720, 1.5),
        "small": _clip(folder / "small.mp4", 960, 540, 3.0),
        "voice": _wav(folder / "voice.wav", 3.0),
        "short_voice": _wav(folder / "short.wav", 1.5),
    }


def shot(*speakers: str) -> ShotPrompt:
    cast = tuple(CharacterBrief(id=s, name=s.title(), dna="a person") for s in ("ann", "bo"))
    lines = tuple(
        LineBrief(speaker=s, text="Hello.", start=0.2 + i, end=0.9 + i)
        for i, s in enumerate(speakers)
    )
    return ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="Ann speaks",
        shot_size="medium",
        camera_move="static",
        environment=EnvironmentBrief(id="room", description="a room"),
        characters=cast,
        lines=lines,
    )


def request(media: dict[str, Path], video: str = "take", voice: str = "voice", **more: Any):
    info = probe(media[video])
    fields: dict[str, Any] = {
        "shot": shot("ann"),
        "video": media[video],
        "voice": media[voice],
        "duration": info.duration,
        "width": info.width,
        "height": info.height,
        "fps": FPS,
        **more,
    }
    return LipSyncRequest.model_validate(fields)


def kling_env(server: KlingServer, **more: str) -> dict[str, str]:
    return {
        "KLING_BASE_URL": server.base_url,
        "KLING_ACCESS_KEY": server.access_key,
        "KLING_SECRET_KEY": server.secret_key,
        "KLING_BUSY_WAIT": "0.05",
        "KLING_ASSET_STORE": f"file://{server.files_dir}",
        "KLING_ASSET_BASE_URL": server.files_url,
        **more,
    }


def context_for(server: KlingServer, tmp: Path, **env: str) -> EngineContext:
    context = EngineContext(engine=ENGINE, work_dir=tmp, env=kling_env(server, **env))

    async def uploader(path: Path) -> str:
        asset = ministudio_kling.upload_asset(engine=ENGINE, path=path, context=context)
        return str(asset.reference)

    context.uploader = uploader
    return context


def run(awaitable: Any) -> Any:
    async def main() -> Any:
        return await awaitable

    return anyio.run(main)


def submit(req: LipSyncRequest, context: EngineContext, key: str = KEY) -> str:
    made = ministudio_kling.submit_lip_sync(
        engine=ENGINE, request=req, idempotency_key=key, context=context
    )
    return str(run(made).job_id)


def wait_done(job: str, context: EngineContext) -> JobStatus:
    for _ in range(400):
        status = run(ministudio_kling.poll_video(engine=ENGINE, job_id=job, context=context))
        if status.state in ("succeeded", "failed"):
            return status
        anyio.run(anyio.sleep, 0.02)
    raise AssertionError("the task never ended")


@pytest.fixture
def server() -> Iterator[KlingServer]:
    with KlingServer(latency=0.2, render_scale=0.05) as fake:
        yield fake


# -- the declaration ------------------------------------------------------------------------
def test_declares_a_remote_lipsync_engine_with_kling_s_keys() -> None:
    from ministudio.plugins import FIRST_PARTY

    specs = {s.id: s for s in ministudio_kling.ministudio_engines()}
    lips = specs[ENGINE]
    assert lips.kind == "lipsync" and lips.marks_sending and lips.all_keys
    assert lips.key_env == specs["kling"].key_env == ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    assert lips.capabilities.min_duration == 2.0 and lips.capabilities.max_duration == 60.0
    assert lips.capabilities.resolutions == ("720p", "1080p") and lips.capabilities.webhooks
    assert FIRST_PARTY[ENGINE] == "ministudio-provider-kling"
    # the video engine's hooks still answer for kling alone
    assert ministudio_kling.estimate_cost(engine="nope", request=None) is None


# -- submit, poll, download -------------------------------------------------------------------
def test_submit_poll_download(server: KlingServer, media: dict[str, Path], tmp_path: Path) -> None:
    context = context_for(server, tmp_path)
    req = request(media)
    job = submit(req, context)
    assert job.startswith("advanced-lip-sync:")
    assert server.identifications == 1 and server.lipsync_submissions == 1
    (task,) = server.lipsync_tasks()
    assert task.external_task_id == f"advanced-lip-sync-{KEY}"
    body = task.request
    assert body["face_id"] == "0" and body["sound"] == "wav"
    assert body["sound_start_time"] == 0 and body["sound_insert_time"] == 0
    assert 2900 <= body["sound_end_time"] <= 3000  # the whole voice, inside the video
    assert task.parent_video is not None
    assert task.parent_video["url"].startswith(server.files_url)  # the take, hosted
    status = wait_done(job, context)
    assert status.state == "succeeded" and status.video_url
    out = tmp_path / "synced.mp4"
    made = run(
        ministudio_kling.download_video(
            engine=ENGINE, job_id=job, status=status, output=out, context=context, request=req
        )
    )
    clip = probe(out)
    assert abs(clip.duration - 3.0) < 0.2 and clip.fps == pytest.approx(FPS)
    assert made.cost == pytest.approx(lipsync_price(3.0)) == pytest.approx(0.084)
    assert made.model == "advanced-lip-sync" and made.engine_job_id == job
    assert ministudio_kling.estimate_cost(engine=ENGINE, request=req) == made.cost


def test_a_failed_task_goes_again_under_the_next_external_id(
    server: KlingServer, media: dict[str, Path], tmp_path: Path
) -> None:
    context = context_for(server, tmp_path)
    server.fail_next_task("Task failed: no mouth")
    first = submit(request(media), context)
    assert wait_done(first, context).state == "failed"
    second = submit(request(media), context)
    assert second != first
    assert [t.external_task_id for t in server.lipsync_tasks()] == [
        f"advanced-lip-sync-{KEY}",
        f"advanced-lip-sync-{KEY}-2",
    ]


# -- the lookup of a lost answer ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "echo", "found"),
    [("path", True, "path"), ("none", True, "list"), ("path", False, "path")],
)
def test_a_lost_answer_is_found(
    media: dict[str, Path], tmp_path: Path, query: str, echo: bool, found: str
) -> None:
    with KlingServer(
        latency=0.2,
        render_scale=0.05,
        lipsync_external_query=query,
        lipsync_echo_external=echo,
    ) as server:
        context = context_for(server, tmp_path)
        server.fail_next("lipsync", "drop_after_accept")
        with pytest.raises(AmbiguousSubmission):
            submit(request(media), context)
        before = len(server.requests)
        job = run(
            ministudio_kling.find_video_job(
                engine=ENGINE, idempotency_key=KEY, context=context, request=None, since=0.0
            )
        )
        (task,) = server.lipsync_tasks()
        assert job == f"advanced-lip-sync:{task.task_id}"
        asked = [path for _, path in server.requests[before:]]
        assert asked[0].endswith(f"/advanced-lip-sync/advanced-lip-sync-{KEY}")
        if found == "list":  # the path knows no external id: the list does
            assert any("pageNum" in path for path in asked)
        # sending it again resumes the same task: nothing is paid twice
        assert submit(request(media), context) == job
        assert server.lipsync_submissions == 1


def test_a_lost_answer_kling_cannot_name_stops_the_shot(
    media: dict[str, Path], tmp_path: Path
) -> None:
    """Neither the path nor the list shows external ids: a task made since the request left
    may be it, so nothing is sent again; with none made since, there surely is none."""
    with KlingServer(
        latency=0.2,
        render_scale=0.05,
        lipsync_external_query="none",
        lipsync_echo_external=False,
    ) as server:
        context = context_for(server, tmp_path)

        def find(since: float) -> Any:
            return run(
                ministudio_kling.find_video_job(
                    engine=ENGINE, idempotency_key=KEY, context=context, request=None, since=since
                )
            )

        assert find(0.0) is None  # nothing made: send it
        server.fail_next("lipsync", "drop_after_accept")
        with pytest.raises(AmbiguousSubmission):
            submit(request(media), context)
        with pytest.raises(AmbiguousSubmission, match="--forget-lost"):
            find(0.0)
        assert find(4e9) is None  # made long before the lost request: not it
        assert server.lipsync_submissions == 1


# -- refusals before paying ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"video": "short", "voice": "short_voice"}, "2 to 60 s"),
        ({"video": "small"}, "720p or 1080p"),
        ({"shot": shot("ann", "bo")}, "one face per task"),
        ({"voice": "short_voice"}, "2 to 60 s of sound"),
    ],
)
def test_what_kling_refuses_is_refused_before_anything_is_sent(
    server: KlingServer, media: dict[str, Path], tmp_path: Path, changes: dict, said: str
) -> None:
    names = {k: v for k, v in changes.items() if k in ("video", "voice")}
    extra = {k: v for k, v in changes.items() if k not in ("video", "voice")}
    with pytest.raises(EngineRefusal, match=said):
        submit(request(media, **names, **extra), context_for(server, tmp_path))
    assert server.requests == [] and not list(server.files_dir.iterdir())


@pytest.mark.parametrize(
    ("faces", "said"),
    [([], "no face"), ([(0, 1500)], "only 1.5 s"), ([(0, 900), (800, 3100)], None)],
)
def test_the_face_is_chosen_or_refused_after_identification(
    server: KlingServer, media: dict[str, Path], tmp_path: Path, faces: list, said: str | None
) -> None:
    server.next_faces(faces)
    context = context_for(server, tmp_path)
    if said is None:  # the face seen longest while the voice plays
        submit(request(media), context)
        assert server.lipsync_tasks()[0].request["face_id"] == "1"
        return
    with pytest.raises(EngineRefusal, match=said):
        submit(request(media), context)
    assert server.identifications == 1 and server.lipsync_submissions == 0


def test_a_face_named_in_the_routing_options(
    server: KlingServer, media: dict[str, Path], tmp_path: Path
) -> None:
    server.next_faces([(0, 3100), (0, 3100)], [(0, 3100)])
    context = context_for(server, tmp_path)
    submit(request(media, options={"face_id": "1"}), context)
    assert server.lipsync_tasks()[0].request["face_id"] == "1"
    with pytest.raises(EngineRefusal, match="no face '7'"):
        submit(request(media, options={"face_id": "7"}), context, key="f" * 32)


def test_a_large_voice_is_resampled_under_5_mb(tmp_path: Path) -> None:
    big = _wav(tmp_path / "big.wav", 30.0, rate=96000, channels=2)
    assert big.stat().st_size > 5 * 2**20
    encoded, ms = _lipsync.voice(big)
    data = base64.b64decode(encoded)
    assert len(data) < 5 * 2**20 and abs(ms - 30000) < 50
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (1, 16000)


# -- callbacks ------------------------------------------------------------------------------------
def test_callbacks_name_lip_sync_jobs_for_kling_lipsync_only() -> None:
    body = json.dumps(
        {
            "task_id": "123",
            "task_status": "succeed",
            "task_info": {"external_task_id": f"advanced-lip-sync-{KEY}"},
            "task_result": {"videos": [{"id": "v", "url": "http://x/v.mp4", "duration": "3"}]},
        }
    ).encode()
    status = ministudio_kling.parse_webhook(engine=ENGINE, body=body, headers={}, env={})
    assert status is not None and status.job_id == "advanced-lip-sync:123" and status.thin
    assert ministudio_kling.parse_webhook(engine="kling", body=body, headers={}, env={}) is None


# -- the fake's rules, straight ------------------------------------------------------------------
def _identify(server: KlingServer, url: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token()}"}
    return httpx.post(
        f"{server.base_url}/v1/videos/identify-face",
        json={"video_url": url},
        headers=headers,
    )


def _host(server: KlingServer, path: Path) -> str:
    (server.files_dir / path.name).write_bytes(path.read_bytes())
    return f"{server.files_url}/{path.name}"


@pytest.mark.parametrize("reading", ["short-side", "bounds"])
def test_fake_resolution_switch(media: dict[str, Path], reading: str) -> None:
    with KlingServer(lipsync_resolution=reading) as server:
        answer = _identify(server, _host(server, media["small"]))  # 960x540
        if reading == "short-side":
            assert answer.status_code == 400 and answer.json()["code"] == 1201
        else:
            assert answer.json()["code"] == 0
        assert _identify(server, _host(server, media["short"])).json()["code"] == 1201


def test_fake_create_rules(media: dict[str, Path]) -> None:
    voice = base64.b64encode(media["voice"].read_bytes()).decode()
    with KlingServer(session_ttl=3600) as server:
        session = _identify(server, _host(server, media["take"])).json()["data"]["session_id"]
        headers = {"Authorization": f"Bearer {server.token()}"}

        def create(**face: Any) -> dict[str, Any]:
            entry = {
                "face_id": "0",
                "sound_file": voice,
                "sound_start_time": 0,
                "sound_end_time": 3000,
                "sound_insert_time": 0,
                **face,
            }
            entry = {k: v for k, v in entry.items() if v is not None}
            body = {"session_id": session, "face_choose": [entry]}
            url = f"{server.base_url}/v1/videos/advanced-lip-sync"
            return httpx.post(url, json=body, headers=headers).json()

        assert create(sound_end_time=1500)["code"] == 1201  # crop under 2 s
        assert create(sound_end_time=3100)["code"] == 1201  # past the sound's end
        assert create(sound_insert_time=500)["code"] == 1201  # past the video's end
        assert create(face_id="3")["code"] == 1201
        assert create(audio_id="a1")["code"] == 1201  # both, and no TTS here
        assert create(sound_file=None, audio_id="a1")["code"] == 1201
        assert create(sound_file="not base64!")["code"] == 1201
        assert create(sound_volume=2.5)["code"] == 1201
        assert create(extra=1)["code"] == 1201  # unknown field
        assert create()["code"] == 0
        assert server.lipsync_submissions == 1


def test_fake_refuses_two_faces_and_an_expired_session(media: dict[str, Path]) -> None:
    with KlingServer(session_ttl=0.0) as server:
        server.next_faces([(0, 3040), (0, 3040)])
        session = _identify(server, _host(server, media["take"])).json()["data"]["session_id"]
        voice = base64.b64encode(media["voice"].read_bytes()).decode()
        entry = {
            "face_id": "0",
            "sound_file": voice,
            "sound_start_time": 0,
            "sound_end_time": 3000,
            "sound_insert_time": 0,
        }
        url = f"{server.base_url}/v1/videos/advanced-lip-sync"
        headers = {"Authorization": f"Bearer {server.token()}"}
        two = {"session_id": session, "face_choose": [entry, {**entry, "face_id": "1"}]}
        assert httpx.post(url, json=two, headers=headers).json()["code"] == 1201
        expired = httpx.post(
            url, json={"session_id": session, "face_choose": [entry]}, headers=headers
        ).json()
        assert expired["code"] == 1201 and "expired" in expired["message"]


# -- through the core ---------------------------------------------------------------------------
def _film(tmp: Path) -> dict[str, Any]:
    return {
        "title": "Lips",
        "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": FPS},
        "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
        "environments": {"room": {"description": "a quiet room", "lighting": "day"}},
        "scenes": [
            {
                "id": "one",
                "environment": "room",
                "shots": [
                    {
                        "id": "hello",
                        "action": "Ann speaks to camera",
                        "size": "medium",
                        "characters": ["ann"],
                        "duration": 4,
                        "dialogue": [{"speaker": "ann", "text": "Hello there, how are you?"}],
                    }
                ],
            }
        ],
        "routing": {"video": "kling", "lipsync": ENGINE},
    }


def test_a_render_routed_to_kling_then_kling_lipsync(tmp_path: Path, monkeypatch) -> None:
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    monkeypatch.setenv("KLING_EXPECTED_LATENCY", "0.1")
    monkeypatch.setenv("KLING_LIPSYNC_EXPECTED_LATENCY", "0.1")
    with KlingServer(latency=0.2, render_scale=0.05) as server:
        manifest = render(
            Production.model_validate(_film(tmp_path)),
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=kling_env(server),
        )
        assert server.submissions == 1 and server.lipsync_submissions == 1
        (task,) = server.lipsync_tasks()
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (shot,) = saved["shots"]
    assert shot["engine"] == "kling" and shot["lipsync"]["engine"] == ENGINE
    assert shot["lipsync"]["state"] == "done", shot["lipsync"]
    assert all(s.state == "done" for s in manifest.shots)
    assert (tmp_path / "out" / "film.mp4").is_file()
    assert task.request["sound_end_time"] >= 3900  # the 4 s voice, whole


def test_a_render_killed_with_the_lip_sync_request_in_flight_pays_once(tmp_path: Path) -> None:
    film = tmp_path / "film.json"
    film.write_text(json.dumps(_film(tmp_path)))
    out, store = tmp_path / "out", tmp_path / "store"
    command = [sys.executable, "-m", "ministudio", "render", str(film), "-o", str(out), "-q"]
    command.append(f"--store={store}")
    with KlingServer(latency=0.4, render_scale=0.05) as server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MINISTUDIO_")},
            **kling_env(server),
            "KLING_EXPECTED_LATENCY": "0.2",
            "KLING_LIPSYNC_EXPECTED_LATENCY": "0.2",
        }
        server.fail_next("lipsync", HOLD)
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            assert held(server).wait(120), "the lip-sync create never arrived"
            child.send_signal(signal.SIGKILL)
            _, stderr = child.communicate(timeout=60)
        finally:
            child.kill()
        assert child.returncode == -signal.SIGKILL, stderr
        assert server.lipsync_submissions == 1
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert server.submissions == 1 and server.lipsync_submissions == 1
        (task,) = server.lipsync_tasks()
    manifest = json.loads((out / "manifest.json").read_text())
    (shot,) = manifest["shots"]
    assert shot["lipsync"]["state"] == "done"
    assert shot["lipsync"].get("engine_job_id") in (None, f"advanced-lip-sync:{task.task_id}")
    assert (out / "film.mp4").is_file()
