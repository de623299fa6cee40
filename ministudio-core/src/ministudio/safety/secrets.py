"""The blanking gate: every text bound for the terminal, manifest.json, the journal or a report
passes ``blank`` first, which puts ``***`` in place of each secret of the process and the forms
it leaks in.

The secrets: the value of every installed engine's ``key_env`` variable (from the environment
or the key store), every other secret-looking variable (``*_API_KEY``, ``*_SECRET*``,
``*_TOKEN``, ``*_PASSWORD``...), every value in the key store, the string values of
``*_STORE_OPTIONS`` (asset hosts' storage options), and whatever ``register`` was given. Each is
also found as base64 and base64url (at the three byte alignments, so inside a longer encoded
text such as a JWT payload), percent-encoded, JSON-escaped, and cut short (any prefix of 8 or
more characters that ends the text or a token). Besides, every JWT and every ``Bearer`` token
is blanked whole: they are credentials whoever signed them.

Values shorter than ``MIN_LENGTH`` characters are not blanked: they would match ordinary words
and numbers, and no engine issues keys that short.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 8  # shorter values are never blanked; a cut-short echo of 8 characters is
# Variable names whose values are secrets, whichever engine reads them.
_SECRET_NAME = re.compile(r"API_?KEY|ACCESS_KEY|SECRET|TOKEN|PASSWORD|PASSWD")
_NOT_SECRET_NAME = re.compile(r"_(FILE|PATH|DIR|URL|ENDPOINT|ID)$")
# Storage option keys that are not secret.
_PLAIN_OPTIONS = ("endpoint_url", "region_name", "region", "profile", "anon", "use_ssl")
_JWT = r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?"
_BEARER = r"\b(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_\-+/=%]")  # a cut-short copy ends before none of these

_registered: set[str] = set()
_lock = threading.Lock()
_local = threading.local()  # ``inside``: this thread is making a log record already


class Blanker:
    """Blanks a fixed set of secrets, and their derived forms, in any text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = frozenset(s for s in (v.strip() for v in secrets) if len(s) >= MIN_LENGTH)
        forms = {form for secret in self.secrets for form in derived_forms(secret)}
        self._by_head: dict[str, list[str]] = {}
        for form in sorted(forms, key=len, reverse=True):
            self._by_head.setdefault(form[:MIN_LENGTH], []).append(form)
        heads = "|".join(re.escape(head) for head in sorted(self._by_head))
        self._pattern = re.compile(
            f"(?P<jwt>{_JWT})|(?P<bearer>{_BEARER})" + (f"|(?P<head>{heads})" if heads else "")
        )

    def blank(self, text: str) -> str:
        """``text`` with every secret, derived form, JWT and bearer token replaced by ``***``."""
        spans: list[tuple[int, int]] = []
        pos = 0
        while (found := self._pattern.search(text, pos)) is not None:
            start, end = found.span()
            if found.group("head") is not None:
                end = self._extent(text, start, found.group("head"))
            if end > start:
                if spans and start <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
                else:
                    spans.append((start, end))
            pos = start + 1
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts += [text[last:start], MASK]
            last = end
        return "".join(parts) + text[last:]

    def _extent(self, text: str, start: int, head: str) -> int:
        """Where a form starting at ``start`` ends: the whole form, or a cut-short copy of 8+
        characters that ends the text or the token; ``start`` if it is neither."""
        best = start
        for form in self._by_head[head]:
            if text.startswith(form, start):
                return start + len(form)  # forms are longest first
            n = MIN_LENGTH
            while n < len(form) and start + n < len(text) and text[start + n] == form[n]:
                n += 1
            after = start + n
            if after == len(text) or not _TOKEN_CHAR.match(text, after):
                best = max(best, after)
        return best


def derived_forms(secret: str) -> set[str]:
    """``secret`` as it may travel: raw, base64 and base64url at each byte alignment (the part
    only the secret decides, so it is found inside a longer encoded text), percent-encoded and
    JSON-escaped. Forms shorter than ``MIN_LENGTH`` are left out."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in set(forms)}
    raw = secret.encode()
    for align in range(3):
        encoded = base64.b64encode(b"\0" * align + raw).decode().rstrip("=")
        first = -(-8 * align // 6)  # the first character no padding byte touches
        last = 8 * (align + len(raw)) // 6  # past the last character the secret alone decides
        core = encoded[first:last]
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    return {form for form in forms if len(form) >= MIN_LENGTH}


def register(*secrets: str) -> None:
    """Add secrets the environment does not name (storage passwords, minted tokens...) to
    the process's gate."""
    with _lock:
        _registered.update(s.strip() for s in secrets if s and s.strip())


