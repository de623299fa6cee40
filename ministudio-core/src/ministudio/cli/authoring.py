"""The commands for writing files: ``validate`` a production, print its ``schema``, scaffold a
plugin with ``new-plugin``."""

from __future__ import annotations

from pathlib import Path

import click

from ministudio.cli.common import images_option, load


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@images_option
def validate(file: str) -> None:
    """Check a file without rendering: the spec, and that routing names installed engines
    able to render the film's format."""
    from ministudio.plan.shots import plan_shots
    from ministudio.plugins import PluginHost

    production = load(file)
    planned = plan_shots(production, PluginHost())
    engines = sorted(
        {ps.engine.id for ps in planned}
        | {line.engine for ps in planned for line in ps.lines}
        | ({production.qc.judge} if production.qc.judge else set())
    )
    click.echo(
        f"{file}: valid: '{production.title}', {len(planned)} shots in "
        f"{len(production.scenes)} scenes, {len(production.characters)} characters; "
        f"engines: {', '.join(engines)}"
    )


@click.command()
def schema() -> None:
    """Print the production JSON Schema (for editor autocompletion)."""
    import json

    from ministudio.spec import Production

    click.echo(json.dumps(Production.model_json_schema(), indent=2))


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to create the package's folder, ministudio-NAME.",
)
def new_plugin(name: str, directory: str) -> None:
    """Create a plugin package: one video engine NAME, its entry point and its conformance
    tests (they pass before any change)."""
    from ministudio.plugins.scaffold import names
    from ministudio.plugins.scaffold import new_plugin as make

    folder = make(name, Path(directory))
    module = folder / "src" / names(name)["module"] / "__init__.py"
    click.echo(
        f"created {folder}: video engine '{name}' and its conformance tests\nnext:\n"
        f'  cd {folder}\n  python -m pip install -e ".[test]"\n  python -m pytest\n'
        f"then replace _render in {module} with calls to your engine "
        '(see "Writing a plugin" in MiniStudio\'s README)'
    )
