"""Opaque page tokens for keyset pagination.

A token is URL-safe base64 of ``{"s": scope, "a": after}``: ``after`` is the sort key of the last
item of the previous page, and ``scope`` names the listing it belongs to, so a token from one
listing is not silently reused for another.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeVar

from ferry.errors import InvalidInputError

__all__ = ["check_limit", "decode_token", "encode_token"]

K = TypeVar("K", str, int)


def encode_token(scope: str, after: str | int) -> str:
    """A token that resumes ``scope`` after the item whose sort key is ``after``."""
    raw = json.dumps({"s": scope, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, scope: str, key_type: type[K]) -> K | None:
    """The ``after`` key of a token (``None`` for the first page), of type ``key_type``.

    Raises:
        InvalidInputError: the token is malformed or belongs to another listing.
    """
    if token is None or token == "":
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_token(token) from exc
    if not isinstance(data, dict) or data.get("s") != scope or "a" not in data:
        raise _bad_token(token)
    after = data["a"]
    if not isinstance(after, key_type) or isinstance(after, bool):
        raise _bad_token(token)
    return after


def check_limit(limit: int) -> None:
    """Raises InvalidInputError unless ``limit`` is a positive page size."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidInputError(
            f"limit must be a positive integer, got {limit!r}",
            details={"field": "limit", "value": limit},
        )


def _bad_token(token: str) -> InvalidInputError:
    return InvalidInputError(
        f"page token {token[:40]!r} is not valid for this listing; pass the next_token of the "
        "previous page of the same listing, or omit it to start from the first page",
        details={"field": "page_token"},
    )
