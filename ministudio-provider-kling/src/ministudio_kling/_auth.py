"""Kling's auth: the access and secret keys, and the HS256 JWT sent with every request.

Per the official "General Information": header ``{"alg": "HS256", "typ": "JWT"}``, payload
``{"iss": access key, "exp": now + 1800, "nbf": now - 5}``, signed with the secret key, sent as
``Authorization: Bearer <jwt>``. A fresh token is made for each request, so none expires in use.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import jwt
from ministudio.engines import EngineContext

from ministudio_kling import ACCESS_KEY, SECRET_KEY, spec

LIFETIME = 1800  # seconds a token is valid
EARLY = 5  # seconds before now the token becomes valid (clock skew)


@dataclass(frozen=True)
class Credentials:
    """The account's key pair; the secret never appears in a repr."""

    access_key: str
    secret_key: str = field(repr=False)

    def token(self, now: float | None = None) -> str:
        """A JWT valid from ``now - 5`` s for 30 minutes."""
        issued = int(time.time() if now is None else now)
        claims = {"iss": self.access_key, "exp": issued + LIFETIME, "nbf": issued - EARLY}
        with warnings.catch_warnings():  # Kling chooses the secret's length, not the user
            warnings.filterwarnings("ignore", message="The HMAC key is")
            return jwt.encode(claims, self.secret_key, algorithm="HS256", headers={"typ": "JWT"})

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


def credentials(context: EngineContext) -> Credentials:
    """Both keys, each from the render's environment, else the key store; a
    ``MissingKeyError`` naming the ones that are missing."""
    keys = context.keys(spec())
    return Credentials(keys[ACCESS_KEY], keys[SECRET_KEY])
