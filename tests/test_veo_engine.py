"""The Veo engines (ministudio-provider-veo) against the loopback fake of Google's APIs
(tests/fakes/google_server.py), through the official google-genai SDK: the conformance kit on
Vertex, Vertex credentials, what Veo refuses to combine, native audio, safety, prices; and
the legacy ``veo`` engine (the Gemini API, which serves Veo no more) refused by ``validate``
with its replacement named."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import ministudio_veo
import numpy as np
import pytest
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderOptions, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from ministudio.testing import VideoEngineConformance

from .fakes.google_server import GoogleServer
from .fakes.kit import KitFaults

GEMINI_KEY = "gemini-conformance-SECRET-91d2"
VERTEX_TOKEN = "vertex-conformance-TOKEN-5c1e"


@pytest.fixture(autouse=True)
def _offline_google_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    """google-auth must never look for a GCE metadata server (no network beyond loopback)."""
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("VEO_EXPECTED_LATENCY", "0.3")  # read when the engines are declared
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent-gcloud-config")


def gemini_env(server: GoogleServer) -> dict[str, str]:
    return {"GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": GEMINI_KEY}


def vertex_env(server: GoogleServer, **more: str) -> dict[str, str]:
    return {
        "VERTEX_BASE_URL": server.base_url,
        "VEO_STORAGE_BASE_URL": server.base_url,
        "GOOGLE_CLOUD_PROJECT": "ministudio-fake",
        "GOOGLE_CLOUD_LOCATION": "us-central1",
        "VERTEX_AI_ACCESS_TOKEN": VERTEX_TOKEN,
        **more,
    }


class TestVeoVertexConformance(VideoEngineConformance):
    """Vertex with a project and an access token; clips through Cloud Storage, so the
    download faults have a download to hit."""

    engine_id = "veo-vertex"
    sdk_modules = ("google.genai", "google.auth", "httpx")
    engine_limits: ClassVar[Mapping[str, Any]] = {"requests_per_minute": 600}
    refused_action = "Ann does something forbidden"
    engine_options: ClassVar[Mapping[str, Any]] = {"output_gcs_uri": "gs://ministudio-fake/clips/"}

    def plugin(self) -> object:
        return ministudio_veo

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[GoogleServer]:
        with GoogleServer(
            access_token=VERTEX_TOKEN, latency=(0.2, 0.2), fault_retry_after=0.05
        ) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: GoogleServer) -> dict[str, str]:
        return vertex_env(server)

    @pytest.fixture
    def engine_faults(self, server: GoogleServer) -> KitFaults:
        return KitFaults(server)


# -- films ----------------------------------------------------------------------------------
def _film(tmp_path: Path, engine: str, shots: list[dict[str, Any]], **routing: Any) -> Production:
    reference = tmp_path / "ann.png"
    from PIL import Image

    Image.new("RGB", (64, 64), (200, 30, 30)).save(reference)
    return Production.model_validate(
        {
            "title": "Veo",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {
                "ann": {
                    "name": "Ann",
                    "dna": "a woman, red coat",
                    "reference_images": [reference],
                    "voice": {"voice": "en-us"},
                }
            },
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [{"id": "one", "environment": "park", "shots": shots}],
            "routing": {"video": engine, **routing},
        }
    )


def _render(film: Production, tmp_path: Path, env: dict[str, str], out: str = "out") -> Manifest:
    return render(
        film,
        tmp_path / out,
        host=PluginHost(env={}),
        store=ContentStore(tmp_path / "store"),
        env=env,
        options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
    )


def test_references_or_frames_never_both(tmp_path: Path) -> None:
    """Ann has a reference image. s1 sends it (as an ASSET, with an 8 s clip); s2 continues s1
    from its last frame (``extend: false``), so it sends the first frame and no reference (Veo
    refuses both), and the plan says so."""
    from ministudio.run.render import plan

    film = _film(
        tmp_path,
        "veo-vertex",
        [
            {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 4},
            {
                "id": "s2",
                "action": "Ann walks",
                "characters": ["ann"],
                "duration": 4,
                "continuity": "continue",
            },
        ],
        options={"veo-vertex": {"extend": False}},
    )
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2, render_scale=0.05) as server:
        manifest = _render(film, tmp_path, vertex_env(server))
        first, second = (server.operations[s.engine_job_id or ""] for s in manifest.shots)
    assert [r["referenceType"].upper() for r in first.instance["referenceImages"]] == ["ASSET"]
    assert "image" not in first.instance and first.duration == 8
    assert (
        "referenceImages" not in second.instance
        and "bytesBase64Encoded" in second.instance["image"]
    )
    assert second.duration == 4
    assert manifest.shots[0].conditioning == ["1 reference image"]
    assert manifest.shots[1].conditioning[-1] == "first frame"  # after "continues veo-vertex job"
    planned = plan(
        film, tmp_path / "out", host=PluginHost(env={}), store=ContentStore(tmp_path / "s2")
    )
    assert planned.shots[1].ignored == (
        "veo-vertex takes no reference images along with frames: the frames win",
    )
    assert manifest.shots[0].cost == pytest.approx(8 * 0.20)  # 3.1 without sound


def test_vertex_sends_seed_and_turns_sound_off_for_voiced_shots(tmp_path: Path) -> None:
    film = _film(
        tmp_path,
        "veo-vertex",
        [{"id": "s1", "action": "Ann waves", "dialogue": [{"speaker": "ann", "text": "Hi."}]}],
    )
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2) as server:
        manifest = _render(film, tmp_path, vertex_env(server))
        (op,) = server.operations.values()
    assert op.backend == "vertex" and op.parameters["generateAudio"] is False
    assert op.parameters["seed"] == manifest.shots[0].seed % 2**32
    assert "says" not in (op.prompt or "")  # MiniStudio voices the line
    assert manifest.shots[0].lines[0].engine == "espeak"


def test_native_audio_puts_veos_sound_in_the_film(tmp_path: Path) -> None:
    """`audio: native`: Veo gets the line in its prompt, no voice engine speaks it, and the
    film's soundtrack under the shot is the clip's own sound."""
    from ministudio.media.audio import read_wav

    film = _film(
        tmp_path,
        "veo-vertex",
        [
            {"id": "s1", "action": "Ann waves", "duration": 4},
            {
                "id": "s2",
                "action": "Ann talks",
                "audio": "native",
                "dialogue": [{"speaker": "ann", "text": "The park is lovely today."}],
            },
        ],
    )
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2) as server:
        manifest = _render(film, tmp_path, vertex_env(server))
        ops = {op.prompt and "lovely" in op.prompt: op for op in server.operations.values()}
    native = ops[True]
    assert (
        native.parameters["generateAudio"] is True
        and ops[False].parameters["generateAudio"] is False
    )
    (line,) = manifest.shots[1].lines
    assert line.engine == "veo-vertex"
    samples, rate = read_wav(tmp_path / "out" / "film.mp4")
    s1 = manifest.shots[0]
    silent = samples[: int(s1.duration * rate) - 1024]  # the next shot's AAC pre-echo aside
    voiced = samples[int(manifest.shots[1].start * rate) :]
    assert float(np.abs(silent).max()) < 1e-3  # s1: no lines, no clip sound
    assert float(np.sqrt(np.mean(voiced**2))) > 1e-3  # s2: Veo's sound
    srt = (tmp_path / "out" / "film.srt").read_text(encoding="utf-8")
    assert "The park is lovely today." in srt


def test_a_service_account_file_and_express_mode(tmp_path: Path) -> None:
    film = _film(tmp_path, "veo-vertex", [{"id": "s1", "action": "Ann waves", "duration": 4}])
    with GoogleServer(latency=0.2) as server:
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(server.service_account_info()))
        env = vertex_env(server, GOOGLE_APPLICATION_CREDENTIALS=str(key_file))
        del env["VERTEX_AI_ACCESS_TOKEN"]
        _render(film, tmp_path, env)
        assert len(server.tokens_issued) >= 1
        express = {"VERTEX_BASE_URL": server.base_url, "VERTEX_AI_API_KEY": server.vertex_api_key}
        _render(film.model_copy(update={"seed": 7}), tmp_path, express, out="express")
        backends = sorted(op.backend for op in server.operations.values())
    assert backends == ["express", "vertex"]


def test_a_filtered_video_is_a_refusal_with_googles_reason(tmp_path: Path) -> None:
    from ministudio.run.render import RenderError

    film = _film(tmp_path, "veo-vertex", [{"id": "s1", "action": "Ann does something forbidden"}])
    with (
        GoogleServer(access_token=VERTEX_TOKEN, latency=0.2) as server,
        pytest.raises(RenderError) as info,
    ):
        _render(film, tmp_path, vertex_env(server))
    assert "refused" in str(info.value)
    assert server.submissions == 1


def test_a_bad_token_names_the_variables(tmp_path: Path) -> None:
    from ministudio.run.render import RenderError

    film = _film(tmp_path, "veo-vertex", [{"id": "s1", "action": "Ann waves", "duration": 4}])
    with (
        GoogleServer(access_token=VERTEX_TOKEN, latency=0.2) as server,
        pytest.raises(RenderError) as info,
    ):
        wrong = {**vertex_env(server), "VERTEX_AI_ACCESS_TOKEN": "wrong-token-123456"}
        _render(film, tmp_path, wrong)
    assert "VERTEX_AI_ACCESS_TOKEN" in str(info.value)
    assert "wrong-token-123456" not in str(info.value)


def test_plan_prices_what_would_be_sent(tmp_path: Path) -> None:
    """`plan` asks the engine what each request costs: Ann's reference image makes Veo send
    8 s; without sound 3.1 is $0.20/s and Fast $0.08/s; 4k is 8 s at $0.40/s. Lite takes no
    reference image: the render refuses it before anything is sent."""
    from ministudio.run.render import RenderError, plan

    shots = [{"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 4}]
    with GoogleServer(access_token=VERTEX_TOKEN) as server:
        store = ContentStore(tmp_path / "store")

        def cost(**routing: Any) -> float:
            film = _film(tmp_path, "veo-vertex", shots, **routing)
            return float(plan(film, tmp_path / "out", host=PluginHost(env={}), store=store).cost)

        standard = cost()
        fast = cost(options={"veo-vertex": {"model": "veo-3.1-fast"}})
        film = _film(tmp_path, "veo-vertex", shots).model_dump()
        film["format"]["resolution"] = "2160p"
        uhd = plan(
            Production.model_validate(film), tmp_path / "o", host=PluginHost(env={}), store=store
        ).cost
        lite = _film(
            tmp_path, "veo-vertex", shots, options={"veo-vertex": {"model": "veo-3.1-lite"}}
        )
        with pytest.raises(RenderError, match="takes no reference images"):
            _render(lite, tmp_path, vertex_env(server))
        assert server.submissions == 0
    assert standard == pytest.approx(8 * 0.20)
    assert fast == pytest.approx(8 * 0.08)
    assert uhd == pytest.approx(8 * 0.40)


def test_validate_refuses_veo_on_the_gemini_api_naming_gemini_omni(tmp_path: Path) -> None:
    """A production routed to `veo` (the Gemini API, which turned Veo off): `ministudio
    validate` exits 2 and says to route to gemini-omni."""
    import subprocess
    import sys

    import yaml

    film = _film(tmp_path, "veo", [{"id": "s1", "action": "Ann waves", "duration": 4}])
    path = tmp_path / "film.yaml"
    path.write_text(yaml.safe_dump(film.model_dump(mode="json")), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ministudio", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "veo-3.1-generate-preview" in said and "retired on 2026-10-22" in said
    assert "route to engine 'gemini-omni', model 'gemini-omni-1.1-flash'" in said


# -- extension of Veo clips (veo-vertex) ------------------------------------------------------
def _continuing(tmp_path: Path, **routing: Any) -> Production:
    """s1, then s2 continuing it with Veo's own sound (so the extension's audio is cut too)."""
    return _film(
        tmp_path,
        "veo-vertex",
        [
            {"id": "s1", "action": "Ann waves", "duration": 4},
            {
                "id": "s2",
                "action": "Ann walks on",
                "duration": 4,
                "continuity": "continue",
                "audio": "native",
                "dialogue": [{"speaker": "ann", "text": "On we go."}],
            },
        ],
        **routing,
    )


def _raw_clips(tmp_path: Path) -> dict[int, Path]:
    """The clips as the engine answered them (the content store), by frame count."""
    from ministudio.media.probe import probe

    infos = [probe(p) for p in (tmp_path / "store").rglob("*.mp4")]
    return {i.frames: i.path for i in infos if i.width < 1280}  # not the film's fitted ones


def _luma(path: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="gray").astype(float) for f in container.decode(video=0)]
    return frames[index]


@pytest.mark.parametrize("answer", ["combined", "extension"])
def test_a_continue_shot_extends_the_previous_veo_clip(tmp_path: Path, answer: str) -> None:
    """s2 sends s1's clip as the video to extend (no first frame, no length: Veo adds 7 s).
    Whether Vertex answers the source and the extension in one clip (Google's "up to 37
    seconds total") or the extension alone, the clip kept is the new 7 s: its first frame is
    s1's last, its sound as long as its picture; billed 7 s with sound."""
    from ministudio.media.probe import probe

    film = _continuing(tmp_path)
    with GoogleServer(
        access_token=VERTEX_TOKEN, latency=0.2, render_scale=0.05, veo_extension=answer
    ) as server:
        manifest = _render(film, tmp_path, vertex_env(server))
        first, second = (server.operations[s.engine_job_id or ""] for s in manifest.shots)
        billed = server.billed_seconds
    assert second.extends == first.name and "bytesBase64Encoded" in second.instance["video"]
    assert "image" not in second.instance and "durationSeconds" not in second.parameters
    assert second.duration == (4 + 7 if answer == "combined" else 7)
    assert billed == 4 + 7
    assert manifest.shots[1].conditioning[0] == f"continues veo-vertex job {first.name}"
    assert manifest.shots[1].cost == pytest.approx(7 * 0.40)  # 3.1 with sound, 7 s
    (seam,) = [v for v in manifest.shots[1].qc if v.check == "seam"]
    assert seam.passed, seam.reason
    raw = _raw_clips(tmp_path)
    assert sorted(raw) == [4 * 24, 7 * 24]  # s1, and the new part only
    kept = probe(raw[7 * 24])
    assert kept.has_audio and abs(kept.duration - 7.0) < 0.1
    source_end, new_start = _luma(raw[4 * 24], -1), _luma(raw[7 * 24], 0)
    assert float(np.abs(source_end - new_start).mean()) < 2.0


def test_a_gone_source_falls_back_to_the_last_frame(tmp_path: Path) -> None:
    """s1's clip is in Cloud Storage and gone by the time s2 is sent (deleted, or another
    project's): s2 starts from s1's last frame, as a 4 s clip priced as such."""
    film = _continuing(tmp_path, options={"veo-vertex": {"output_gcs_uri": "gs://fake/clips/"}})
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2, render_scale=0.05) as server:
        serve = server.gcs_download

        def once(h: Any, path: str, query: str) -> None:
            serve(h, path, query)
            with server._lock:
                server._objects.clear()  # each object is fetched once, then deleted

        server.gcs_download = once  # type: ignore[method-assign]
        manifest = _render(film, tmp_path, vertex_env(server))
        _, second = (server.operations[s.engine_job_id or ""] for s in manifest.shots)
    assert "video" not in second.instance and "bytesBase64Encoded" in second.instance["image"]
    assert second.extends is None and second.parameters["durationSeconds"] == 4
    assert manifest.shots[1].cost == pytest.approx(4 * 0.40)


