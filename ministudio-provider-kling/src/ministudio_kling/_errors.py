"""Kling's error codes (the official table: HTTP status, ``code``, meaning) as MiniStudio's
typed errors, so the core retries what passes, stops what will not, and never pays twice.

The ``code`` decides, not the HTTP status: 1100-1102 come as 429 but are an empty account,
not a busy one.
"""

from __future__ import annotations

from ministudio.errors import (
    EngineError,
    EngineRefusal,
    MinistudioError,
    MissingKeyError,
    TransientError,
)

from ministudio_kling import ACCESS_KEY, ENGINE, SECRET_KEY

PARAMETER_CODES = (1200, 1201)  # invalid parameters
# What a lookup of an unknown id may get (undocumented: see _api): "does not exist", or an
# id it cannot use ("illegal value").
ABSENT_CODES = (1203, 1200, 1201)
# Words of a failed task's ``task_status_msg`` that mean a content check stopped it.
REFUSAL_WORDS = ("risk", "security", "sensitive", "policy", "violat", "inappropriate", "prohibit")


class KeyRejected(MissingKeyError):
    """Kling turned the keys down (1000/1002): set, but wrong, revoked or mismatched."""

    def __init__(self, variables: list[str], code: int, reason: str) -> None:
        self.engine = ENGINE
        self.variables = variables
        names = " and ".join(variables)
        MinistudioError.__init__(
            self,
            f"engine '{ENGINE}' rejected its keys (code {code}: {reason}): check {names} (or "
            "the stored keys: `ministudio keys list`) and run again",
        )


def api_error(
    status: int,
    code: int | None,
    message: str,
    what: str,
    *,
    submit: bool = False,
    retry_after: float | None = None,
    busy_wait: float = 5.0,
) -> MinistudioError:
    """The typed error for one failed API answer (HTTP ``status``, envelope ``code``)."""
    said = f"{what}: {message} (code {code}, HTTP {status})" if code else f"{what}: HTTP {status}"
    if code in (1000, 1002):
        return KeyRejected(_wrong_keys(message), code, message or "authorization failed")
    if code == 1001:
        return EngineError(ENGINE, f"{said}: no Authorization reached Kling (a proxy?)")
    if code in (1003, 1004):
        return EngineError(
            ENGINE,
            f"{said}: Kling finds the token {'not yet valid' if code == 1003 else 'expired'}; "
            "this machine's clock is off: set it right (NTP) and run again",
        )
    if code in (1100, 1101, 1102):
        return EngineError(
            ENGINE,
            f"{said}: the account cannot pay for jobs (exception, arrears, or no resource pack "
            "left): see the Kling developer console, then run again",
        )
    if code == 1103:
        return EngineError(ENGINE, f"{said}: the account may not use this API or model")
    if code in PARAMETER_CODES and submit:
        return EngineRefusal(ENGINE, f"{message} (code {code})")
    if code in (1202, 1203):
        return EngineError(ENGINE, f"{said}: check KLING_BASE_URL and the routing option model")
    if code in (1300, 1301):
        return EngineRefusal(ENGINE, f"{message} (code {code})")
    if code in (1302, 1303):  # too fast, or every slot of the resource pack is taken
        wait = retry_after if retry_after is not None else busy_wait
        return TransientError(ENGINE, said, retry_after=wait)
    if code == 1304:
        return EngineError(ENGINE, f"{said}: this machine's IP is not on the account's whitelist")
    if code in (5000, 5001, 5002) or status >= 500 or status == 408:
        return TransientError(ENGINE, said, retry_after=retry_after)
    if status in (401, 403):
        return KeyRejected([ACCESS_KEY, SECRET_KEY], code or status, message or "unauthorized")
    if status == 429:
        return TransientError(ENGINE, said, retry_after=retry_after or busy_wait)
    if submit and status in (400, 422):
        return EngineRefusal(ENGINE, f"{message or 'bad request'} (code {code}, HTTP {status})")
    return EngineError(ENGINE, said)


def _wrong_keys(message: str) -> list[str]:
    """Which key a 1000/1002 blames: a bad signature is the secret, an unknown issuer the
    access key; otherwise either."""
    text = message.lower()
    if "signature" in text:
        return [SECRET_KEY]
    if "access key" in text or "access_key" in text or "issuer" in text:
        return [ACCESS_KEY]
    return [ACCESS_KEY, SECRET_KEY]


def refused(message: str | None) -> bool:
    """Whether a failed task's message says a content check stopped it."""
    text = (message or "").lower()
    return any(word in text for word in REFUSAL_WORDS)
