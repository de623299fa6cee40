"""The luma-dream-machine engine (ministudio-provider-luma, Luma's legacy Dream Machine API)
against the loopback fake Dream Machine API (tests/fakes/luma_server.py), through the official
lumaai SDK: the conformance kit, plus a film whose shots are split between luma-dream-machine
and animatic by routing alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import ministudio_luma
import pytest
from ministudio.engines import EngineContext
from ministudio.errors import EngineError, EngineRefusal, MissingKeyError, TransientError
from ministudio.jobs import JobStatus, VideoRequest
from ministudio.run.manifest import Manifest
from ministudio.safety.images import reencoded
from ministudio.spec import Production
from ministudio.testing import VideoEngineConformance
from ministudio.testing._kit import solid_png
from ministudio_luma import _dream_machine

from .fakes.kit import KitFaults
from .fakes.luma_server import LumaServer
from .requests import kite_request

KEY = "luma-conformance-SECRET-4b1e"


class LumaFaults(KitFaults):
    """The kit's faults on the Luma fake, which counts status requests by their path."""

    @property
    def status_requests(self) -> int:
        prefix = "/dream-machine/v1/generations/"
        return sum(
            1
            for method, path in list(self.server.requests)
            if method == "GET" and path.startswith(prefix) and "/" not in path[len(prefix) :]
        )


def _env(server: LumaServer, assets: Path) -> dict[str, str]:
    return {
        "LUMAAI_BASE_URL": server.api_url,
        "LUMAAI_API_KEY": server.api_key,
        "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",  # recorded by the fake, not fetched
        "LUMA_ASSET_DIR": str(assets),
    }


class TestLumaConformance(VideoEngineConformance):
    engine_id = "luma-dream-machine"
    sdk_modules = ("lumaai",)
    refused_action = "Ann does something forbidden"  # the fake's moderation blocks it

    def plugin(self) -> object:
        return ministudio_luma

    @pytest.fixture(autouse=True)
    def server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[LumaServer]:
        monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")  # read by ministudio_engines
        with LumaServer(api_key=KEY, latency=(0.1, 0.2), fault_retry_after=0.05) as server:
            yield server

    @pytest.fixture
    def engine_env(self, server: LumaServer, tmp_path: Path) -> dict[str, str]:
        return _env(server, tmp_path / "assets")

    @pytest.fixture
    def engine_faults(self, server: LumaServer) -> LumaFaults:
        return LumaFaults(server)


# -- hook by hook ---------------------------------------------------------------------------
def _request(**changes: Any) -> VideoRequest:
    return kite_request(**changes)


def _context(env: dict[str, str], tmp_path: Path) -> EngineContext:
    async def upload(path: Path) -> str:
        return _dream_machine._publish(path, context)

    context = EngineContext(
        engine="luma-dream-machine", work_dir=tmp_path, env=env, uploader=upload
    )
    return context


def test_submit_sends_luma_fields_and_a_first_frame_url(tmp_path: Path) -> None:
    frame = tmp_path / "frame.png"
    solid_png(frame, (10, 20, 30))
    with LumaServer(latency=0.05) as server:
        context = _context(_env(server, tmp_path / "assets"), tmp_path)
        submission = anyio.run(
            _dream_machine._submit, _request(first_frame=frame, duration=9.0), context
        )
        job = server.jobs[submission.job_id]
        assert job.request["resolution"] == "720p" and job.request["duration"] == "9s"
        assert job.request["concepts"] == [{"key": "pull_out"}]
        url = job.keyframes["frame0"]["url"]
        assert url.startswith("http://127.0.0.1:9/assets/")
        assert (tmp_path / "assets" / url.rsplit("/", 1)[1]).read_bytes() == reencoded(frame)


def test_submit_errors_map_to_the_core_types(tmp_path: Path) -> None:
    with LumaServer(latency=0.05) as server:
        env = _env(server, tmp_path / "assets")
        context = _context(env, tmp_path)
        server.fail_next("create", "429")
        with pytest.raises(TransientError) as info:
            anyio.run(_dream_machine._submit, _request(), context)
        assert info.value.retry_after == pytest.approx(0.1)
        server.fail_next("create", "500")
        with pytest.raises(TransientError):
            anyio.run(_dream_machine._submit, _request(), context)
        with pytest.raises(EngineRefusal, match="too short"):
            anyio.run(_dream_machine._submit, _request(prompt="ab"), context)
        bad = _context({**env, "LUMAAI_API_KEY": "wrong"}, tmp_path)
        with pytest.raises(MissingKeyError, match="LUMAAI_API_KEY") as denied:
            anyio.run(_dream_machine._submit, _request(), bad)
        assert "wrong" not in str(denied.value)
        from ministudio.errors import AmbiguousSubmission

        server.fail_next("create", "drop_after_accept")
        with pytest.raises(AmbiguousSubmission):
            anyio.run(_dream_machine._submit, _request(), context)
        assert server.submissions == 1