def test_a_refused_extension_starts_from_the_last_frame(tmp_path: Path) -> None:
    """Vertex answers 400 to the extension (a rule the docs do not state, say): a refused
    create is not billed, so s2 is sent again from s1's last frame, once."""
    from .fakes.google_server import bad

    film = _continuing(tmp_path)
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2, render_scale=0.05) as server:

        def refuse(video: Any, vertex: bool, route: Any) -> str | None:
            raise bad("Video extension is not supported for this request.")

        server._check_video = refuse  # type: ignore[method-assign]
        manifest = _render(film, tmp_path, vertex_env(server))
        _, second = (server.operations[s.engine_job_id or ""] for s in manifest.shots)
        submissions = server.submissions
    assert "video" not in second.instance and "image" in second.instance
    assert submissions == 2 and manifest.shots[1].state == "done"
    assert manifest.shots[1].cost == pytest.approx(4 * 0.40)


def test_extend_false_starts_from_the_last_frame(tmp_path: Path) -> None:
    film = _continuing(tmp_path, options={"veo-vertex": {"extend": False}})
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2, render_scale=0.05) as server:
        manifest = _render(film, tmp_path, vertex_env(server))
        _, second = (server.operations[s.engine_job_id or ""] for s in manifest.shots)
    assert "video" not in second.instance and "image" in second.instance
    assert manifest.shots[1].cost == pytest.approx(4 * 0.40)


