"""What is installed: ``plugins`` (each plugin, its engines, their keys and models) and
``voices`` (each speech engine's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ministudio.cli.keystore import key_source

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--models", is_flag=True, help="List each engine's models and their lifecycle.")
def plugins(as_json: bool, models: bool) -> None:
    """List plugins: distribution, version, hooks, engines (what each takes, its key and
    whether it is set, its models) and every problem (load errors, conflicting ids)."""
    import dataclasses
    import json

    from ministudio.plugins import PluginHost
    from ministudio.safety.keys import KeyStoreError, load, store_path

    host = PluginHost()
    try:
        stored = load(store_path())
    except KeyStoreError as exc:  # the listing still shows everything else
        click.echo(f"key store: {exc}", err=True)
        stored = {}
    usable = {p.name: [e for e in p.engines if e in host.engines] for p in host.plugins}
    if as_json:
        listed = []
        for info in host.plugins:
            entry = dataclasses.asdict(info) | {"problems": host.problems(info)}
            entry["capabilities"] = {
                e: dataclasses.asdict(host.engines[e].capabilities) for e in usable[info.name]
            }
            entry["keys"] = {e: _key_json(host.engines[e], stored) for e in usable[info.name]}
            if models:
                entry["models"] = {e: _models_json(host.engines[e]) for e in usable[info.name]}
            listed.append(entry)
        click.echo(json.dumps(listed, indent=2, default=str))
        return
    for p in host.plugins:
        status = click.style("failed", fg="red") if p.error else click.style("ok", fg="green")
        click.echo(f"{p.name}  [{status}]  {p.distribution} {p.version}  ({p.module})")
        if p.error:
            click.echo(f"    error: {p.error}")
            continue
        click.echo(f"    hooks: {', '.join(p.hooks)}")
        for engine_id in usable[p.name]:
            spec = host.engines[engine_id]
            click.echo(f"    engine {spec.id} ({spec.kind}){_tag(spec)}: {spec.description}")
            for line in _engine_lines(spec, stored, models):
                click.echo(f"      {line}")
        for problem in host.problems(p):
            click.echo(click.style("    problem: ", fg="red") + problem)


def _price(spec: EngineSpec) -> str:
    """Its price per second; an engine with a key but no declared price prices each request
    itself (``estimate_cost``: e.g. per endpoint, once it knows the endpoint)."""
    price = spec.capabilities.price_per_second
    if price:
        return f"${price:g}/s"
    return "priced per request (`ministudio plan`)" if spec.key_env else "free"


def _engine_lines(spec: EngineSpec, stored: dict[str, str], models: bool) -> list[str]:
    """What `plugins` says under an engine: what it takes, its key, its models."""
    from ministudio.engines.variants import describe

    caps = spec.capabilities
    takes = [
        describe(caps) if spec.kind == "video" else "",
        "seed" if caps.seed else "no seed",
        "webhooks" if caps.webhooks else "",
        f"{caps.concurrency} at once",
        _price(spec),
    ]
    joined = (" and " if spec.all_keys else " or ").join(spec.key_env)
    key = f"{joined}: {key_source(spec, stored)}" if spec.key_env else "none needed"
    lines = [f"takes: {', '.join(t for t in takes if t)}", f"key: {key}"]
    if models:
        lines += _model_lines(spec)
    elif spec.default_model:
        lines.append(f"model: {spec.default_model} (--models for all, with their lifecycle)")
    return lines


def _key_json(spec: EngineSpec, stored: dict[str, str]) -> dict[str, Any]:
    import os

    from ministudio.safety.keys import source

    where, _ = source(spec.key_env, spec.all_keys, os.environ, stored)
    return {"variables": list(spec.key_env), "all": spec.all_keys, "source": where}


def _tag(spec: EngineSpec) -> str:
    """``[retired]`` when every model the engine declares is, else ``[legacy]`` if it says."""
    from ministudio.engines.lifecycle import today

    if spec.models and all(model.retired(today()) for model in spec.models):
        return "  [retired]"
    return "  [legacy]" if spec.legacy else ""


def _model_lines(spec: EngineSpec) -> list[str]:
    """One line per declared model: id, stage, shutdown and replacement, what it is for;
    under it, what each of its variants (modes, lengths) takes."""
    from ministudio.engines.lifecycle import today
    from ministudio.engines.variants import describe

    on = today()
    lines = []
    for model in spec.models:
        stage = "retired" if model.retired(on) else model.stage
        notes = [stage + (" (default)" if model.id == spec.default_model else "")]
        if model.shutdown and not model.retired(on):
            notes.append(f"shuts down {model.shutdown.isoformat()}")
        elif model.shutdown:
            notes.append(f"off since {model.shutdown.isoformat()}")
        if model.replacement and (model.shutdown or stage in ("deprecated", "retired")):
            notes.append(model.instead())
        use = f": {model.use}" if model.use else ""
        lines.append(f"model {model.id}  [{', '.join(notes)}]{use}")
        for variant in (v for v in spec.variants if v.model == model.id):
            mode = f"{variant.mode}: " if variant.mode else ""
            lines.append(f"  {mode}{describe(variant.capabilities)}")
    return lines or ["(no models declared)"]


def _models_json(spec: EngineSpec) -> list[dict[str, Any]]:
    import dataclasses

    return [
        {
            **dataclasses.asdict(m),
            "default": m.id == spec.default_model,
            "variants": [dataclasses.asdict(v) for v in spec.variants if v.model == m.id],
        }
        for m in spec.models
    ]


class NotInstalled(click.ClickException):
    """An engine id no installed plugin provides: a configuration error (exit 2)."""

    exit_code = 2


@click.command()
@click.argument("engine", required=False)
def voices(engine: str | None) -> None:
    """List each speech engine's voices (for characters' `voice` settings), or ENGINE's."""
    from ministudio.errors import MinistudioError
    from ministudio.plugins import PluginHost

    host = PluginHost()
    ids = [engine] if engine else [e.id for e in host.engines.values() if e.kind == "speech"]
    for engine_id in ids:
        try:
            names = host.voices(engine_id)
        except MinistudioError as exc:
            raise NotInstalled(str(exc)) from None
        click.echo(f"{engine_id}: " + (", ".join(names) if names else "(no list)"))
        if engine_id == "espeak":  # the embedded voice also takes variants
            from ministudio.engines.espeak.voices import list_variants

            click.echo(f"  variants (voice: en-us+f3): {', '.join(list_variants())}")