def test_a_missing_asset_host_is_named(tmp_path: Path) -> None:
    context = EngineContext(engine="luma-dream-machine", work_dir=tmp_path, env={})
    with pytest.raises(EngineError, match=r"LUMA_ASSET_BASE_URL.*LUMA_ASSET_DIR"):
        ministudio_luma.upload_asset(engine="luma-dream-machine", path=tmp_path, context=context)


def test_a_callback_is_only_a_hint() -> None:
    """Dream Machine callbacks are unsigned: one saying a generation ended comes back thin
    (the core asks Luma by id before downloading), without the pushed URL; progress is
    progress."""
    env: dict[str, str] = {}

    def parse(engine: str, body: bytes) -> JobStatus | None:
        return ministudio_luma.parse_webhook(engine=engine, body=body, headers={}, env=env)

    done = b'{"id": "g1", "state": "completed", "assets": {"video": "https://evil/x.mp4"}}'
    status = parse("luma-dream-machine", done)
    assert status is not None and status.thin and status.job_id == "g1"
    assert status.state == "running" and status.video_url is None
    failed = b'{"id": "g1", "state": "failed", "failure_reason": "Frame moderation failed"}'
    status = parse("luma-dream-machine", failed)
    assert status is not None and status.thin and not status.refused
    dreaming = b'{"id": "g1", "state": "dreaming"}'
    status = parse("luma-dream-machine", dreaming)
    assert status is not None and status.state == "running" and not status.thin
    assert parse("luma-dream-machine", b"nope") is None
    assert parse("luma", done) is None  # the Agents API sends no callbacks
    assert parse("sim", done) is None


# -- routing --------------------------------------------------------------------------------
def test_a_film_split_between_luma_and_animatic_by_routing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed plugin is discovered through its entry point; routing alone decides."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    host = PluginHost(env={})
    assert "luma-dream-machine" in host.engines and "animatic" in host.engines
    film = Production.model_validate(
        {
            "title": "Split",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 5},
                        {"id": "s2", "action": "Ann walks", "characters": ["ann"], "duration": 5},
                    ],
                }
            ],
            "routing": {"video": "animatic", "shots": {"s2": "luma-dream-machine"}},
        }
    )
    with LumaServer(latency=(0.1, 0.2)) as server:
        manifest = render(
            film,
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            env=_env(server, tmp_path / "assets"),
        )
        assert server.submissions == 1
    engines = {shot.id: shot.engine for shot in manifest.shots}
    assert engines == {"s1": "animatic", "s2": "luma-dream-machine"}
    assert all(shot.state == "done" for shot in manifest.shots)
    assert (tmp_path / "out" / "film.mp4").exists()


