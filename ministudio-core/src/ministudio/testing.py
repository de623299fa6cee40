"""The engine conformance kit: pytest test classes an engine package subclasses.

Subclass :class:`VideoEngineConformance` in your package's tests, name the engine and the
plugin, and pytest runs every check that applies to the engine's declared capabilities::

    # tests/test_conformance.py of ministudio-provider-acme
    import pytest
    from ministudio.testing import VideoEngineConformance

    import ministudio_acme
    from .fake_acme import FakeAcme  # your loopback fake of the Acme API


    class TestAcmeConformance(VideoEngineConformance):
        engine_id = "acme"
        sdk_modules = ("acme_sdk",)  # must not be imported by importing the plugin
        refused_action = "a shot the fake refuses"  # optional: checks refusals are not resent

        def plugin(self) -> object:
            return ministudio_acme

        @pytest.fixture(autouse=True)
        def server(self):
            with FakeAcme(api_key="acme-conformance-SECRET") as fake:
                self.fake = fake
                yield fake

        @pytest.fixture
        def engine_env(self, server) -> dict[str, str]:
            return {"ACME_BASE_URL": server.base_url, "ACME_API_KEY": server.api_key}

        @pytest.fixture
        def engine_faults(self, server):
            return server  # fail_next(endpoint, kind) and a `submissions` counter

What the subclass provides:

- ``engine_id``: the id the plugin declares in ``ministudio_engines``;
- ``plugin()``: the plugin module (or object) to register;
- the ``engine_env`` fixture: the render's environment (base URLs, keys); default ``{}``.
  Use a recognisable fake key: the kit checks it never leaks;
- the ``engine_faults`` fixture (remote engines): an object with ``fail_next(endpoint,
  kind)`` for endpoints ``"submit"``/``"download"`` and kinds ``"429"``, ``"500"`` and
  ``"truncate"`` (and optionally ``"refuse"``), a ``submissions`` counter of billed jobs and,
  optionally, a ``status_requests`` counter; default None, which skips the fault tests;
- ``sdk_modules``: modules importing the plugin must not import (keep SDKs inside hooks);
- ``refused_action``: a shot action the engine refuses (else the refusal test uses the
  ``"refuse"`` fault kind, or is skipped).
- ``engine_options``: the engine's routing options in the kit's films (a model, say).

The engine's declaration decides which tests run: the missing-key and leak tests need
``key_env``; the fault tests need the remote hooks (``submit_video``); then one test per
capability flag: ``webhooks`` (no polling needed), ``first_frame`` (a ``continue`` shot),
``last_frame`` and ``loop``, ``max_references`` (a character's reference image), ``seed``
(seeds recorded and stable), and ``aspect_ratios`` (an undeclared one is refused before any
submission). ``native_audio`` has no test yet. Every test's docstring says what to check
first when it fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pytest

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec
    from ministudio.manifest import Manifest
    from ministudio.plugins import PluginHost
    from ministudio.render import RenderOptions
    from ministudio.spec import Production

__all__ = ["FaultInjector", "SpeechEngineConformance", "VideoEngineConformance"]

FPS = 24
_LONGEST_SHOT = 600  # seconds: the longest explicit shot duration a production allows


class FaultInjector(Protocol):
    """What the kit needs from a remote engine's fake server."""

    def fail_next(self, endpoint: str, kind: str) -> None: ...