def test_a_failed_cut_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The download of an extension whose cut fails half-way (a kill, a full disk) leaves
    neither the clip nor a part file; downloading again then succeeds."""
    import anyio
    from ministudio.engines import EngineContext
    from ministudio.jobs import JobStatus
    from ministudio_veo import _api

    requests = []
    submit = _api.submit

    async def recording(engine: str, request: Any, context: Any) -> Any:
        requests.append(request)
        return await submit(engine, request, context)

    monkeypatch.setattr(_api, "submit", recording)
    film = _continuing(tmp_path)
    with GoogleServer(access_token=VERTEX_TOKEN, latency=0.2, render_scale=0.05) as server:
        env = vertex_env(server)
        manifest = _render(film, tmp_path, env)
        request = next(r for r in requests if r.previous is not None)
        job = manifest.shots[1].engine_job_id or ""
        context = EngineContext(engine="veo-vertex", work_dir=tmp_path / "work", env=env)
        done = JobStatus(job_id=job, state="succeeded")
        output = tmp_path / "again" / "s2.mp4"
        cut = _api._cut_head

        def broken(src: Path, dst: Path, skip: int) -> None:
            dst.write_bytes(b"half a clip")
            raise KeyboardInterrupt

        monkeypatch.setattr(_api, "_cut_head", broken)
        with pytest.raises(KeyboardInterrupt):
            anyio.run(_api.download, "veo-vertex", job, done, output, context, request)
        assert list(output.parent.iterdir()) == []
        monkeypatch.setattr(_api, "_cut_head", cut)
        result = anyio.run(_api.download, "veo-vertex", job, done, output, context, request)
    assert result.path == output and [p.name for p in output.parent.iterdir()] == ["s2.mp4"]
    assert result.cost == pytest.approx(7 * 0.40)