def test_a_showcase_film_renders_with_two_shots_on_luma_dream_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/quantum-mechanics.yaml (9:16, 720p): "question" and "finale" routed to
    luma-dream-machine."""
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore
    from ministudio.spec.loading import load_production

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")  # read when the engine is declared
    root = Path(__file__).resolve().parents[1]
    film = load_production(root / "examples" / "quantum-mechanics.yaml")
    assert film.format.aspect_ratio == "9:16" and film.format.resolution == "720p"
    routed = {"question": "luma-dream-machine", "finale": "luma-dream-machine"}
    film = film.model_copy(
        update={
            "routing": film.routing.model_copy(update={"shots": {**film.routing.shots, **routed}})
        }
    )
    host = PluginHost(env={})
    assert "luma-dream-machine" in host.engines
    with LumaServer(latency=(0.2, 0.1), render_scale=0.05) as server:
        manifest = render(
            film,
            tmp_path / "out",
            host=host,
            store=ContentStore(tmp_path / "store"),
            env=_env(server, tmp_path / "assets"),
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        videos = [job for job in server.jobs.values() if job.generation_type == "video"]
        assert server.submissions == 2 and len(videos) == 2
        assert {job.request["aspect_ratio"] for job in videos} == {"9:16"}
        assert {job.request["resolution"] for job in videos} == {"720p"}
    engines = {shot.id: shot.engine for shot in manifest.shots}
    assert {k for k, v in engines.items() if v == "luma-dream-machine"} == set(routed)
    assert all(v == "animatic" for k, v in engines.items() if k not in routed)
    assert len(engines) == 7
    assert all(shot.state == "done" for shot in manifest.shots)
    assert (tmp_path / "out" / "film.mp4").exists()


def _ann_twice(reference: Path, title: str, *, fps: int) -> Production:
    """Two shots of Ann on Luma, her reference image given (so she gets a Photon image)."""
    shots = [
        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 5},
        {"id": "s2", "action": "Ann walks", "characters": ["ann"], "duration": 5},
    ]
    return Production.model_validate(
        {
            "title": title,
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": fps},
            "characters": {
                "ann": {"name": "Ann", "dna": "a woman, red coat", "reference_images": [reference]}
            },
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [{"id": "one", "environment": "park", "shots": shots}],
            "routing": {"video": "luma-dream-machine"},
        }
    )


def test_character_references_become_one_shared_photon_keyframe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two shots of Ann (a reference image, no first frame): one Photon image, as frame0 of
    both, and of an edited shot in a later render."""
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    reference = tmp_path / "ann.png"
    solid_png(reference, (200, 30, 30))
    film = _ann_twice(reference, "Ann twice", fps=24)
    with LumaServer(latency=(0.2, 0.1), render_scale=0.05) as server:
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=_env(server, tmp_path / "assets"),
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        images = [job for job in server.jobs.values() if job.generation_type == "image"]
        videos = [job for job in server.jobs.values() if job.generation_type == "video"]
        assert len(images) == 1 and len(videos) == 2
        image = images[0]
        assert image.model == "photon-1" and image.request["aspect_ratio"] == "16:9"
        assert image.prompt is not None and image.prompt.startswith("@character")
        assert "a park" in image.prompt
        (ref_url,) = image.request["character_ref"]["identity0"]["images"]
        assert ref_url.startswith("http://127.0.0.1:9/assets/")
        assert (tmp_path / "assets" / ref_url.rsplit("/", 1)[1]).read_bytes() == (
            reencoded(reference)
        )
        frames = {job.keyframes["frame0"]["url"] for job in videos}
        assert len(frames) == 1
        (frame0,) = frames
        assert frame0.endswith(f"/cdn/{image.id}.{image.fmt}")
        # Another render sharing the store (an edited shot, a new output folder, a fresh
        # host: as from a new process) reuses the image the journal kept.
        edited = film.model_dump()
        edited["scenes"][0]["shots"][1]["action"] = "Ann runs"
        render(
            Production.model_validate(edited),
            tmp_path / "again",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=_env(server, tmp_path / "assets"),
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        again = [job for job in server.jobs.values() if job.generation_type == "image"]
        assert len(again) == 1, "the Photon image was made again"
        newest = max(server.jobs.values(), key=lambda job: job.submitted_at)
        assert newest.keyframes["frame0"]["url"] == frame0
    assert [shot.engine for shot in manifest.shots] == ["luma-dream-machine", "luma-dream-machine"]
    assert all(shot.state == "done" for shot in manifest.shots)
    assert (tmp_path / "out" / "film.mp4").exists()


def test_identity_false_and_a_first_frame_skip_photon(tmp_path: Path) -> None:
    from ministudio.jobs import CharacterBrief

    reference = tmp_path / "ann.png"
    solid_png(reference, (200, 30, 30))
    ann = CharacterBrief(id="ann", name="Ann", dna="a woman", reference_images=(reference,))
    frame = tmp_path / "frame.png"
    solid_png(frame, (10, 20, 30))
    with LumaServer(latency=0.05) as server:
        context = _context(_env(server, tmp_path / "assets"), tmp_path)
        base = _request()
        shot = base.shot.model_copy(update={"characters": (ann,)})
        for changes in ({"options": {"identity": False}}, {"first_frame": frame}):
            request = base.model_copy(update={"shot": shot, **changes})
            anyio.run(_dream_machine._submit, request, context)
        assert all(job.generation_type == "video" for job in server.jobs.values())
        assert server.submissions == 2


# -- continuity: extending the previous generation, end frames, loops ----------------------
def _chain(
    tmp_path: Path, *, second: str = "Ann walks", options: dict[str, object] | None = None
) -> Production:
    """s1 ends on an image; s2 continues s1; s3 continues s2 and loops; all on
    luma-dream-machine."""
    end = tmp_path / "end.png"
    solid_png(end, (1, 2, 3))
    return Production.model_validate(
        {
            "title": "Chain",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": "s1", "action": "Ann waves", "duration": 5, "end_frame": end},
                        {"id": "s2", "action": second, "duration": 5, "continuity": "continue"},
                        {
                            "id": "s3",
                            "action": "Ann sits",
                            "duration": 5,
                            "continuity": "continue",
                            "loop": True,
                        },
                    ],
                }
            ],
            "routing": {
                "video": "luma-dream-machine",
                "options": {"luma-dream-machine": options or {}},
            },
        }
    )


