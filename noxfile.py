"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s types` (all three by default)."""

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint", "types"]


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the workspace (every package, editable) and dependency groups from uv.lock."""
    args = ["uv", "sync", "--locked", "--all-packages"]
    for group in groups:
        args += ["--group", group]
    session.run_install(*args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location})


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, spread over the machine's cores."""
    _sync(session, "test")
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    _sync(session, "lint")
    session.run("ruff", "check", ".")


@nox.session
def types(session: nox.Session) -> None:
    _sync(session, "lint", "test")  # the conformance kit (ministudio.testing) uses pytest
    session.run(
        "mypy",
        "ministudio-core/src",
        "ministudio-provider-luma/src",
        "ministudio-provider-veo/src",
        "ministudio-tts/src",
        "ministudio-provider-kling/src",
        "ministudio-provider-sora/src",
        "ministudio-provider-sync/src",
        "ministudio-provider-fal/src",
        "ministudio-provider-runway/src",
    )
