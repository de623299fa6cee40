"""``keys``: the engine API keys stored for when the environment does not set them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec


@click.group()
def keys() -> None:
    """Store engine API keys, used when the environment does not set them."""


@keys.command("set")
@click.argument("name")
@click.option(
    "--value",
    default=None,
    help="The key; '-' reads it from stdin. Without it, a prompt asks (input hidden); "
    "prefer that or '-': a value on the command line stays in your shell history.",
)
def keys_set(name: str, value: str | None) -> None:
    """Store the key for an engine (e.g. luma) or a variable (e.g. LUMAAI_API_KEY).

    For an engine, the key is stored under the first variable it reads; for an engine that
    needs a key pair (e.g. kling), each of its variables is asked for in turn."""
    import os

    from ministudio.safety.keys import load, save, store_path

    engines = _key_engines()
    variables = _key_variables(name, engines)
    if value is not None and len(variables) > 1:
        raise click.UsageError(
            f"{name} needs {' and '.join(variables)}: set each by name, or leave out --value"
        )
    path = store_path()
    stored = load(path)
    for variable in variables:
        if value is None:
            users = ", ".join(e.id for e in engines if variable in e.key_env)
            text = click.prompt(f"{variable}" + (f" ({users})" if users else ""), hide_input=True)
        else:
            text = sys.stdin.read() if value == "-" else value
        if not text.strip():
            raise click.UsageError("the key is empty: nothing stored")
        stored[variable] = text.strip()
    save(path, stored)
    for variable in variables:
        click.echo(f"stored {variable} in {path}")
        if not any(variable in e.key_env for e in engines):
            click.echo(f"note: no installed engine reads {variable}", err=True)
        if os.environ.get(variable):
            click.echo(f"note: {variable} is also set in the environment, which wins", err=True)


@keys.command("list")
def keys_list() -> None:
    """Show the stored variables (never their values) and where each engine's key comes from."""
    from ministudio.safety.keys import load, store_path

    path = store_path()
    stored = load(path)
    engines = _key_engines()
    click.echo(f"stored in {path}:" if stored else f"no keys stored in {path}")
    for variable, value in sorted(stored.items()):
        hint = f"  ...{value[-4:]}" if len(value) > 12 else ""
        users = ", ".join(e.id for e in engines if variable in e.key_env) or "no installed engine"
        click.echo(f"  {variable}{hint}  (used by {users})")
    if engines:
        click.echo("engines:")
    for spec in engines:
        click.echo(f"  {spec.id}: {key_source(spec, stored)}")


def key_source(spec: EngineSpec, stored: dict[str, str]) -> str:
    """Where ``spec``'s key comes from, coloured; for a missing one, the command to set it."""
    import os

    from ministudio.safety.keys import source

    where, names = source(spec.key_env, spec.all_keys, os.environ, stored)
    if where == "missing":
        lacking = f" {names}" if names else ""
        return click.style("missing", fg="red") + f"{lacking}: run `ministudio keys set {spec.id}`"
    return click.style(where, fg="green") + f" ({names})"


@keys.command("remove")
@click.argument("name")
def keys_remove(name: str) -> None:
    """Delete a stored key: a variable, or every variable an engine reads."""
    from ministudio.safety.keys import is_variable, load, save, store_path

    if is_variable(name):
        variables: tuple[str, ...] = (name,)
    else:
        variables = _engine_spec(name, _key_engines()).key_env
    path = store_path()
    stored = load(path)
    gone = [v for v in variables if v in stored]
    if not gone:
        raise click.ClickException(f"no key stored for {name} in {path}")
    save(path, {k: v for k, v in stored.items() if k not in gone})
    click.echo(f"removed {', '.join(gone)} from {path}")


@keys.command("path")
def keys_path() -> None:
    """Print the key store's file ($MINISTUDIO_KEYS_FILE, else in the user config dir)."""
    from ministudio.safety.keys import store_path

    click.echo(str(store_path()))


def _key_engines() -> list[EngineSpec]:
    """The installed engines that need a key, by id."""
    from ministudio.plugins import PluginHost

    engines = PluginHost().engines
    return [engines[i] for i in sorted(engines) if engines[i].key_env]


def _engine_spec(name: str, engines: list[EngineSpec]) -> EngineSpec:
    """The installed engine ``name`` that needs a key, or a usage error saying what to give."""
    spec = next((e for e in engines if e.id == name), None)
    if spec is None:
        known = ", ".join(e.id for e in engines) or "none"
        raise click.UsageError(
            f"'{name}' is neither an installed engine that needs a key (those are: {known}) "
            f"nor a variable name in capitals (e.g. LUMAAI_API_KEY)"
        )
    return spec


def _key_variables(name: str, engines: list[EngineSpec]) -> tuple[str, ...]:
    """The variables ``keys set NAME`` stores: NAME itself; for an engine, the first one it
    reads (its variables are alternatives: any one suffices), or all for a key pair."""
    from ministudio.safety.keys import is_variable

    if is_variable(name):
        return (name,)
    spec = _engine_spec(name, engines)
    return spec.key_env if spec.all_keys else spec.key_env[:1]