def _render_chain(film: Production, server: LumaServer, tmp_path: Path) -> Manifest:
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore

    return render(
        film,
        tmp_path / "out",
        host=PluginHost(env={}),
        store=ContentStore(tmp_path / "store"),
        env=_env(server, tmp_path / "assets"),
        options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
    )


def test_continue_shots_extend_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s2 and s3 start from the previous Luma generation; s1 ends on its end frame; s3 loops."""
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    with LumaServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        manifest = _render_chain(_chain(tmp_path), server, tmp_path)
        jobs = {shot.id: server.jobs[shot.engine_job_id or ""] for shot in manifest.shots}
    assert server.submissions == 3
    s1, s2, s3 = (manifest.shots[i] for i in range(3))
    assert jobs["s1"].keyframes["frame1"]["type"] == "image"
    end_url = jobs["s1"].keyframes["frame1"]["url"]
    assert (tmp_path / "assets" / end_url.rsplit("/", 1)[1]).read_bytes() == reencoded(
        tmp_path / "end.png"
    )
    assert not jobs["s1"].request.get("loop")
    assert jobs["s2"].keyframes == {"frame0": {"type": "generation", "id": s1.engine_job_id}}
    assert jobs["s3"].keyframes == {"frame0": {"type": "generation", "id": s2.engine_job_id}}
    assert jobs["s3"].request["loop"] is True
    assert s1.conditioning == ["end frame"]
    assert s2.conditioning == [
        f"continues luma-dream-machine job {s1.engine_job_id}",
        "first frame",
    ]
    assert "loop" in s3.conditioning
    assert all(shot.state == "done" and not shot.ignored for shot in manifest.shots)


def test_extend_false_starts_from_the_last_frame_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    with LumaServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        manifest = _render_chain(_chain(tmp_path, options={"extend": False}), server, tmp_path)
        s2 = server.jobs[manifest.shots[1].engine_job_id or ""]
    assert s2.keyframes["frame0"]["type"] == "image"
    assert s2.keyframes["frame0"]["url"].startswith("http://127.0.0.1:9/assets/")


def test_a_deleted_generation_falls_back_to_the_last_frame_without_paying_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edit s2 after s1's generation was deleted: s1 comes from the store, and s2 (which
    would extend it) is refused by Luma, then sent again from s1's last frame: one new job."""
    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    with LumaServer(latency=(0.1, 0.1), render_scale=0.05) as server:
        first = _render_chain(_chain(tmp_path), server, tmp_path)
        del server.jobs[first.shots[0].engine_job_id or ""]
        before = server.submissions
        again = _render_chain(_chain(tmp_path, second="Ann runs"), server, tmp_path)
        s2 = server.jobs[again.shots[1].engine_job_id or ""]
        assert server.submissions - before == 2  # s2 edited, s3 continues it
    assert again.shots[0].cached and again.shots[0].engine_job_id == first.shots[0].engine_job_id
    assert s2.keyframes["frame0"]["type"] == "image"
    assert all(shot.state in ("done", "cached") for shot in again.shots)


def test_engines_without_end_frames_or_loops_say_what_they_ignored(tmp_path: Path) -> None:
    """The animatic takes first frames but neither end frames nor loops: plan and manifest
    say so."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import plan, render
    from ministudio.run.store import ContentStore

    film = _chain(tmp_path)
    film = film.model_copy(
        update={"routing": film.routing.model_copy(update={"video": "animatic"})}
    )
    manifest = render(
        film, tmp_path / "out", host=PluginHost(env={}), store=ContentStore(tmp_path / "store")
    )
    s1, s2, s3 = manifest.shots
    assert s1.ignored == ["animatic takes no end frame"] and s1.conditioning == []
    planned = plan(
        film, tmp_path / "out", host=PluginHost(env={}), store=ContentStore(tmp_path / "store")
    )
    assert [shot.ignored for shot in planned.shots] == [
        ("animatic takes no end frame",),
        (),
        ("animatic cannot loop a clip",),
    ]
    assert s2.ignored == [] and s2.conditioning == ["first frame"]
    assert s3.ignored == ["animatic cannot loop a clip"]


def test_a_rejected_key_then_the_right_one_just_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong key fails the render; with the right key the next render submits normally
    (the refused submit made no job, so nothing is 'lost': no --forget-lost needed)."""
    from ministudio.plugins import PluginHost
    from ministudio.run.render import RenderError, render
    from ministudio.run.store import ContentStore

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    film = _chain(tmp_path)
    with LumaServer(api_key=KEY, latency=(0.1, 0.1), render_scale=0.05) as server:
        env = {**_env(server, tmp_path / "assets"), "LUMAAI_API_KEY": "wrong-key-0000"}
        host = PluginHost(env={})
        with pytest.raises(RenderError, match="LUMAAI_API_KEY"):
            render(
                film, tmp_path / "out", host=host, store=ContentStore(tmp_path / "store"), env=env
            )
        manifest = _render_chain(film, server, tmp_path)
        assert server.submissions == 3
    assert all(shot.state == "done" for shot in manifest.shots)