class VideoEngineConformance:
    """The conformance tests for a video engine. Subclass it as ``Test...`` (see module doc)."""

    engine_id: str = ""
    sdk_modules: tuple[str, ...] = ()
    refused_action: str | None = None  # a shot action the engine refuses, if it has one
    engine_options: ClassVar[Mapping[str, Any]] = {}  # the engine's routing options in films

    # -- what the subclass provides ------------------------------------------------------

    def plugin(self) -> object:
        """The plugin module or object that declares ``engine_id``."""
        raise NotImplementedError("a conformance subclass must define plugin()")

    @pytest.fixture
    def engine_env(self) -> dict[str, str]:
        """The render's environment (base URLs, keys). Override as a fixture."""
        return {}

    @pytest.fixture
    def engine_faults(self) -> FaultInjector | None:
        """A remote engine's fake server (``fail_next``), or None. Override as a fixture."""
        return None

    def render_options(self) -> RenderOptions:
        """Options for the kit's renders: quick retries by default."""
        from ministudio.remote import RetryPolicy
        from ministudio.render import RenderOptions

        return RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2))

    # -- helpers -------------------------------------------------------------------------

    def host(self) -> PluginHost:
        """A plugin host holding only the plugin under test."""
        from ministudio.plugins import PluginHost

        host = PluginHost(discover=False)
        info = host.register(self.plugin(), self.engine_id)
        assert info.error is None, f"the plugin failed to register: {info.error}"
        return host

    def spec(self, host: PluginHost | None = None) -> EngineSpec:
        return (host or self.host()).engine(self.engine_id, "video")

    def production(self, spec: EngineSpec, actions: tuple[str, ...] = ()) -> Production:
        """Two silent shots in the engine's first aspect ratio at 480p (else its first
        resolution), with durations it renders as they are."""
        from ministudio.spec import Production

        caps = spec.capabilities
        resolution = "480p" if "480p" in caps.resolutions else caps.resolutions[0]
        if caps.durations:
            seconds = sorted(caps.durations)[0]
        else:
            seconds = min(max(2.0, caps.min_duration), caps.max_duration)
        seconds = math.floor(seconds * FPS) / FPS or seconds  # a whole number of frames
        actions = actions or ("Ann waves at the camera", "Ann walks away")
        return Production.model_validate(
            {
                "title": "Conformance",
                "format": {
                    "aspect_ratio": caps.aspect_ratios[0],
                    "resolution": resolution,
                    "fps": FPS,
                },
                "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat, black hair"}},
                "environments": {"park": {"description": "a green park", "lighting": "day"}},
                "scenes": [
                    {
                        "id": "one",
                        "environment": "park",
                        "shots": [
                            {
                                "id": f"s{i + 1}",
                                "action": action,
                                "size": "wide",
                                "characters": ["ann"],
                                "duration": seconds,
                            }
                            for i, action in enumerate(actions)
                        ],
                    }
                ],
                "routing": {
                    "video": self.engine_id,
                    "options": {self.engine_id: dict(self.engine_options)},
                },
            }
        )

    def render(
        self,
        tmp_path: Path,
        env: Mapping[str, str],
        *,
        actions: tuple[str, ...] = (),
        out: str = "out",
        shots: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> Manifest:
        """Render the kit's production with a private content store in ``tmp_path``.

        ``shots`` adds fields to shots by index (``{1: {"continuity": "continue"}}``).
        """
        from ministudio.spec import Production

        production = self.production(self.spec(), actions)
        if shots:
            data = production.model_dump()
            for index, fields in shots.items():
                data["scenes"][0]["shots"][index].update(fields)
            production = Production.model_validate(data)
        return self.render_production(tmp_path, env, production, out=out)

    def render_production(
        self,
        tmp_path: Path,
        env: Mapping[str, str],
        production: Production,
        *,
        out: str = "out",
        options: RenderOptions | None = None,
    ) -> Manifest:
        """Render ``production`` into ``tmp_path/out`` with a private store in ``tmp_path``."""
        from ministudio.render import render
        from ministudio.store import ContentStore

        return render(
            production,
            tmp_path / out,
            host=self.host(),
            store=ContentStore(tmp_path / "store"),
            env=dict(env),
            options=options or self.render_options(),
        )

    def shot_prompt(self) -> Any:
        from ministudio.jobs import CharacterBrief, EnvironmentBrief, LineBrief, ShotPrompt

        return ShotPrompt(
            shot_id="s1",
            scene_id="one",
            index=0,
            action="Ann opens a red umbrella",
            shot_size="medium",
            camera_move="push-in",
            characters=(CharacterBrief(id="ann", name="Ann", dna="a woman, red coat"),),
            environment=EnvironmentBrief(id="park", description="a park", lighting="dusk"),
            style="watercolour",
            negative=("text",),
            lines=(LineBrief(speaker="ann", text="It is raining.", start=0.3, end=1.4),),
        )

    def _remote(self, host: PluginHost) -> None:
        if not host.implements(self.engine_id, "submit_video"):
            pytest.skip("not a remote engine (no submit_video)")

    @staticmethod
    def _submissions(faults: object) -> int | None:
        count = getattr(faults, "submissions", None)
        return count if isinstance(count, int) else None

    # -- the tests -----------------------------------------------------------------------

    def test_capabilities_are_declared_and_consistent(self) -> None:
        """The engine is declared once, as a video engine, with sane capabilities.

        Check first: ``ministudio_engines`` returns an ``EngineSpec`` whose ``id`` equals
        the subclass's ``engine_id``, and the ``Capabilities`` numbers (durations inside
        min/max, sorted, positive; price and latency not negative).
        """
        from ministudio.engines import EngineSpec

        host = self.host()
        assert self.engine_id in host.engines, f"the plugin declares {sorted(host.engines)}"
        spec = host.engines[self.engine_id]
        assert isinstance(spec, EngineSpec)
        assert spec.id == self.engine_id and spec.kind == "video"
        caps = spec.capabilities
        assert caps.concurrency >= 1
        assert 0 < caps.min_duration <= caps.max_duration
        if caps.durations is not None:
            assert caps.durations, "durations=() renders nothing: use None for any length"
            assert list(caps.durations) == sorted(caps.durations), "list durations ascending"
            assert len(set(caps.durations)) == len(caps.durations), "durations repeat"
            for d in caps.durations:
                assert caps.min_duration - 1e-9 <= d <= caps.max_duration + 1e-9, d
        assert caps.price_per_second >= 0
        assert caps.expected_latency >= 0
        assert caps.aspect_ratios and caps.resolutions
        assert caps.max_references >= 0
        assert caps.requests_per_minute is None or caps.requests_per_minute >= 1
        assert all(name and name.upper() == name for name in spec.key_env), spec.key_env

    def test_durations_are_snapped_or_refused_before_any_work(self) -> None:
        """An off-grid duration is snapped up or refused, as the engine declares.

        Check first: ``Capabilities.durations`` and ``snap_duration`` ("up" or "refuse");
        for engines without a grid, ``max_duration``.
        """
        from ministudio.errors import CapabilityError
        from ministudio.planning import snap_duration

        spec = self.spec()
        caps = spec.capabilities
        if caps.durations:
            grid = sorted(caps.durations)
            for d in grid:
                assert snap_duration(spec, d, "x") == pytest.approx(d)
            off = (grid[0] + grid[1]) / 2 if len(grid) > 1 else grid[0] / 2
            if caps.snap_duration == "up":
                assert snap_duration(spec, off, "x") == min(d for d in grid if d >= off)
            else:
                with pytest.raises(CapabilityError, match=spec.id):
                    snap_duration(spec, off, "x")
            with pytest.raises(CapabilityError, match=spec.id):
                snap_duration(spec, grid[-1] + 1, "x")
        else:
            within = (caps.min_duration + caps.max_duration) / 2
            assert snap_duration(spec, within, "x") == pytest.approx(within)
            assert snap_duration(spec, caps.min_duration / 2, "x") >= caps.min_duration
            with pytest.raises(CapabilityError, match=spec.id):
                snap_duration(spec, caps.max_duration + 1, "x")

    def test_a_refused_duration_stops_the_render_before_any_submission(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """A render asking for a length the engine cannot make fails before any job is sent.

        Check first: the declared ``max_duration``/``durations``; the engine must not be
        called at all (the core refuses while planning).
        """
        from ministudio.errors import CapabilityError
        from ministudio.spec import Production

        spec = self.spec()
        caps = spec.capabilities
        too_long = (max(caps.durations) if caps.durations else caps.max_duration) + 1
        if too_long > _LONGEST_SHOT:
            pytest.skip("no production shot can be longer than the engine renders")
        film = self.production(spec).model_dump()
        film["scenes"][0]["shots"][0]["duration"] = math.ceil(too_long)
        before = self._submissions(engine_faults)
        with pytest.raises(CapabilityError, match=spec.id):
            self.render_production(tmp_path, engine_env, Production.model_validate(film))
        assert self._submissions(engine_faults) == before
        assert not (tmp_path / "out" / "film.mp4").exists()

    def test_renders_a_real_film_end_to_end(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Two shots render through ``ministudio.render.render`` into a playable MP4.

        Check first: the shot errors in the raised ``RenderError`` (or manifest.json); then
        that the clip the engine writes is an H.264 MP4 of the requested length.
        """
        from ministudio.media.probe import probe
        from ministudio.planning import snap_duration

        spec = self.spec()
        manifest = self.render(tmp_path, engine_env)
        film = probe(tmp_path / "out" / "film.mp4")
        assert (film.width, film.height) == (manifest.width, manifest.height)
        assert film.duration == pytest.approx(manifest.duration, abs=1.5 / FPS)
        assert len(manifest.shots) == 2
        for shot in manifest.shots:
            assert shot.engine == self.engine_id
            assert shot.error is None and shot.state == "done"
            assert shot.requested_duration == pytest.approx(
                snap_duration(spec, shot.duration, shot.id)
            )
        assert film.frames == sum(s.frames for s in manifest.shots)

    def test_prompt_mapping_is_deterministic(self) -> None:
        """The same shot maps to the same, non-empty engine prompt every time.

        Check first: ``prompt_map`` must not use randomness, time or dict/set order.
        """
        host = self.host()
        first = host.prompt_map(self.engine_id, self.shot_prompt())
        second = host.prompt_map(self.engine_id, self.shot_prompt())
        assert first, "prompt_map returned an empty prompt"
        if isinstance(first, dict):
            first, second = json.dumps(first, sort_keys=True), json.dumps(second, sort_keys=True)
        assert first == second

    def test_a_missing_key_names_the_variable_to_set(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Rendering without the key fails with an error naming the variable to set.

        Check first: the engine gets its key with ``context.key(spec)`` (which raises
        ``MissingKeyError``) from ``context.env`` or the key store, never from ``os.environ``.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        if not spec.key_env:
            pytest.skip("the engine needs no key (no key_env)")
        env = {k: v for k, v in engine_env.items() if k not in spec.key_env}
        env["MINISTUDIO_KEYS_FILE"] = str(tmp_path / "no-keys.json")  # nor a stored key
        with pytest.raises(MinistudioError) as info:
            self.render(tmp_path, env)
        assert any(name in str(info.value) for name in spec.key_env), str(info.value)

    def test_the_key_never_appears(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: FaultInjector | None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The key is in no log record, error, manifest.json or journal.

        Check first: error messages built from the request (headers, URLs with the key in
        the query) and anything the engine stores in ``engine_job_id`` or results.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        secrets = [engine_env[n] for n in spec.key_env if engine_env.get(n)]
        if not secrets:
            pytest.skip("the engine needs no key, or engine_env sets none")
        caplog.set_level("DEBUG")
        errors: list[str] = []
        self.render(tmp_path, engine_env)
        if engine_faults is not None:
            attempts = self.render_options().retry.attempts
            for _ in range(2 * attempts + 2):  # more than both shots' retries: they fail
                engine_faults.fail_next("submit", "500")
            with pytest.raises(MinistudioError) as info:
                self.render(tmp_path, engine_env, actions=("Ann sits", "Ann stands"), out="bad")
            errors.append(str(info.value))
            errors.append(repr(info.value))
        texts = {
            "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
            "the log": caplog.text.encode(),
            "the errors": "\n".join(errors).encode(),
        }
        for path in (tmp_path / "store").glob("journal*"):
            texts[path.name] = path.read_bytes()
        bad = tmp_path / "bad" / "manifest.json"
        if bad.exists():
            texts["the failed render's manifest.json"] = bad.read_bytes()
        for where, data in texts.items():
            for secret in secrets:
                assert secret.encode() not in data, f"the key appears in {where}"

    def test_a_429_is_retried_and_each_shot_is_billed_once(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 429 on submit is waited out and retried; each shot is paid for once.

        Check first: submit maps 429 to ``TransientError`` (with ``retry_after`` from
        ``Retry-After``), not to ``EngineError`` or ``AmbiguousSubmission``.
        """
        self._billed_once_despite(tmp_path, engine_env, engine_faults, ("submit", "429"))

    def test_a_truncated_download_is_retried(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A cut-off download is fetched again, without submitting the job again.

        Check first: download compares the bytes received with ``Content-Length`` and raises
        ``TransientError`` (leaving nothing at ``output``) when short.
        """
        self._billed_once_despite(tmp_path, engine_env, engine_faults, ("download", "truncate"))

    def test_a_5xx_is_retried_and_each_shot_is_billed_once(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 500 on submit and one on download are retried; each shot is paid for once.

        Check first: 5xx maps to ``TransientError`` on submit (the engine created no job) and
        on download (the job is done: download again, never submit again).
        """
        self._billed_once_despite(
            tmp_path, engine_env, engine_faults, ("submit", "500"), ("download", "500")
        )

    def _billed_once_despite(
        self,
        tmp_path: Path,
        env: dict[str, str],
        faults: FaultInjector | None,
        *injections: tuple[str, str],
    ) -> None:
        """Render with ``(endpoint, kind)`` faults injected: every shot done, each billed once."""
        self._remote(self.host())
        if faults is None:
            pytest.skip("no engine_faults fixture")
        before = self._submissions(faults)
        for endpoint, kind in injections:
            faults.fail_next(endpoint, kind)
        manifest = self.render(tmp_path, env)
        assert all(s.state == "done" for s in manifest.shots)
        after = self._submissions(faults)
        if before is not None and after is not None:
            assert after - before == 2, "each of the 2 shots must be billed exactly once"

    def test_a_refusal_is_not_resent(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A refused shot fails with the engine's reason and is not submitted again.

        Check first: refusals (400, safety) map to ``EngineRefusal``, or a failed status
        with ``refused=True``, not to ``TransientError``.
        """
        from ministudio.render import RenderError

        self._remote(self.host())
        if engine_faults is None:
            pytest.skip("no engine_faults fixture")
        actions = ("Ann waves at the camera", "Ann walks away")
        if self.refused_action is not None:
            actions = (actions[0], self.refused_action)
        else:
            try:
                engine_faults.fail_next("submit", "refuse")
            except (ValueError, KeyError, NotImplementedError):
                pytest.skip("no refused_action and the faults have no 'refuse' kind")
        before = self._submissions(engine_faults)
        with pytest.raises(RenderError) as info:
            self.render(tmp_path, engine_env, actions=actions)
        assert "refused" in str(info.value)
        assert len(info.value.failures) == 1
        after = self._submissions(engine_faults)
        if before is not None and after is not None:
            assert after - before <= 2, "the refused shot was submitted again"

    def test_webhooks_bring_the_result_without_polling(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """With a webhook URL the engine is told where to report, and the core needs (almost)
        no status requests: at most one per job.

        Check first: submit passes ``context.webhook_url`` to the API (its callback field) and
        ``parse_webhook`` turns the API's callback body into a ``JobStatus`` with the job's id.
        Needs ``Capabilities.webhooks``; counting needs a ``status_requests`` counter on the
        faults object.
        """
        host = self.host()
        self._remote(host)
        if not self.spec(host).capabilities.webhooks:
            pytest.skip("the engine declares no webhooks")
        polls = getattr(engine_faults, "status_requests", None)
        options = dataclasses.replace(
            self.render_options(), webhook_url="http://127.0.0.1:{port}/hooks"
        )
        manifest = self.render_production(
            tmp_path, engine_env, self.production(self.spec(host)), options=options
        )
        assert all(s.state == "done" for s in manifest.shots)
        if isinstance(polls, int):
            done = getattr(engine_faults, "status_requests", 0)
            assert done - polls <= len(manifest.shots), f"{done - polls} status requests"

    def test_a_continue_shot_starts_from_the_previous_clip(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A `continue` shot gets the previous clip's last frame (and job) and renders.

        Check first: the engine reads ``request.first_frame`` (a PNG path; remote engines
        usually ``await context.upload(path)``) and, to extend the previous job itself,
        ``request.previous``. Needs ``Capabilities.first_frame``.
        """
        if not self.spec().capabilities.first_frame:
            pytest.skip("the engine declares no first_frame")
        manifest = self.render(tmp_path, engine_env, shots={1: {"continuity": "continue"}})
        first, second = manifest.shots
        assert second.state == "done" and not second.ignored
        assert "first frame" in second.conditioning
        assert "first frame" not in first.conditioning

    def test_an_end_frame_and_a_loop_reach_the_engine(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A shot's ``end_frame`` (and ``loop``, where declared) are sent and the shot renders.
        The end frame goes on a `continue` shot when the engine takes one only with a first
        frame (``last_frame_alone=False``).

        Check first: the engine reads ``request.last_frame`` and ``request.loop``, and does not
        send combinations its API refuses. Needs ``Capabilities.last_frame`` (or ``loop``).
        """
        caps = self.spec().capabilities
        if not (caps.last_frame or caps.loop):
            pytest.skip("the engine declares neither last_frame nor loop")
        fields: dict[int, dict[str, Any]] = {}
        if caps.loop:
            fields[0] = {"loop": True}
        if caps.last_frame:
            end = tmp_path / "end.png"
            _solid_png(end, (200, 40, 40))
            fields[1] = {"end_frame": end}
            if not caps.last_frame_alone:
                fields[1]["continuity"] = "continue"
        manifest = self.render(tmp_path, engine_env, shots=fields)
        assert all(s.state == "done" and not s.ignored for s in manifest.shots)
        if caps.loop:
            assert "loop" in manifest.shots[0].conditioning
        if caps.last_frame:
            assert "end frame" in manifest.shots[1].conditioning

    def test_reference_images_reach_the_engine(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A character with a reference image renders, with the image handed to the engine.

        Check first: the engine reads ``request.shot.characters[i].reference_images`` (paths)
        and uploads them if its API wants URLs. Needs ``Capabilities.max_references``.
        """
        if self.spec().capabilities.max_references < 1:
            pytest.skip("the engine declares no reference images (max_references = 0)")
        image = tmp_path / "ann.png"
        _solid_png(image, (180, 30, 30))
        film = self.production(self.spec()).model_dump()
        film["characters"]["ann"]["reference_images"] = [image]
        from ministudio.spec import Production

        manifest = self.render_production(tmp_path, engine_env, Production.model_validate(film))
        assert all(s.state == "done" for s in manifest.shots)
        assert all("1 reference image" in s.conditioning for s in manifest.shots)

    def test_seeds_are_recorded_and_stable(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Each shot's seed is in the manifest and the same in a fresh render (fresh store).

        Check first: nothing in the request may depend on time, randomness or paths of the
        render (the job key hashes it). Needs ``Capabilities.seed``.
        """
        if not self.spec().capabilities.seed:
            pytest.skip("the engine declares no seed")
        first = self.render(tmp_path / "a", engine_env)
        second = self.render(tmp_path / "b", engine_env)
        assert [s.seed for s in first.shots] == [s.seed for s in second.shots]
        assert len({s.seed for s in first.shots}) == len(first.shots), "shots share a seed"
        assert [s.job_key for s in first.shots] == [s.job_key for s in second.shots]

    def test_an_undeclared_aspect_ratio_is_refused_before_any_submission(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """A film in an aspect ratio the engine does not declare fails before any job is sent.

        Check first: ``Capabilities.aspect_ratios`` lists exactly what the API takes.
        """
        from typing import get_args

        from ministudio.errors import CapabilityError
        from ministudio.spec import AspectRatio, Production

        spec = self.spec()
        missing = [r for r in get_args(AspectRatio) if r not in spec.capabilities.aspect_ratios]
        if not missing:
            pytest.skip("the engine renders every aspect ratio a production can ask for")
        film = self.production(spec).model_dump()
        film["format"]["aspect_ratio"] = missing[0]
        before = self._submissions(engine_faults)
        with pytest.raises(CapabilityError, match=spec.id):
            self.render_production(tmp_path, engine_env, Production.model_validate(film))
        assert self._submissions(engine_faults) == before

    def test_importing_the_plugin_does_not_import_its_sdk(self) -> None:
        """Importing the plugin module in a fresh interpreter leaves its SDK unimported.

        Check first: module-level imports of the SDK (move them inside the hooks; import
        them under ``TYPE_CHECKING`` for annotations).
        """
        if not self.sdk_modules:
            pytest.skip("no sdk_modules declared")
        plugin = self.plugin()
        module = (
            plugin if isinstance(plugin, types.ModuleType) else sys.modules[type(plugin).__module__]
        )
        name, file = module.__name__, getattr(module, "__file__", None)
        with contextlib.suppress(ImportError, ValueError):
            if importlib.util.find_spec(name) is not None:
                file = None  # importable by name: import it as users do
        code = _IMPORT_CHECK.format(name=name, file=file, sdk=list(self.sdk_modules))
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        assert done.returncode == 0, done.stderr
        imported = json.loads(done.stdout.strip().splitlines()[-1])
        assert imported == [], f"importing {name} imported {imported}"


def _solid_png(path: Path, colour: tuple[int, int, int]) -> None:
    from PIL import Image

    Image.new("RGB", (64, 64), colour).save(path)


_IMPORT_CHECK = """
import importlib, importlib.util, json, sys
name, file = {name!r}, {file!r}
if file is None:
    importlib.import_module(name)
else:
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
print(json.dumps([m for m in {sdk!r} if m in sys.modules]))
"""


if TYPE_CHECKING:
    from ministudio.jobs import SpeechRequest, SpeechResult


class SpeechEngineConformance:
    """The conformance tests for a speech engine. Subclass it as ``Test...``::

        class TestAcmeVoices(SpeechEngineConformance):
            engine_id = "acme-voice"
            sdk_modules = ("acme_sdk",)
            voice = "Ada"  # a voice the engine has

            def plugin(self) -> object:
                return ministudio_acme_voice

            @pytest.fixture
            def engine_env(self, server) -> dict[str, str]:
                return {"ACME_BASE_URL": server.base_url, "ACME_API_KEY": server.api_key}

            @pytest.fixture
            def engine_faults(self, server):
                return server  # fail_next("speech", kind) and, optionally, speech_requests

    What the subclass provides, besides ``engine_id``, ``plugin()`` and ``sdk_modules`` as in
    :class:`VideoEngineConformance`:

    - ``voice`` and ``voice_options``: a voice of the engine (``Voice.voice``/``options``)
      the kit's lines are spoken with; ``unknown_voice``: a name the engine does not have;
    - ``emotional``: False if the engine ignores a line's emotion (skips that test);
    - the ``engine_env`` fixture: the environment (base URLs, a recognisable fake key);
    - the ``engine_faults`` fixture (remote engines): ``fail_next("speech", kind)`` with
      kinds ``"429"`` and ``"500"`` (and optionally ``"drop"``), and optionally a
      ``speech_requests`` counter of requests that reached the engine; default None, which
      skips the fault tests.

    What it checks: the engine is declared once as a speech engine with sane capabilities; a
    line becomes an audible mono 16-bit WAV whose length the result reports, longer for a
    longer line; the same line twice lasts as long; a film's lines are spoken once (a second
    render calls the engine no more, by a spy on the host) and timed from their audio;
    emotion changes the audio; an unknown voice fails with a typed error naming it, before
    any request; a missing key names its variable and the key never leaks; 429, 5xx and a
    dropped connection are ``TransientError``; importing the plugin imports no SDK. It skips
    the key tests when the engine declares no ``key_env``, the fault tests without
    ``engine_faults`` (or without the ``"drop"`` kind), and the emotion test when
    ``emotional`` is False.

    The kit's films are rendered with the embedded ``animatic`` video engine. The core does
    not retry speech today (a line that fails stops the render with ``SpeechError``, lines
    already spoken are kept), so the fault tests check what the engine raises: a passing
    failure must be a ``TransientError`` (an engine that retries by itself passes too), and
    the next request must work.
    """

    engine_id: str = ""
    sdk_modules: tuple[str, ...] = ()
    voice: str = "en-us"
    voice_options: Mapping[str, Any] = {}
    unknown_voice: str = "no-such-voice-q7"
    emotional: bool = True
    text: str = "The lighthouse keeper counted the ships until the fog came in."

    # -- what the subclass provides ------------------------------------------------------

    def plugin(self) -> object:
        """The plugin module or object that declares ``engine_id``."""
        raise NotImplementedError("a conformance subclass must define plugin()")

    @pytest.fixture
    def engine_env(self) -> dict[str, str]:
        """The engine's environment (base URLs, keys). Override as a fixture."""
        return {}

    @pytest.fixture
    def engine_faults(self) -> FaultInjector | None:
        """A remote engine's fake server (``fail_next``), or None. Override as a fixture."""
        return None

    def render_options(self) -> RenderOptions:
        """Options for the kit's renders: quick retries by default."""
        from ministudio.remote import RetryPolicy
        from ministudio.render import RenderOptions

        return RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2))

    # -- helpers -------------------------------------------------------------------------

    def host(self) -> PluginHost:
        """A plugin host holding the plugin under test, and the animatic for the films."""
        from ministudio.animatic import plugin as animatic
        from ministudio.plugins import PluginHost

        host = PluginHost(discover=False)
        info = host.register(self.plugin(), self.engine_id)
        assert info.error is None, f"the plugin failed to register: {info.error}"
        if "animatic" not in host.engines:
            host.register(animatic, "animatic")
        return host

    def spec(self, host: PluginHost | None = None) -> EngineSpec:
        return (host or self.host()).engine(self.engine_id, "speech")

    def request(
        self, text: str | None = None, emotion: str = "neutral", voice: str | None = None
    ) -> SpeechRequest:
        """A line in the kit's voice (or ``voice``)."""
        from ministudio.jobs import SpeechRequest, Voice

        chosen = Voice(voice=voice or self.voice, options=dict(self.voice_options))
        return SpeechRequest(text=text or self.text, voice=chosen, emotion=emotion)

    def speak(
        self,
        tmp_path: Path,
        env: Mapping[str, str],
        request: SpeechRequest,
        name: str = "line",
        host: PluginHost | None = None,
    ) -> SpeechResult:
        """Call the engine's ``synthesize_speech`` once, as the core does, into ``name``.wav."""
        import anyio

        from ministudio.engines import EngineContext

        host = host or self.host()
        work = tmp_path / f"{name}-work"
        work.mkdir(parents=True, exist_ok=True)
        context = EngineContext(engine=self.engine_id, work_dir=work, env=dict(env))
        output = tmp_path / f"{name}.wav"
        return anyio.run(lambda: host.synthesize_speech(self.engine_id, request, output, context))

    def production(self, texts: tuple[str, ...] = ()) -> Production:
        """Two shots of the animatic at 480p, each with one line (the first one happy) in
        the kit's voice, every line routed to the engine."""
        from ministudio.spec import Production

        texts = texts or ("Good morning, Ann.", "The tide comes in at noon.")
        voice = {"voice": self.voice, "options": dict(self.voice_options)}
        return Production.model_validate(
            {
                "title": "Speech conformance",
                "format": {"aspect_ratio": "16:9", "resolution": "480p", "fps": FPS},
                "characters": {"ann": {"name": "Ann", "dna": "a woman, red coat", "voice": voice}},
                "environments": {"quay": {"description": "a stone quay", "lighting": "day"}},
                "scenes": [
                    {
                        "id": "one",
                        "environment": "quay",
                        "shots": [
                            {
                                "id": f"s{i + 1}",
                                "action": "Ann speaks",
                                "dialogue": [
                                    {
                                        "speaker": "ann",
                                        "text": text,
                                        "emotion": "happy" if i == 0 else "neutral",
                                    }
                                ],
                            }
                            for i, text in enumerate(texts)
                        ],
                    }
                ],
                "routing": {"video": "animatic", "speech": self.engine_id},
            }
        )

    def render_production(
        self,
        tmp_path: Path,
        env: Mapping[str, str],
        production: Production,
        *,
        out: str = "out",
        host: PluginHost | None = None,
    ) -> Manifest:
        """Render ``production`` into ``tmp_path/out`` with a private store in ``tmp_path``."""
        from ministudio.render import render
        from ministudio.store import ContentStore

        return render(
            production,
            tmp_path / out,
            host=host or self.host(),
            store=ContentStore(tmp_path / "store"),
            env=dict(env),
            options=self.render_options(),
        )

    @staticmethod
    def _requests(faults: object) -> int | None:
        count = getattr(faults, "speech_requests", None)
        return count if isinstance(count, int) else None

    @staticmethod
    def _samples(path: Path) -> tuple[Any, int]:
        """A WAV's samples (int16) and rate; asserts it is mono 16-bit."""
        import wave

        import numpy as np

        with wave.open(str(path), "rb") as w:
            assert w.getnchannels() == 1, f"{w.getnchannels()} channels: write mono"
            assert w.getsampwidth() == 2, f"{8 * w.getsampwidth()}-bit samples: write 16-bit"
            assert w.getframerate() > 0
            frames = w.readframes(w.getnframes())
            return np.frombuffer(frames, dtype="<i2"), w.getframerate()

    # -- the tests -----------------------------------------------------------------------

    def test_capabilities_are_declared_and_consistent(self) -> None:
        """The engine is declared once, as a speech engine, with sane capabilities.

        Check first: ``ministudio_engines`` returns one ``EngineSpec`` with ``id`` equal to
        the subclass's ``engine_id`` and ``kind="speech"``; concurrency at least 1, price and
        latency not negative, key variables in capitals.
        """
        from ministudio.engines import EngineSpec

        host = self.host()
        plugin: Any = self.plugin()
        declared = list(plugin.ministudio_engines() or [])
        assert [s.id for s in declared].count(self.engine_id) == 1, [s.id for s in declared]
        spec = host.engines[self.engine_id]
        assert isinstance(spec, EngineSpec)
        assert spec.kind == "speech", f"declared as a {spec.kind} engine"
        caps = spec.capabilities
        assert caps.concurrency >= 1
        assert caps.price_per_second >= 0
        assert caps.expected_latency >= 0
        assert caps.requests_per_minute is None or caps.requests_per_minute >= 1
        assert all(name and name.upper() == name for name in spec.key_env), spec.key_env

    def test_a_line_is_a_mono_16_bit_wav_of_the_reported_length(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A line becomes a mono 16-bit WAV at ``output``, as long as the result says, audible,
        and a longer line lasts longer.

        Check first: the engine writes to the ``output`` path it is given (not to its work
        dir), with ``wave`` settings nchannels=1, sampwidth=2 and the true sample rate, and
        reports ``duration`` = frames / rate.
        """
        import numpy as np

        host = self.host()
        short = self.speak(tmp_path, engine_env, self.request("Hello."), "short", host)
        result = self.speak(tmp_path, engine_env, self.request(), "long", host)
        assert result.path == tmp_path / "long.wav" and result.path.is_file()
        samples, rate = self._samples(result.path)
        assert result.duration == pytest.approx(len(samples) / rate, abs=0.01)
        assert result.duration > 0.5, f"{result.duration:.2f} s for a sentence"
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        assert rms > 100, f"the line is (nearly) silent: RMS {rms:.0f} of 32767"
        assert result.cost >= 0
        assert short.duration < result.duration, "a longer line should last longer"

    def test_the_same_line_twice_lasts_as_long(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """The same request spoken twice gives audio of (nearly) the same length.

        Check first: nothing in the request sent may depend on time, randomness or paths;
        a model that varies a little passes (within 15%, at least 0.25 s).
        """
        host = self.host()
        first = self.speak(tmp_path, engine_env, self.request(), "first", host)
        second = self.speak(tmp_path, engine_env, self.request(), "second", host)
        tolerance = max(0.25, 0.15 * first.duration)
        assert second.duration == pytest.approx(first.duration, abs=tolerance)

    def test_a_second_render_speaks_from_the_store(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: object,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A film's lines are spoken once: rendering it again calls the engine no more, and
        its lines are timed from the audio.

        Check first: the line errors in the raised ``SpeechError``; then that the request
        (the job key hashes it) and the WAV written depend only on the line.
        """
        host = self.host()
        spoken: list[str] = []
        original = host.synthesize_speech

        async def counting(
            engine_id: str, request: SpeechRequest, output: Path, context: Any
        ) -> SpeechResult:
            spoken.append(request.text)
            return await original(engine_id, request, output, context)

        monkeypatch.setattr(host, "synthesize_speech", counting)  # a spy on the core's calls
        production = self.production()
        first = self.render_production(tmp_path, engine_env, production, host=host)
        lines = [line for shot in first.shots for line in shot.lines]
        assert len(spoken) == len(lines) == 2
        assert all(line.engine == self.engine_id and not line.cached for line in lines)
        assert all(line.end - line.start > 0.2 for line in lines)
        assert (tmp_path / "out" / "film.mp4").is_file()
        before = self._requests(engine_faults)
        second = self.render_production(tmp_path, engine_env, production, host=host)
        assert len(spoken) == 2, "the second render called the engine again"
        assert all(line.cached for shot in second.shots for line in shot.lines)
        assert self._requests(engine_faults) == before

    def test_emotion_reaches_the_engine(self, tmp_path: Path, engine_env: dict[str, str]) -> None:
        """A line's emotion changes what the engine makes of it.

        Check first: the engine reads ``request.emotion`` (a word such as "happy", "sad",
        "whispering"). Engines that ignore emotion set ``emotional = False``.
        """
        if not self.emotional:
            pytest.skip("the engine declares it ignores emotion (emotional = False)")
        host = self.host()
        neutral = self.speak(tmp_path, engine_env, self.request(), "neutral", host)
        happy = self.speak(tmp_path, engine_env, self.request(emotion="happy"), "happy", host)
        assert neutral.path.read_bytes() != happy.path.read_bytes(), "emotion changed nothing"

    def test_an_unknown_voice_fails_with_a_typed_error_naming_it(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """A voice the engine does not have fails with a ``MinistudioError`` naming it, and
        (where the faults count requests) before any request is paid for.

        Check first: the engine validates ``request.voice.voice`` against its voices before
        calling its API, and raises ``EngineError`` (not ``TransientError``: it will not pass).
        """
        from ministudio.errors import MinistudioError, TransientError

        before = self._requests(engine_faults)
        request = self.request(voice=self.unknown_voice)
        with pytest.raises(MinistudioError) as info:
            self.speak(tmp_path, engine_env, request)
        assert not isinstance(info.value, TransientError), "an unknown voice is not passing"
        assert self.unknown_voice.lower() in str(info.value).lower(), str(info.value)
        assert self._requests(engine_faults) == before, "a request was sent for a bad voice"
        assert not (tmp_path / "line.wav").exists()

    def test_a_missing_key_names_the_variable_to_set(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Rendering without the key fails with an error naming the variable to set.

        Check first: the engine gets its key with ``context.key(spec)`` (which raises
        ``MissingKeyError``) from ``context.env`` or the key store, never from ``os.environ``.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        if not spec.key_env:
            pytest.skip("the engine needs no key (no key_env)")
        env = {k: v for k, v in engine_env.items() if k not in spec.key_env}
        env["MINISTUDIO_KEYS_FILE"] = str(tmp_path / "no-keys.json")  # nor a stored key
        with pytest.raises(MinistudioError) as info:
            self.render_production(tmp_path, env, self.production())
        assert any(name in str(info.value) for name in spec.key_env), str(info.value)

    def test_the_key_never_appears(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: FaultInjector | None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The key is in no log record, error, manifest.json or journal.

        Check first: error messages built from the request (headers, URLs with the key in
        the query) and anything the engine puts in its results.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        secrets = [engine_env[n] for n in spec.key_env if engine_env.get(n)]
        if not secrets:
            pytest.skip("the engine needs no key, or engine_env sets none")
        caplog.set_level("DEBUG")
        errors: list[str] = []
        self.render_production(tmp_path, engine_env, self.production())
        if engine_faults is not None:  # errors from failed lines, through the core and not
            for _ in range(3):
                engine_faults.fail_next("speech", "500")
            film = self.production(("Ann sits down.", "Ann stands up."))
            try:
                self.render_production(tmp_path, engine_env, film, out="bad")
            except MinistudioError as exc:
                errors += [str(exc), repr(exc)]
            try:
                self.speak(tmp_path, engine_env, self.request("Ann waits."))
            except MinistudioError as exc:
                errors += [str(exc), repr(exc), repr(exc.args)]
            assert errors, "no request failed: check fail_next('speech', '500')"
        texts = {
            "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
            "the log": caplog.text.encode(),
            "the errors": "\n".join(errors).encode(),
        }
        for path in (tmp_path / "store").glob("journal*"):
            texts[path.name] = path.read_bytes()
        for where, data in texts.items():
            for secret in secrets:
                assert secret.encode() not in data, f"the key appears in {where}"

    def test_a_429_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 429 raises ``TransientError`` (or is retried by the engine), and the next request
        works.

        Check first: 429 maps to ``TransientError`` with ``retry_after`` from the server's
        hint, not to ``EngineError`` or ``EngineRefusal``.
        """
        self._passes(tmp_path, engine_env, engine_faults, "429")

    def test_a_5xx_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 500 raises ``TransientError`` (or is retried by the engine), and the next request
        works.

        Check first: 5xx maps to ``TransientError``, not to ``EngineError``.
        """
        self._passes(tmp_path, engine_env, engine_faults, "500")

    def test_a_dropped_connection_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A connection closed without an answer raises ``TransientError`` (or is retried by
        the engine), and the next request works.

        Check first: the HTTP client's transport errors (``httpx.TransportError``, for one)
        map to ``TransientError``. Needs the ``"drop"`` fault kind.
        """
        self._passes(tmp_path, engine_env, engine_faults, "drop")

    def _passes(
        self, tmp_path: Path, env: dict[str, str], faults: FaultInjector | None, kind: str
    ) -> None:
        from ministudio.errors import TransientError

        if faults is None:
            pytest.skip("no engine_faults fixture")
        try:
            faults.fail_next("speech", kind)
        except (ValueError, KeyError, NotImplementedError):
            pytest.skip(f"the faults have no {kind!r} kind")
        host = self.host()
        try:
            result = self.speak(tmp_path, env, self.request(), "faulted", host)
        except TransientError:
            result = self.speak(tmp_path, env, self.request(), "again", host)
        assert result.path.is_file() and result.duration > 0

    def test_importing_the_plugin_does_not_import_its_sdk(self) -> None:
        """Importing the plugin module in a fresh interpreter leaves its SDK unimported.

        Check first: module-level imports of the SDK (move them inside the hooks; import
        them under ``TYPE_CHECKING`` for annotations).
        """
        # the same check as the video kit's: it reads only plugin() and sdk_modules
        check: Any = VideoEngineConformance.test_importing_the_plugin_does_not_import_its_sdk
        check(self)
