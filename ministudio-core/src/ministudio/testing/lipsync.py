"""The lip-sync engine conformance kit: see ``ministudio.testing``.

A lip-sync engine (kind ``lipsync``) gets a shot's take and voice and gives back the take with
its mouths moved (``lip_sync``, or ``submit_lip_sync`` with ``poll_video`` and
``download_video``). The kit renders its own film: two shots by a video engine of the kit's
that takes no voice, so each gets a pass where a character in frame speaks, routed to the
engine under test (``routing.lipsync``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ministudio import hookimpl
from ministudio.testing._kit import EngineKit, FaultInjector

if TYPE_CHECKING:
    from ministudio.jobs import VideoRequest, VideoResult
    from ministudio.plugins import PluginHost
    from ministudio.run.manifest import Manifest
    from ministudio.spec import Production

FPS = 24
STILL = "kit-still"  # the kit's own video engine: takes no voice, so every speaking shot passes


class _Still:
    """A video engine drawing a still grey frame: it takes no voice."""

    @hookimpl
    def ministudio_engines(self) -> list[Any]:
        from ministudio.engines import Capabilities, EngineSpec

        caps = Capabilities(resolutions=("480p", "720p", "1080p"), min_duration=1.0)
        return [EngineSpec(id=STILL, kind="video", capabilities=caps, revision=1)]

    @hookimpl
    def generate_video(self, engine: str, request: VideoRequest, output: Path) -> VideoResult:
        import numpy as np

        from ministudio.jobs import VideoResult
        from ministudio.media.encode import VideoWriter

        frame = np.full((request.height, request.width, 3), 128, np.uint8)
        with VideoWriter(output, request.width, request.height, request.fps) as writer:
            for _ in range(round(request.duration * request.fps)):
                writer.write(frame)
        return VideoResult(path=output)


class LipSyncEngineConformance(EngineKit):
    """The conformance tests for a lip-sync engine. Subclass it as ``Test...``::

        class TestAcmeLips(LipSyncEngineConformance):
            engine_id = "acme-lips"
            sdk_modules = ("acme_sdk",)

            def plugin(self) -> object:
                return ministudio_acme_lips

            @pytest.fixture
            def engine_env(self, server) -> dict[str, str]:
                return {"ACME_BASE_URL": server.base_url, "ACME_API_KEY": server.api_key}

            @pytest.fixture
            def engine_faults(self, server):
                return server  # fail_next("submit", "429" | "500"), ``submissions``

    What it checks: the engine is declared once as a lip-sync engine, local (``lip_sync``) or
    remote (``submit_lip_sync``, ``poll_video`` and ``download_video``), never both and never
    a video engine; in a film, each shot where a character in frame speaks gets one pass, a
    narrated shot none, and the pass's clip covers the shot; a second render pays for no
    pass; a missing key names its variable; for a remote engine with ``engine_faults``: a 429
    at submit is waited out and each pass billed once (by the fake's ``submissions``
    counter, where it has one), and the key is in no log, error, manifest or journal;
    importing the plugin imports no SDK. ``submit_endpoint`` names the fake's endpoint that
    creates a job, where it is not ``"submit"``.
    """

    kind = "lipsync"
    submit_endpoint: str = "submit"  # the fake's name for the request that creates a job
    resolution: str = "480p"  # the kit's film's (an engine may take only larger pictures)
    line: str = "Well, I looked everywhere for the little green frog, and then it jumped out."

    # -- helpers -------------------------------------------------------------------------

    def host(self) -> PluginHost:
        """The plugin under test, the kit's still video engine for the takes and eSpeak for
        the voice."""
        from ministudio.engines.espeak import plugin as espeak

        host = super().host()
        host.register(_Still(), STILL)
        if "espeak" not in host.engines:
            host.register(espeak, "espeak")
        return host

    def film(self) -> Production:
        """Two shots of the kit's still engine at ``resolution``: Ann speaks in the first (a
        close-up), a narrator over her in the second; every pass routed to the engine."""
        from ministudio.spec import Production

        return Production.model_validate(
            {
                "title": "Lip-sync conformance",
                "format": {"aspect_ratio": "16:9", "resolution": self.resolution, "fps": FPS},
                "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat"}},
                "environments": {"quay": {"description": "a stone quay", "lighting": "day"}},
                "scenes": [
                    {
                        "id": "one",
                        "environment": "quay",
                        "shots": [
                            {
                                "id": "speaks",
                                "action": "Ann talks",
                                "size": "close-up",
                                "characters": ["ann"],
                                "dialogue": [{"speaker": "ann", "text": self.line}],
                            },
                            {
                                "id": "told",
                                "action": "Ann looks at the sea",
                                "characters": ["ann"],
                                "narration": "She had never seen it so still.",
                            },
                        ],
                    }
                ],
                "routing": {
                    "video": STILL,
                    "lipsync": self.engine_id,
                    "limits": self.routing_limits(),
                },
            }
        )

    def render(
        self, tmp_path: Path, env: Mapping[str, str], out: str = "out", host: Any = None
    ) -> Manifest:
        return self.render_production(tmp_path, env, self.film(), out=out, host=host)

    def _remote(self, host: PluginHost) -> None:
        if not host.implements(self.engine_id, "submit_lip_sync"):
            pytest.skip("not a remote engine (no submit_lip_sync)")

    @staticmethod
    def _submissions(faults: object) -> int | None:
        count = getattr(faults, "submissions", None)
        return count if isinstance(count, int) else None

    # -- the tests -----------------------------------------------------------------------

    def test_the_engine_is_declared_as_a_lip_sync_engine(self) -> None:
        """Declared once, kind ``lipsync``, with the hooks of a local or a remote engine.

        Check first: ``EngineSpec(kind="lipsync")``; a remote engine implements
        ``submit_lip_sync``, ``poll_video`` and ``download_video``; a local one ``lip_sync``.
        """
        host = self.host()
        spec = self.spec(host)
        assert spec.kind == "lipsync"
        local = host.implements(spec.id, "lip_sync")
        remote = [host.implements(spec.id, h) for h in ("submit_lip_sync", "poll_video")]
        remote.append(host.implements(spec.id, "download_video"))
        assert local or all(remote), "implement lip_sync, or submit_lip_sync, poll and download"
        assert not (local and any(remote)), "a local engine (lip_sync) that also submits"

    def test_each_speaking_shot_gets_one_whole_pass(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """The shot where Ann speaks gets one pass, whose clip lasts the shot (a frame short at
        most); the narrated shot gets none; the film is made.

        Check first: the clip written to ``output`` is the request's ``video`` with its
        mouths moved, ``request.duration`` long (the core holds the last frame of a short
        clip, which a viewer sees as a freeze).
        """
        from ministudio.media.probe import probe
        from ministudio.run.store import ContentStore

        manifest = self.render(tmp_path, engine_env)
        speaks, told = manifest.shots
        assert told.lipsync is None, "a narrated shot was sent for lip-sync"
        assert speaks.lipsync is not None and speaks.lipsync.state == "done", speaks.lipsync
        assert speaks.lipsync.passes == 1 and speaks.lipsync.error is None
        assert speaks.lipsync.job_key is not None
        made = ContentStore(tmp_path / "store").get(speaks.lipsync.job_key, ".mp4")
        assert made is not None, "the pass's clip is not in the store"
        seconds = probe(made).duration
        assert seconds >= speaks.duration - 1.5 / FPS, f"{seconds:.3f} s for {speaks.duration} s"
        assert (tmp_path / "out" / "film.mp4").exists()

    def test_a_second_render_pays_for_no_pass(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """Rendered again, the pass comes from the store: no request, nothing spent."""
        self.render(tmp_path, engine_env)
        before = self._submissions(engine_faults)
        again = self.render(tmp_path, engine_env, out="again")
        speaks = again.shots[0]
        assert speaks.lipsync is not None and speaks.lipsync.state == "cached"
        assert speaks.lipsync.cost == 0 and again.cost == 0
        if before is not None:
            assert self._submissions(engine_faults) == before

    def test_a_429_at_submit_is_retried_and_each_pass_billed_once(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 429 on submit is waited out and sent again; the pass is paid for once.

        Check first: ``submit_lip_sync`` maps 429 to ``TransientError`` (with
        ``retry_after``), not to ``EngineError`` or ``AmbiguousSubmission``.
        """
        self._remote(self.host())
        if engine_faults is None:
            pytest.skip("no engine_faults fixture")
        before = self._submissions(engine_faults)
        engine_faults.fail_next(self.submit_endpoint, "429")
        speaks = self.render(tmp_path, engine_env).shots[0]
        assert speaks.lipsync is not None and speaks.lipsync.state == "done", speaks.lipsync
        after = self._submissions(engine_faults)
        if before is not None and after is not None:
            assert after - before == 1, "the pass must be billed exactly once"

    def test_the_key_never_appears(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: FaultInjector | None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """After a render whose pass fails at submit, the key is in no log record, manifest
        or journal (the take is kept in the film, the error in the manifest).

        Check first: error messages built from the request (headers, URLs with the key).
        """
        spec = self.spec()
        secrets = [engine_env[n] for n in spec.key_env if engine_env.get(n)]
        if not secrets or engine_faults is None:
            pytest.skip("the engine needs no key, engine_env sets none, or no engine_faults")
        caplog.set_level("DEBUG")
        for _ in range(2 * self.render_options().retry.attempts + 2):
            engine_faults.fail_next(self.submit_endpoint, "500")
        speaks = self.render(tmp_path, engine_env).shots[0]
        assert speaks.lipsync is not None and speaks.lipsync.state == "failed"
        texts = {
            "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
            "the log": caplog.text.encode(),
        }
        for path in (tmp_path / "store").glob("journal*"):
            texts[path.name] = path.read_bytes()
        for where, data in texts.items():
            for secret in secrets:
                assert secret.encode() not in data, f"the key appears in {where}"