# -- lost answers: found by listing ---------------------------------------------------------
def _find(request: VideoRequest, since: float, context: EngineContext) -> str | None:
    async def find() -> str | None:
        answer = ministudio_luma.find_video_job(
            engine="luma-dream-machine", context=context, request=request, since=since
        )
        assert answer is not None
        return await answer

    return anyio.run(find)


def test_a_lost_submit_is_found_among_the_listed_generations(tmp_path: Path) -> None:
    """The answer is lost; newer generations (other requests) push it to a later page."""
    import time

    from ministudio.errors import AmbiguousSubmission

    with LumaServer(latency=0.05, list_limit=2) as server:
        context = _context(_env(server, tmp_path / "assets"), tmp_path)
        since = time.time()
        server.fail_next("create", "drop_after_accept")
        with pytest.raises(AmbiguousSubmission):
            anyio.run(_dream_machine._submit, _request(), context)
        (lost,) = server.jobs
        for prompt in ("a blue kite over a lake", "a green kite", "a yellow kite"):
            anyio.run(_dream_machine._submit, _request(prompt=prompt), context)
        assert _find(_request(), since, context) == lost
        lists = [
            path
            for method, path in server.requests
            if path.startswith("/dream-machine/v1/generations?")
        ]
        assert len(lists) == 2  # paged: the lost one is the 4th newest, 2 a page


def test_no_match_in_the_window_is_none(tmp_path: Path) -> None:
    """Nothing with this request (other prompts, other durations), or the same request made
    long before the lost one: no job, so the core may send it."""
    import time

    with LumaServer(latency=0.05) as server:
        context = _context(_env(server, tmp_path / "assets"), tmp_path)
        since = time.time()
        anyio.run(_dream_machine._submit, _request(prompt="another kite"), context)
        anyio.run(_dream_machine._submit, _request(duration=9.0), context)
        assert _find(_request(), since, context) is None
        anyio.run(_dream_machine._submit, _request(), context)
        assert _find(_request(), since + 3600, context) is None  # made an hour earlier


def test_two_matches_stay_ambiguous(tmp_path: Path) -> None:
    import time

    from ministudio.errors import AmbiguousSubmission

    with LumaServer(latency=0.05) as server:
        context = _context(_env(server, tmp_path / "assets"), tmp_path)
        since = time.time()
        for _ in range(2):
            anyio.run(_dream_machine._submit, _request(), context)
        with pytest.raises(AmbiguousSubmission, match="2 generations match"):
            _find(_request(), since, context)


def test_lost_answers_in_a_render_are_found_not_paid_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The identity image's answer and a clip's answer are both lost: each is found by
    listing, so the film has one image and one job per shot, with no --forget-lost."""
    from ministudio.plugins import PluginHost
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderOptions, render
    from ministudio.run.store import ContentStore
    from PIL import Image

    monkeypatch.setenv("LUMA_EXPECTED_LATENCY", "0.2")
    reference = tmp_path / "ann.png"
    Image.new("RGB", (32, 32), (180, 30, 30)).save(reference)
    film = _ann_twice(reference, "Lost", fps=12)
    with LumaServer(latency=(0.2, 0.1), render_scale=0.05) as server:
        server.fail_next("image", "drop_after_accept")
        server.fail_next("create", "drop_after_accept")
        manifest = render(
            film,
            tmp_path / "out",
            host=PluginHost(env={}),
            store=ContentStore(tmp_path / "store"),
            env=_env(server, tmp_path / "assets"),
            options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2)),
        )
        kinds = [job.generation_type for job in server.jobs.values()]
    assert kinds.count("image") == 1 and kinds.count("video") == 2
    assert all(shot.state == "done" and shot.engine_job_id for shot in manifest.shots)
