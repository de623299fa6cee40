"""What both conformance kits share: the subclass's declarations, its plugin host, and the
check that importing a plugin imports no SDK."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pytest

if TYPE_CHECKING:
    from ministudio.engines import EngineKind, EngineSpec
    from ministudio.plugins import PluginHost
    from ministudio.run.manifest import Manifest
    from ministudio.run.render import RenderOptions
    from ministudio.spec import Production


class FaultInjector(Protocol):
    """What the kit needs from a remote engine's fake server."""

    def fail_next(self, endpoint: str, kind: str) -> None: ...


class EngineKit:
    """The base of the conformance kits: what a subclass declares and provides."""

    engine_id: str = ""
    sdk_modules: tuple[str, ...] = ()  # modules importing the plugin must not import
    kind: ClassVar[EngineKind] = "video"
    # ``routing.limits`` for the engine in the kit's films: the fault tests send more requests
    # than a film needs, so an engine declaring a low per-minute rate may set a higher one.
    engine_limits: ClassVar[Mapping[str, Any]] = {}

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
        from ministudio.remote.pacing import RetryPolicy
        from ministudio.run.render import RenderOptions

        return RenderOptions(retry=RetryPolicy(attempts=6, base=0.02, cap=0.2))

    def host(self) -> PluginHost:
        """A plugin host holding only the plugin under test."""
        from ministudio.plugins import PluginHost

        host = PluginHost(discover=False)
        info = host.register(self.plugin(), self.engine_id)
        assert info.error is None, f"the plugin failed to register: {info.error}"
        return host

    def render_production(
        self,
        tmp_path: Path,
        env: Mapping[str, str],
        production: Production,
        *,
        out: str = "out",
        host: PluginHost | None = None,
        options: RenderOptions | None = None,
    ) -> Manifest:
        """Render ``production`` into ``tmp_path/out`` with a private store in ``tmp_path``."""
        from ministudio.run.render import render
        from ministudio.run.store import ContentStore

        return render(
            production,
            tmp_path / out,
            host=host or self.host(),
            store=ContentStore(tmp_path / "store"),
            env=dict(env),
            options=options or self.render_options(),
        )

    def film(self) -> Production:
        """The kit's own production, rendered by the tests every kit shares."""
        raise NotImplementedError("a kit must define film()")

    def routing_limits(self) -> dict[str, Any]:
        """The kit's films' ``routing.limits``."""
        return {self.engine_id: dict(self.engine_limits)} if self.engine_limits else {}

    def spec(self, host: PluginHost | None = None) -> EngineSpec:
        return (host or self.host()).engine(self.engine_id, self.kind)

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
            self.render_production(tmp_path, env, self.film())
        assert any(name in str(info.value) for name in spec.key_env), str(info.value)

    def test_models_are_declared_with_their_lifecycle(self) -> None:
        """The engine declares its models (``EngineSpec.models``), the default among them and
        not retired; ids and aliases are unique; a replacement is a declared model (of this
        engine, or of ``replacement_engine`` when that is installed) that is not retired.

        Check first: ``models=(Model(id, stage, shutdown, replacement, use=...), ...)`` in the
        plugin's ``EngineSpec``, with the dates from the provider's deprecations page.
        """
        from ministudio.engines.lifecycle import find, today

        host = self.host()
        spec = self.spec(host)
        if spec.default_model is None and not spec.models:
            pytest.skip("the engine names no model")
        names = [n for m in spec.models for n in (m.id, *m.aliases)]
        assert spec.models, f"engine {spec.id} has a default model but declares no models"
        assert len(names) == len(set(names)), f"model ids or aliases repeat: {sorted(names)}"
        on = today()
        default = find(spec.models, spec.default_model or "")
        assert default is not None, f"the default model {spec.default_model!r} is not declared"
        assert not default.retired(on), f"the default model {default.id} is retired"
        for model in spec.models:
            if model.replacement is None:
                continue
            other = host.engines.get(model.replacement_engine or spec.id)
            if other is None:
                continue  # the replacement's engine is another package, not installed here
            replacement = find(other.models, model.replacement)
            assert replacement is not None, f"{model.id}: replacement {model.replacement} unknown"
            assert not replacement.retired(on), f"{model.id}: replacement {replacement.id} retired"

    def test_importing_the_plugin_does_not_import_its_sdk(self) -> None:
        """Importing the plugin module in a fresh interpreter leaves its SDK unimported.

        Check first: module-level imports of the SDK (move them inside the hooks; import
        them under ``TYPE_CHECKING`` for annotations).
        """
        if not self.sdk_modules:
            pytest.skip("no sdk_modules declared")
        module = _module_of(self.plugin())
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


def _module_of(plugin: object) -> types.ModuleType:
    """The module a plugin's code lives in: the plugin itself, the module of an
    ``EnginePlugin``'s first engine (not ``ministudio.plugin_kit``), else its class's."""
    from ministudio.plugin_kit import EnginePlugin

    if isinstance(plugin, types.ModuleType):
        return plugin
    if isinstance(plugin, EnginePlugin) and plugin.engines:
        return sys.modules[type(plugin.engines[0]).__module__]
    return sys.modules[type(plugin).__module__]


def solid_png(path: Path, colour: tuple[int, int, int]) -> None:
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
