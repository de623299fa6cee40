"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s types` (all three by default)."""

import os
import shutil

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint", "types"]


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the workspace (every package, editable) and dependency groups from uv.lock."""
    args = ["uv", "sync", "--locked", "--all-packages"]
    for group in groups:
        args += ["--group", group]
    session.run_install(*args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location})


def _chromium(session: nox.Session) -> None:
    """The review page's browser tests drive the system's Chromium (Playwright downloads no
    browser): install Debian's when it is missing and this is root with apt-get (CI), else
    say how. On CI (``CI`` set) those tests fail without one; elsewhere they are skipped."""
    named = os.environ.get("MINISTUDIO_CHROMIUM")
    if named or shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", external=True, env=env)
        session.run(
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            external=True,
            env=env,
        )
        return
    session.warn(
        "no Chromium found: the review page's browser tests will be skipped (they fail on "
        "CI). Install it: `sudo apt-get install chromium` (Debian/Ubuntu), or set "
        "MINISTUDIO_CHROMIUM to a Chromium or Chrome executable."
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, spread over the machine's cores."""
    _sync(session, "test")
    _chromium(session)
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
