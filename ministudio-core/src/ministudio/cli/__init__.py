"""The ``ministudio`` command: ``main``, the entry point, and the ``cli`` group, with its
commands from the modules beside this one (authoring, catalog, rendering, inspecting,
keystore). Heavy modules are imported inside commands: ``--help`` stays fast."""

from __future__ import annotations

import sys

import click

from ministudio.cli.authoring import new_plugin, schema, validate
from ministudio.cli.catalog import plugins, voices
from ministudio.cli.exporting import export
from ministudio.cli.importing import import_
from ministudio.cli.inspecting import cancel, qc, status
from ministudio.cli.keystore import keys
from ministudio.cli.rendering import plan, promote, render
from ministudio.cli.reviewing import review
from ministudio.cli.writing import cast, storyboard

UNEXPECTED = 3  # the exit code of an error MiniStudio did not foresee (a bug)
_debug = False  # --debug: print the traceback of an error


def main() -> None:
    """Entry point: every error prints as a clear message, never a traceback unless asked
    (``--debug`` or ``MINISTUDIO_DEBUG=1``). Exit codes: a typed error's own (1 or 2), 3 for
    an unexpected one, 130 when interrupted."""
    import os

    from ministudio.safety.secrets import blanked_output

    global _debug
    _debug = os.environ.get("MINISTUDIO_DEBUG", "").strip() not in ("", "0")
    with blanked_output():
        _run()


def _run() -> None:
    """The command, each way it can end turned into a message and an exit code."""
    from ministudio.errors import MinistudioError

    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        _say_error(f"Error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    except MinistudioError as exc:
        _say_error(f"error: {exc}", traceback=_debug)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: finished shots are kept in the store", err=True)
        sys.exit(130)
    except Exception as exc:
        message = " ".join(str(exc).split())  # one line
        hint = "" if _debug else " (unexpected: run again with --debug for the traceback)"
        _say_error(f"error: {type(exc).__name__}: {message}{hint}", traceback=_debug)
        sys.exit(UNEXPECTED)


def _say_error(text: str, *, traceback: bool = False) -> None:
    """Print an error (and, with ``traceback``, the one being handled) on stderr, which
    ``main`` has put behind the blanking gate."""
    if traceback:
        import traceback as tb

        text = f"{tb.format_exc().rstrip()}\n{text}"
    click.secho(text, fg="red", err=True)


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    global _debug
    _debug = _debug or value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ministudio-core", prog_name="ministudio")
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Print the traceback of an error (also MINISTUDIO_DEBUG=1).",
)
def cli() -> None:
    """MiniStudio: make films with AI video models as code."""
    if _debug:  # what MiniStudio logs (a crash a fallback saved, with its traceback) too
        import logging

        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("ministudio").setLevel(logging.DEBUG)


for _command in (
    validate,
    schema,
    import_,
    storyboard,
    cast,
    new_plugin,
    plugins,
    voices,
    render,
    promote,
    plan,
    status,
    qc,
    cancel,
    export,
    review,
    keys,
):
    cli.add_command(_command)
