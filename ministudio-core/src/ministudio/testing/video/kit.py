"""The video conformance kit's base: its settings, its films and how they render."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from ministudio.testing._kit import EngineKit

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec
    from ministudio.plugins import PluginHost
    from ministudio.run.manifest import Manifest
    from ministudio.spec import Production

FPS = 24


class VideoKit(EngineKit):
    """What the video kit's tests share: the subclass's settings, the kit's films and how
    they render, and the counters of a remote engine's fake."""

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
