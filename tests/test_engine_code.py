"""Job keys cover the engine's code: its plugin's version, or the revision it pins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ministudio import hookimpl
from ministudio.engines.animatic import plugin as animatic
from ministudio.engines.espeak import plugin as espeak
from ministudio.plugins import PluginHost, PluginInfo
from ministudio.run.render import plan, render
from ministudio.run.store import ContentStore

from .conftest import tiny_production


class Pinned:
    """The animatic, declared with a pinned revision (as a paid engine declares it)."""

    def __init__(self, revision: int) -> None:
        self.revision = revision

    @hookimpl
    def ministudio_engines(self):
        return [dataclasses.replace(animatic.ministudio_engines()[0], revision=self.revision)]

    @hookimpl
    def generate_video(self, engine, request, output, context):
        return animatic.generate_video(engine, request, output, context)


def _host(video: object, version: str) -> PluginHost:
    host = PluginHost(discover=False)
    host.register(video, PluginInfo("animatic", "ministudio-animatic", version, "m"))
    host.register(espeak, PluginInfo("espeak", "ministudio-core", "0.1.0", "e"))
    return host


def test_upgrading_a_plugin_remakes_its_clips_and_plan_says_why(tmp_path: Path) -> None:
    """An engine that pins no revision: the same production after its plugin went from 1.0
    to 1.1 is not served from the store, and `plan` names the upgrade; back at 1.0, it is."""
    store = ContentStore(tmp_path / "store")
    production = tiny_production()
    out = tmp_path / "out"
    made = render(production, out, host=_host(animatic, "1.0"), store=store)
    assert {s.inputs["code"] for s in made.shots} == {"ministudio-animatic 1.0"}
    upgraded = plan(production, out, host=_host(animatic, "1.1"), store=store)
    assert [s.cached for s in upgraded.shots] == [False, False]
    for shot in upgraded.shots:
        assert "engine updated: ministudio-animatic 1.0 -> ministudio-animatic 1.1" in shot.reason
    same = plan(production, out, host=_host(animatic, "1.0"), store=store)
    assert all(s.cached for s in same.shots)


def test_a_pinned_revision_keeps_clips_across_upgrades_until_it_is_bumped(
    tmp_path: Path,
) -> None:
    """A paid engine pins ``revision``: upgrading its plugin pays for nothing again; bumping
    the revision remakes its clips, and `plan` says so."""
    store = ContentStore(tmp_path / "store")
    production = tiny_production()
    out = tmp_path / "out"
    render(production, out, host=_host(Pinned(0), "1.0"), store=store)
    assert all(
        s.cached for s in plan(production, out, host=_host(Pinned(0), "2.0"), store=store).shots
    )
    bumped = plan(production, out, host=_host(Pinned(1), "2.0"), store=store)
    assert not any(s.cached for s in bumped.shots)
    assert all("engine updated: revision 0 -> revision 1" in s.reason for s in bumped.shots)


def test_every_paid_first_party_engine_pins_its_revision() -> None:
    """A new version of a provider package must not re-pay for clips it makes the same way."""
    host = PluginHost(env={})
    paid = {
        engine_id: spec.revision
        for engine_id, spec in host.engines.items()
        if host.owner(engine_id).distribution != "ministudio-core"
    }
    assert paid and None not in paid.values(), paid
