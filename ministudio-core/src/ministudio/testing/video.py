"""The video engine conformance kit: see ``ministudio.testing``."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from ministudio import hookimpl
from ministudio.testing._kit import EngineKit, FaultInjector, solid_png

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec
    from ministudio.plugins import PluginHost
    from ministudio.run.manifest import Manifest
    from ministudio.spec import Production

FPS = 24
_LONGEST_SHOT = 600  # seconds: the longest explicit shot duration a production allows


class VideoEngineConformance(EngineKit):
    """The conformance tests for a video engine. Subclass it as ``Test...`` (see module doc)."""

    refused_action: str | None = None  # a shot action the engine refuses, if it has one
    engine_options: ClassVar[Mapping[str, Any]] = {}  # the engine's routing options in films

    # -- helpers -------------------------------------------------------------------------

    def spec(self, host: PluginHost | None = None) -> EngineSpec:
        """The engine as the kit's films route it: narrowed to the model ``engine_options``
        names (else its default), when the engine declares variants (``EngineSpec.variants``)."""
        from ministudio.engines.variants import routed

        return routed(super().spec(host), self.engine_options)

    def film(self) -> Production:
        """The kit's production (see ``production``)."""
        return self.production(self.spec())

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
                    "limits": self.routing_limits(),
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
        models = {m.id for m in spec.models} | {a for m in spec.models for a in m.aliases}
        for variant in spec.variants:
            assert not spec.models or variant.model in models, f"{variant.label}: undeclared"
            v = variant.capabilities
            assert v.durations is None or list(v.durations) == sorted(set(v.durations))
            assert v.aspect_ratios and v.resolutions, variant.label
        labels = [(v.label, v.capabilities.durations) for v in spec.variants]
        assert len(set(labels)) == len(labels), "a variant is declared twice"

    def test_every_variant_takes_what_it_declares(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Each variant (a model in one mode) renders shots pinned to it, with every input it
        declares: a loop, a `continue` shot (first frame, or an extension) at its longest
        length after one at its shortest, an end frame and a reference image.

        Check first: ``EngineSpec.variants`` declares only what the provider takes for that
        model, mode and length (its docs' capability map), and the engine does not send
        combinations its API refuses (drop one with a clear rule instead).
        """
        from concurrent.futures import ThreadPoolExecutor

        from ministudio.spec import Production

        variants = super().spec().variants
        if not variants:
            pytest.skip("the engine declares no variants (EngineSpec.variants)")
        end, face = tmp_path / "end.png", tmp_path / "ann.png"
        solid_png(end, (200, 40, 40))
        solid_png(face, (180, 30, 30))
        films = []
        for variant in variants:
            caps = variant.capabilities
            pinned = {"model": variant.model, **({"mode": variant.mode} if variant.mode else {})}
            film = self.production(self.spec()).model_dump()
            film["routing"]["options"][self.engine_id] = {**self.engine_options, **pinned}
            film["format"].update(  # 12 fps: a film per variant, kept cheap to make
                aspect_ratio=caps.aspect_ratios[0], resolution=caps.resolutions[0], fps=12
            )
            first, second = film["scenes"][0]["shots"]
            longest = max(caps.durations) if caps.durations else caps.max_duration
            second["duration"] = math.floor(min(longest, 12.0) * 12) / 12
            if caps.first_frame or caps.extend:  # the first shot, at the shortest length
                second["continuity"] = "continue"
                if caps.durations:
                    first["duration"] = min(caps.durations)
                first["loop"] = caps.loop
            else:  # one shot is enough
                film["scenes"][0]["shots"] = [second]
                second["loop"] = caps.loop
            if caps.last_frame and (caps.last_frame_alone or second["continuity"] == "continue"):
                second["end_frame"] = end
            if caps.max_references:
                film["characters"]["ann"]["reference_images"] = [face]
            films.append(Production.model_validate(film))

        def render(n: int) -> Manifest:  # four at a time: their waits on the fake overlap
            return self.render_production(tmp_path / str(n), engine_env, films[n])

        with ThreadPoolExecutor(4) as pool:
            manifests = list(pool.map(render, range(len(films))))
        for variant, manifest in zip(variants, manifests, strict=True):
            for shot in manifest.shots:
                assert shot.state == "done", f"{variant.label}: {shot.id}: {shot.error}"
                assert shot.model == variant.model, (variant.label, shot.model)

    def test_durations_are_snapped_or_refused_before_any_work(self) -> None:
        """An off-grid duration is snapped up or refused, as the engine declares.

        Check first: ``Capabilities.durations`` and ``snap_duration`` ("up" or "refuse");
        for engines without a grid, ``max_duration``.
        """
        from ministudio.errors import CapabilityError
        from ministudio.plan.shots import snap_duration

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
        """Two shots render through ``ministudio.run.render.render`` into a playable MP4.

        Check first: the shot errors in the raised ``RenderError`` (or manifest.json); then
        that the clip the engine writes is an H.264 MP4 of the requested length.
        """
        from ministudio.media.probe import probe
        from ministudio.plan.shots import snap_duration

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
        from ministudio.run.render import RenderError

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
            solid_png(end, (200, 40, 40))
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
        solid_png(image, (180, 30, 30))
        film = self.production(self.spec()).model_dump()
        film["characters"]["ann"]["reference_images"] = [image]
        from ministudio.spec import Production

        manifest = self.render_production(tmp_path, engine_env, Production.model_validate(film))
        assert all(s.state == "done" for s in manifest.shots)
        assert all("1 reference image" in s.conditioning for s in manifest.shots)

    def test_the_shots_voice_reaches_the_engine_and_never_the_narrators(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A shot where a character in frame speaks hands the engine the shot's voice; a shot
        with only narration does not (a narrator moves no mouth on screen).

        Check first: the engine reads ``request.voice`` (a mono WAV on the shot's timeline;
        remote engines usually ``await context.upload(path)``) and ``request.shot.lines``
        (who speaks when). Needs ``Capabilities.reference_audio``.
        """
        from ministudio.engines.espeak import plugin as espeak
        from ministudio.spec import Production

        if not self.spec().capabilities.reference_audio:
            pytest.skip("the engine declares no reference_audio")
        film = self.production(self.spec()).model_dump()
        shots = film["scenes"][0]["shots"]
        shots[0]["dialogue"] = [{"speaker": "ann", "text": "Hello there."}]
        shots[1]["narration"] = "She walks away."
        host = self.host()
        if "espeak" not in host.engines:  # the lines' voices: the embedded speech engine
            host.register(espeak, "espeak")
        manifest = self.render_production(
            tmp_path, engine_env, Production.model_validate(film), host=host
        )
        spoken, narrated = manifest.shots
        assert spoken.state == narrated.state == "done", (spoken.error, narrated.error)
        assert "the shot's voice" in spoken.conditioning, spoken.conditioning
        assert "the shot's voice" not in narrated.conditioning, narrated.conditioning

    def test_an_edit_retake_changes_the_engines_own_take(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """A shot failing a check, with ``qc.ladder: [edit]``, is retaken by an edit of its own
        take: one more job, recorded as the ``edit`` take with a job id of its own.

        Check first: the engine reads ``request.edit`` (the job id of its own last take and
        the failed checks' reasons) and asks its API to change that take; the edit's clip is
        downloaded like any other, and ``VideoResult.engine_job_id`` names it. Needs
        ``Capabilities.edit``.
        """
        if not self.spec().capabilities.edit:
            pytest.skip("the engine declares no edit")
        from ministudio.spec import Production

        host = self.host()
        host.register(_FailsFirstTake("s1"), "fails-first-take")
        film = self.production(self.spec()).model_dump()
        film["qc"] = {"retakes": 1, "ladder": ["edit"]}
        before = self._submissions(engine_faults)
        manifest = self.render_production(
            tmp_path, engine_env, Production.model_validate(film), host=host
        )
        first, edit = manifest.shots[0].takes
        assert (first.rung, edit.rung) == ("first", "edit")
        assert edit.engine_job_id and edit.engine_job_id != first.engine_job_id
        assert edit.kept and manifest.shots[0].state == "done"
        after = self._submissions(engine_faults)
        if before is not None and after is not None:
            assert after - before == 3, "two shots and one edit"

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


class _FailsFirstTake:
    """A check that fails the first take of one shot (so the retake ladder runs)."""

    def __init__(self, shot_id: str) -> None:
        self.shot_id = shot_id
        self.failed = False

    @hookimpl
    def qc_check(self, shot: Any, clip: Path, judge: Any) -> Any:
        from ministudio.jobs import QCVerdict

        if judge is not None or shot.shot_id != self.shot_id or self.failed:
            return None
        self.failed = True
        return QCVerdict(check="kit", passed=False, score=0.0, reason="the kit fails take one")
