"""Endpoint credentials: primary and secondary keys, and expiring ``aml_token`` tokens.

Keys are random strings; both are valid at once so clients can rotate without downtime. Tokens
are ``<payload>.<signature>`` where the payload names the endpoint and the expiry and the
signature is an HMAC-SHA256 under the endpoint's token secret, so a server restart keeps them
valid and regenerating keys does not revoke them (as on Azure).

:class:`KeyRing` is what the gateway checks on every request: a precomputed set of accepted
``Authorization`` values for keys, and a small cache of tokens already verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["TOKEN_LIFETIME_S", "EndpointCredentials", "KeyRing", "issue_token"]

TOKEN_LIFETIME_S = 3600
"""An ``aml_token`` is valid for an hour; clients should refresh after half of it."""

_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class EndpointCredentials:
    """The secrets of one endpoint, kept encrypted in the store."""

    primary_key: str
    secondary_key: str
    token_secret: str

    @classmethod
    def generate(cls) -> EndpointCredentials:
        """Fresh random keys and token secret."""
        return cls(_new_key(), _new_key(), secrets.token_hex(32))

    def regenerate(self, key_type: str) -> EndpointCredentials:
        """A copy with ``key_type`` (``primary`` or ``secondary``) replaced."""
        if key_type == "primary":
            return EndpointCredentials(_new_key(), self.secondary_key, self.token_secret)
        return EndpointCredentials(self.primary_key, _new_key(), self.token_secret)

    def to_json(self) -> dict[str, str]:
        return {
            "primary_key": self.primary_key,
            "secondary_key": self.secondary_key,
            "token_secret": self.token_secret,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointCredentials:
        return cls(str(data["primary_key"]), str(data["secondary_key"]), str(data["token_secret"]))


def _new_key() -> str:
    return secrets.token_urlsafe(32)


def _sign(secret: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue_token(endpoint: str, secret: str, *, now: float | None = None) -> dict[str, Any]:
    """A new ``aml_token`` for ``endpoint``, shaped like azure.ai.ml's ``EndpointAuthToken``."""
    issued = time.time() if now is None else now
    expiry = int(issued + TOKEN_LIFETIME_S)
    raw = f"{endpoint}|{expiry}|{secrets.token_hex(8)}".encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {
        "access_token": f"{payload}.{_sign(secret, payload.encode())}",
        "expiry_time_utc": _iso(expiry),
        "refresh_after_time_utc": _iso(int(issued + TOKEN_LIFETIME_S / 2)),
        "token_type": "Bearer",
    }


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


class KeyRing:
    """Checks ``Authorization`` header values for one endpoint, fast.

    Accepts ``Bearer <key>`` and a bare ``<key>`` (some Azure samples send it without the
    scheme). With ``auth_mode: aml_token`` only unexpired tokens signed for this endpoint pass.
    """

    __slots__ = ("_accepted", "_endpoint", "_mode", "_secret", "_tokens")

    def __init__(self, endpoint: str, auth_mode: str, credentials: EndpointCredentials) -> None:
        self._endpoint = endpoint
        self._mode = auth_mode
        self._secret = credentials.token_secret
        self._tokens: dict[bytes, float] = {}
        accepted: set[bytes] = set()
        if auth_mode == "key":
            for key in (credentials.primary_key, credentials.secondary_key):
                raw = key.encode()
                accepted.update({b"Bearer " + raw, b"bearer " + raw, raw})
        self._accepted = frozenset(accepted)

    def check(self, authorization: bytes | None) -> bool:
        """True if the header value grants access."""
        if authorization is None:
            return False
        if authorization in self._accepted:
            return True
        if self._mode != "aml_token":
            return False
        token = authorization[7:] if authorization[:7].lower() == b"bearer " else authorization
        expiry = self._tokens.get(token)
        if expiry is None:
            expiry = self._verify(token)
            if expiry is None:
                return False
            if len(self._tokens) >= _CACHE_LIMIT:
                self._tokens.clear()  # expired and live alike: live ones are re-verified once
            self._tokens[token] = expiry
        return time.time() < expiry

    def _verify(self, token: bytes) -> float | None:
        payload, _, signature = token.partition(b".")
        if not hmac.compare_digest(_sign(self._secret, payload).encode(), signature):
            return None
        try:
            raw = base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)).decode()
            endpoint, expiry, _nonce = raw.split("|")
            return float(expiry) if endpoint == self._endpoint else None
        except ValueError:
            return None