def secrets_of(env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> set[str]:
    """Every secret the process knows: of ``os.environ`` and ``env`` (the values of ``names``,
    of the installed engines' key variables and of secret-looking variables, and string values
    of ``*_STORE_OPTIONS``), the key store's values, and the registered ones."""
    wanted = set(names) | _installed_key_names()
    found = _registered_and_stored(env)
    for source in (os.environ, env or {}):
        for name, value in source.items():
            if not value:
                continue
            if name in wanted or (_SECRET_NAME.search(name) and not _NOT_SECRET_NAME.search(name)):
                found.add(value)
            elif name.endswith("STORE_OPTIONS"):
                found.update(_option_secrets(value))
    return found


def _registered_and_stored(env: Mapping[str, str] | None = None) -> set[str]:
    """The registered secrets and the key store's values."""
    from ministudio.safety.keys import KeyStoreError, load, store_path

    with _lock:
        found = set(_registered)
    with contextlib.suppress(KeyStoreError):  # an unreadable store has handed out no key
        found.update(load(store_path(env)).values())
    return found


def gate(env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> Blanker:
    """The gate for the secrets of the process, plus those of ``env`` (see ``secrets_of``)."""
    return _blanker(frozenset(secrets_of(env, names)))


def blank(text: str) -> str:
    """``text`` through the process's gate (``os.environ``, the key store, the installed
    engines' key variables and the registered secrets)."""
    if not _may_hold_secrets(text):
        return text
    return gate().blank(text)


def _may_hold_secrets(text: str) -> bool:
    """Whether ``text`` holds any form of any value of the environment, the key store or the
    registered secrets, or a token: a superset of the secrets, found without discovering the
    plugins (which ``--help`` and most output would otherwise pay for)."""
    values = set(os.environ.values()) | _registered_and_stored()
    return _blanker(frozenset(values)).blank(text) != text


class BlankedStream:
    """A text stream (``sys.stdout``, ``sys.stderr``) whose every write passes the gate."""

    WITHHELD = "(output withheld: it could not be checked for keys)\n"

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            checked = blank(text) if text else text
        except Exception:  # never print what could not be checked
            checked = self.WITHHELD
        self.stream.write(checked)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # isatty, flush, fileno, encoding...
        return getattr(self.stream, name)


@contextlib.contextmanager
def blanked_output() -> Iterator[None]:
    """Within it, everything printed on ``sys.stdout`` and ``sys.stderr`` (messages, the live
    progress, warnings, tracebacks) passes the gate."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = BlankedStream(saved[0]), BlankedStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def guard_logging() -> None:
    """Blank every log record's message and traceback as it is made, whichever its logger."""
    global _logging_guarded
    with _lock:
        if _logging_guarded:
            return
        _logging_guarded = True
        make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if getattr(_local, "inside", False):  # a record logged while the gate is being built
            return record
        _local.inside = True
        try:
            message = record.getMessage()
            found = gate()
            record.msg, record.args = found.blank(message), None
            if record.exc_info and record.exc_info[0] is not None:
                text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                record.exc_text = found.blank(text)
        except Exception:  # a broken format: left for logging to report
            pass
        finally:
            _local.inside = False
        return record

    logging.setLogRecordFactory(factory)


_logging_guarded = False


@functools.lru_cache(maxsize=16)
def _blanker(secrets: frozenset[str]) -> Blanker:
    return Blanker(secrets)


@functools.cache
def _installed_key_names() -> frozenset[str]:
    """Every key variable an installed engine reads (plugins are discovered once)."""
    from ministudio.plugins import PluginHost

    try:
        engines = PluginHost(env={}).engines.values()
    except Exception:  # a broken plugin set must not stop an error from being shown
        return frozenset()
    return frozenset(name for spec in engines for name in spec.key_env)


def _option_secrets(raw: str) -> list[str]:
    """``option_secrets`` of a JSON text of storage options; not JSON, the whole value."""
    try:
        return option_secrets(json.loads(raw))
    except ValueError:
        return [raw]  # not JSON: the whole value may be a secret


def option_secrets(options: Any, key: str = "") -> list[str]:
    """String values in storage ``options`` (nested), but for plainly harmless keys."""
    if isinstance(options, Mapping):
        return [s for k, v in options.items() for s in option_secrets(v, str(k))]
    if isinstance(options, (list, tuple)):
        return [s for v in options for s in option_secrets(v, key)]
    return [options] if isinstance(options, str) and key not in _PLAIN_OPTIONS else []
