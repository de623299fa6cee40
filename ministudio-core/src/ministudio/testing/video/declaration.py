"""The video kit's tests of what an engine declares: its capabilities are consistent, each
variant renders what it declares, and what it cannot render is refused before any work."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ministudio.testing._kit import EngineKit, solid_png
from ministudio.testing.video.kit import VideoKit

if TYPE_CHECKING:
    from ministudio.run.manifest import Manifest

_LONGEST_SHOT = 600  # seconds: the longest explicit shot duration a production allows


class DeclarationTests(VideoKit):
    """What the engine declares holds: capabilities, variants, durations, aspect ratios."""

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

        variants = EngineKit.spec(self).variants  # as declared, not narrowed to a model
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
