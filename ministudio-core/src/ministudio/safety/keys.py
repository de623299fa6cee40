"""The key store: engine API keys saved by ``ministudio keys set``, for when the env has none.

A JSON object ``{variable name: value}`` (e.g. ``{"LUMAAI_API_KEY": "..."}``) in
``$MINISTUDIO_KEYS_FILE``, else ``keys.json`` in the user config dir. Written atomically, mode
0600. A key set in the environment always wins over the stored one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ministudio.errors import MinistudioError

FILE_VARIABLE = "MINISTUDIO_KEYS_FILE"
_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")


class KeyStoreError(MinistudioError):
    """The key store file cannot be read, parsed or written."""


def is_variable(name: str) -> bool:
    """Whether ``name`` looks like an environment variable name (``LUMAAI_API_KEY``)."""
    return bool(_VARIABLE.fullmatch(name))


def store_path(env: Mapping[str, str] | None = None) -> Path:
    """``MINISTUDIO_KEYS_FILE`` from ``env``, else from ``os.environ``, else the user config dir.

    Falling back to ``os.environ`` keeps a render given an explicit ``env`` dict on the store
    the process was pointed at (tests point it at a temporary file).
    """
    path = (env or {}).get(FILE_VARIABLE) or os.environ.get(FILE_VARIABLE)
    if path:
        return Path(path)
    import click

    return Path(click.get_app_dir("ministudio")) / "keys.json"


def load(path: Path) -> dict[str, str]:
    """The stored keys; a missing file is an empty store."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeyStoreError(
            f"cannot read the key store {path} ({exc.strerror or type(exc).__name__}): fix its "
            f"permissions, or set {FILE_VARIABLE} to another file"
        ) from None
    except UnicodeDecodeError:
        raise _corrupt(path, "not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:  # its message names a position, never the content
        raise _corrupt(path, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise _corrupt(path, 'not a JSON object of {"VARIABLE": "key"} strings')
    return data


def save(path: Path, keys: Mapping[str, str]) -> None:
    """Replace the store with ``keys``: atomically, the file readable by its owner only."""
    blob = (json.dumps(dict(sorted(keys.items())), indent=2) + "\n").encode()
    temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    except OSError as exc:
        raise KeyStoreError(
            f"cannot write the key store {path} ({exc.strerror or type(exc).__name__}): fix "
            f"the folder's permissions, or set {FILE_VARIABLE} to another file"
        ) from None


def lookup_any(names: Iterable[str], env: Mapping[str, str]) -> str | None:
    """The first of ``names`` set in ``env``; else the first of them in the store; else None.

    The store is read only when the environment has none of them.
    """
    names = tuple(names)
    for name in names:
        if env.get(name):
            return env[name]
    if not names:
        return None
    stored = load(store_path(env))
    return next((stored[name] for name in names if stored.get(name)), None)


def lookup(name: str, env: Mapping[str, str]) -> str | None:
    """The value of variable ``name``: from ``env`` when set there, else from the store."""
    return lookup_any((name,), env)


def source(
    names: tuple[str, ...], all_keys: bool, env: Mapping[str, str], stored: Mapping[str, str]
) -> tuple[str, str]:
    """Where an engine reading the variables ``names`` (every one of them if ``all_keys``)
    finds its key: ("environment" or "store", the variable), ("found", the variables) for a
    pair, or ("missing", what is missing; "" when any one would do)."""
    lacking = [v for v in names if not (env.get(v) or stored.get(v))]
    if all_keys:
        return ("missing", ", ".join(lacking)) if lacking else ("found", ", ".join(names))
    for where, values in (("environment", env), ("store", stored)):
        found = next((v for v in names if values.get(v)), None)
        if found:
            return where, found
    return "missing", ""


def described(exc: Exception, names: Iterable[str], env: Mapping[str, str]) -> str:
    """A failure as text (a MiniStudio error's message, else its type and message), through
    the blanking gate (``ministudio.safety.secrets``), which also knows the key variables ``names``
    of ``env``."""
    from ministudio.safety.secrets import gate

    text = str(exc) if isinstance(exc, MinistudioError) else f"{type(exc).__name__}: {exc}"
    return gate(env, names).blank(text)


def _corrupt(path: Path, reason: str) -> KeyStoreError:
    return KeyStoreError(
        f"the key store {path} is damaged ({reason}): fix it by hand or delete it, then store "
        f"the keys again with `ministudio keys set ENGINE`"
    )
