"""The ``gemini-omni`` engine (ministudio-provider-veo) against the loopback fake of Google's
Interactions API (tests/fakes/google_server.py): the conformance kit, how frames and
references are tagged, resolutions and their prices, the edit retake rung, a refusal, and
signed webhooks (dynamic JWTs either way, static HMAC) beside unsigned, forged and stale ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import ministudio_veo
import pytest
from ministudio.plugins import PluginHost
from ministudio.remote.pacing import RetryPolicy
from ministudio.run.manifest import Manifest
from ministudio.run.render import RenderOptions, render
from ministudio.run.store import ContentStore
from ministudio.spec import Production
from ministudio.testing import VideoEngineConformance
from ministudio_veo._catalog import OMNI_PRICES

from .fakes.google_server import GoogleServer
from .fakes.kit import KitFaults

KEY = "omni-conformance-SECRET-7a3f"


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_EXPECTED_LATENCY", "0.3")  # read when the engines are declared


def omni_env(server: GoogleServer, **more: str) -> dict[str, str]:
    return {
        "GEMINI_BASE_URL": server.base_url,
        "GEMINI_API_KEY": KEY,
        "GEMINI_WEBHOOK_JWKS_URL": server.jwks_url,
        **more,
    }


class TestOmniConformance(VideoEngineConformance):
    engine_id = "gemini-omni"
    sdk_modules = ("google.genai", "google.auth", "httpx", "jwt", "standardwebhooks")
    engine_limits: ClassVar[Mapping[str, Any]] = {"requests_per_minute": 600}
    refused_action = "Ann does something forbidden"  # the fake's safety filter

    def plugin(self) -> object:
        return ministudio_veo

    @pytest.fixture(autouse=True)
    def server(self) -> Iterator[GoogleServer]:
        with GoogleServer(
            api_key=KEY, latency=(0.2, 0.2), fault_retry_after=0.05, render_scale=0.05
        ) as s:
            yield s

    @pytest.fixture
    def engine_env(self, server: GoogleServer) -> dict[str, str]:
        return omni_env(server)

    @pytest.fixture
    def engine_faults(self, server: GoogleServer) -> KitFaults:
        return KitFaults(server)


# -- films ----------------------------------------------------------------------------------
def _picture(path: Path, colour: tuple[int, int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 64), colour).save(path)
    return path


def _film(
    tmp_path: Path,
    shots: list[dict[str, Any]],
    *,
    resolution: str = "360p",  # drafts: the core's own work on the clips stays small
    aspect: str = "16:9",
    **extra: Any,
) -> Production:
    ann = _picture(tmp_path / "ann.png", (200, 30, 30))
    return Production.model_validate(
        {
            "title": "Omni",
            "format": {"aspect_ratio": aspect, "resolution": resolution, "fps": 24},
            "characters": {
                "ann": {"name": "Ann", "dna": "a woman, red coat", "reference_images": [ann]}
            },
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [{"id": "one", "environment": "park", "shots": shots}],
            "routing": {"video": "gemini-omni"},
            **extra,
        }
    )


def _render(film: Production, tmp_path: Path, env: dict[str, str], **options: Any) -> Manifest:
    return render(
        film,
        tmp_path / "out",
        host=PluginHost(env={}),
        store=ContentStore(tmp_path / "store"),
        env=env,
        options=RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2), **options),
    )


def _price(resolution: str) -> float:
    return OMNI_PRICES[resolution]


def test_frames_and_references_are_sent_with_their_tags(tmp_path: Path) -> None:
    """s1: Ann's reference image as <IMAGE_REF_0>; s2 continues s1 towards an end frame: the
    first frame, the last frame and the reference, in that order, each tagged. No task field
    (Google advises prompting instead)."""
    end = _picture(tmp_path / "end.png", (30, 30, 200))
    shots = [
        {"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 4},
        {
            "id": "s2",
            "action": "Ann walks away",
            "characters": ["ann"],
            "duration": 5,
            "continuity": "continue",
            "end_frame": str(end),
        },
    ]
    with GoogleServer(api_key=KEY, latency=0.2, render_scale=0.05) as server:
        manifest = _render(_film(tmp_path, shots), tmp_path, omni_env(server))
        first, second = (server.interactions[s.engine_job_id or ""] for s in manifest.shots)
    assert first.prompt.startswith("[# References <IMAGE_REF_0>@Image1]")
    assert "<IMAGE_REF_0> shows Ann" in first.prompt and len(first.images) == 1
    assert second.prompt.startswith(
        "[# Sources <FIRST_FRAME>@Image1 <LAST_FRAME>@Image2] [# References <IMAGE_REF_0>@Image3]"
    )
    assert [mime for mime, _ in second.images] == ["image/png"] * 3
    assert first.task is None and second.task is None
    assert (first.duration, second.duration) == (4, 5)
    assert manifest.shots[1].conditioning == ["first frame", "end frame", "1 reference image"]
    assert manifest.shots[0].cost == pytest.approx(4 * _price("360p"))


def test_draft_and_4k_films_map_and_are_priced(tmp_path: Path) -> None:
    """A 360p 9:16 draft renders as Omni's 360p in 9:16; a 2160p film is asked for as "4k"
    (its hooks run directly: assembling a 4k film is the core's cost, not this engine's).
    Plan and manifest price the seconds at the resolution."""
    import anyio
    from ministudio.engines import EngineContext
    from ministudio.run.render import plan

    shots = [{"id": "s1", "action": "Leaves fall", "duration": 3}]
    draft = _film(tmp_path, shots, resolution="360p", aspect="9:16")
    uhd = _film(tmp_path, shots, resolution="2160p")
    with GoogleServer(api_key=KEY, latency=0.2, render_scale=0.02) as server:
        store = ContentStore(tmp_path / "plan")
        priced = [
            plan(film, tmp_path / "out", host=PluginHost(env={}), store=store).cost
            for film in (draft, uhd)
        ]
        assert server.submissions == 0
        manifest = _render(draft, tmp_path, omni_env(server))
        context = EngineContext("gemini-omni", tmp_path / "work", env=omni_env(server))
        request = _request(3840, 2160, 3.0)
        job = anyio.run(ministudio_veo.submit_video, "gemini-omni", request, "k", context)
        server.wait_idle(10)
        status = anyio.run(ministudio_veo.poll_video, "gemini-omni", job.job_id, context)
        out = tmp_path / "uhd.mp4"
        result = anyio.run(
            ministudio_veo.download_video, "gemini-omni", job.job_id, status, out, context, request
        )
        small, big = sorted(server.interactions.values(), key=lambda ix: ix.submitted_at)
    assert (small.resolution, small.aspect_ratio, small.duration) == ("360p", "9:16", 3)
    assert (big.resolution, big.aspect_ratio, big.duration) == ("4k", "16:9", 3)
    assert priced == pytest.approx([3 * _price("360p"), 3 * _price("2160p")])
    assert manifest.cost == pytest.approx(3 * _price("360p"))
    assert result.cost == pytest.approx(3 * _price("2160p")) and out.stat().st_size > 0
    assert not list((tmp_path / "work").glob("*.part"))


def _request(width: int, height: int, seconds: float) -> Any:
    """A bare request, as the core would build it for a shot with no images."""
    from ministudio.jobs import EnvironmentBrief, ShotPrompt, VideoRequest

    shot = ShotPrompt(
        shot_id="s1",
        scene_id="one",
        index=0,
        action="Leaves fall",
        shot_size="wide",
        camera_move="static",
        environment=EnvironmentBrief(id="park", description="a park"),
    )
    return VideoRequest(
        shot=shot,
        prompt="Leaves fall in a park.",
        duration=seconds,
        aspect_ratio="16:9",
        width=width,
        height=height,
        fps=24,
        seed=1,
    )


def test_the_edit_rung_asks_omni_to_fix_its_own_take(tmp_path: Path) -> None:
    """The judge finds Ann's coat wrong: the retake is one edit of the first interaction
    (previous_interaction_id, the judge's reason as the instruction, the response format sent
    again), not a clip from nothing, and it is billed as one more clip."""
    why = "Ann's coat is blue; it must be red"
    film = _film(
        tmp_path,
        [{"id": "s1", "action": "Ann waves", "characters": ["ann"], "duration": 4}],
        qc={"judge": "gemini-judge", "retakes": 1, "ladder": ["edit"]},
    )
    with GoogleServer(api_key=KEY, latency=0.2, render_scale=0.05) as server:
        server.judge_failures["ann"] = why
        manifest = _render(film, tmp_path, omni_env(server))
        first, edit = sorted(server.interactions.values(), key=lambda ix: ix.submitted_at)
    (shot,) = manifest.shots
    assert [t.rung for t in shot.takes] == ["first", "edit"]
    assert edit.previous_interaction_id == first.id == shot.takes[0].engine_job_id
    assert why in edit.prompt and not edit.images  # an instruction, no images sent again
    assert edit.response_format == first.response_format
    assert server.submissions == 2
    assert server.billed_usd == pytest.approx(2 * 4 * _price("360p"), rel=1e-3)
    assert shot.takes[1].cost >= 4 * _price("360p")


def test_a_completed_interaction_without_a_video_is_a_refusal(tmp_path: Path) -> None:
    """How Omni shows a block is undocumented: a completed interaction with no video is taken
    as refused (not sent again), with what Omni said."""
    from ministudio.run.render import RenderError

    film = _film(tmp_path, [{"id": "s1", "action": "Ann does something forbidden"}])
    with (
        GoogleServer(api_key=KEY, latency=0.2, omni_blocked="empty") as server,
        pytest.raises(RenderError) as info,
    ):
        _render(film, tmp_path, omni_env(server))
    assert "refused" in str(info.value) and "without a video" in str(info.value)
    assert server.submissions == 1


# -- webhooks -------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _bad_pushes(server: GoogleServer, job: str, static: bool) -> list[tuple[bytes, dict[str, str]]]:
    """An unsigned push, a forged one, and a stale replay, all naming ``job`` as completed."""
    import base64
    import hashlib
    import hmac
    import json
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    event = {"type": "interaction.completed", "version": "v1", "data": {"id": job}}
    body = json.dumps(event).encode()
    now = int(time.time())
    unsigned = (body, {"content-type": "application/json"})
    if static:

        def signed(secret: str, ts: int) -> dict[str, str]:
            key = base64.b64decode(secret.removeprefix("whsec_"))
            mac = hmac.new(key, f"msg_1.{ts}.".encode() + body, hashlib.sha256).digest()
            return {
                "webhook-id": "msg_1",
                "webhook-timestamp": str(ts),
                "webhook-signature": "v1," + base64.b64encode(mac).decode(),
            }

        other = "whsec_" + base64.b64encode(b"not-the-secret-at-all-0123").decode()
        return [
            unsigned,
            (body, signed(other, now)),
            (body, signed(server.webhook_secret, now - 600)),
        ]
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = {"kid": server.signer.kid}
    forged = jwt.encode({**event, "iat": now, "exp": now + 300}, foreign, "RS256", headers=kid)
    stale = server.signer.jwt({**event, "iat": now - 900, "exp": now - 600})
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    return [
        unsigned,
        (body, {**headers, "webhook-signature": forged}),
        (body, {**headers, "webhook-signature": stale}),
    ]


@pytest.mark.parametrize("mode", ["jwt-event", "jwt-body", "static"])
def test_a_signed_push_brings_the_clip_and_bad_ones_are_refused(tmp_path: Path, mode: str) -> None:
    """While the clip renders, an unsigned, a forged and a stale push naming it are answered
    401 and wake nothing (no status request); Google's signed push (a JWT carrying the event,
    a JWT beside the body's event, or the static webhook's HMAC) is what brings it: one status
    request, no polling before it."""
    import threading

    port = _free_port()
    static = mode == "static"
    hook = f"http://127.0.0.1:{port}/hooks/gemini-omni"
    server = GoogleServer(
        api_key=KEY,
        latency=1.5,
        render_scale=0.05,
        jwt_carries_event=mode == "jwt-event",
        static_webhook_uri=hook if static else None,
    )
    film = _film(tmp_path, [{"id": "s1", "action": "Leaves fall", "duration": 3}])
    with server:
        env = omni_env(
            server, **({"GEMINI_WEBHOOK_SECRET": server.webhook_secret} if static else {})
        )
        answers: list[int] = []

        def push_bad_ones() -> None:
            import time

            deadline = time.monotonic() + 5
            while not server.interactions and time.monotonic() < deadline:
                time.sleep(0.01)
            (job,) = server.interactions
            time.sleep(0.2)  # the receiver is up before the create is sent
            answers.extend(_post(hook, b, h) for b, h in _bad_pushes(server, job, static))

        pusher = threading.Thread(target=push_bad_ones)
        pusher.start()
        manifest = _render(
            film,
            tmp_path,
            env,
            webhook_url="http://127.0.0.1:{port}/hooks",
            webhook_listen=f"127.0.0.1:{port}",
        )
        pusher.join()
        (ix,) = server.interactions.values()
        (delivery,) = server.webhooks
    assert answers == [401, 401, 401]
    assert manifest.shots[0].state == "done"
    assert delivery.delivered and delivery.kind == ("static" if static else "dynamic")
    assert ("webhook_config" in ix.body) is not static
    assert server.status_requests == 1  # the one the genuine push asked for
