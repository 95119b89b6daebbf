"""Turn a request received over the worker socket into a WSGI environ.

Flask/werkzeug requests (what ``@rawhttp`` scripts get on Azure ML) are built from a WSGI environ,
so building one here lets ``AMLRequest`` be a real ``werkzeug.wrappers.Request`` and lets the
stdlib fallback read the same fields.
"""

# This module runs on the user's interpreter (Python 3.8+), hence no zip(strict=), no X | Y
# outside annotations and no subscripted collections.abc classes at run time.
from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Union
from urllib.parse import unquote

__all__ = ["HeaderItems", "build_environ", "header_pairs", "headers_dict"]

HeaderItems = Union["Mapping[str, str]", "Iterable[tuple[str, str] | list[str]]"]
"""Headers as a mapping or as (name, value) pairs (pairs keep repeated headers)."""


def header_pairs(headers: HeaderItems) -> list[tuple[str, str]]:
    """Normalise headers given as a mapping or as pairs into a list of (name, value)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name), str(value)) for name, value in items]


def _environ_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


def build_environ(
    method: str,
    path: str,
    query: str,
    headers: HeaderItems,
    body: bytes,
    *,
    remote_addr: str | None = None,
    scheme: str = "http",
) -> dict[str, Any]:
    """Build a PEP 3333 environ for one request.

    Args:
        method: HTTP method, e.g. ``POST``.
        path: URL path as sent by the client (percent-encoded), e.g. ``/score``.
        query: raw query string without ``?``.
        headers: request headers; repeated headers are joined with ``", "`` as WSGI servers do.
        body: the request body.
        remote_addr: the client address, if known.
        scheme: ``http`` or ``https``.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        # WSGI wants PATH_INFO decoded, as latin-1 code points of the raw bytes.
        "PATH_INFO": unquote(path, encoding="latin-1") or "/",
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443" if scheme == "https" else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr or "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in header_pairs(headers):
        key = _environ_key(name)
        if key == "HTTP_CONTENT_LENGTH" or key == "CONTENT_LENGTH":
            continue  # the body we hold is the truth; a proxy may have changed its length
        if key == "HTTP_HOST":
            host, _, port = value.partition(":")
            environ["SERVER_NAME"] = host or "localhost"
            if port:
                environ["SERVER_PORT"] = port
        if key in environ and key.startswith(("HTTP_", "CONTENT_")):
            environ[key] = f"{environ[key]}, {value}"
        else:
            environ[key] = value
    return environ


def headers_dict(environ: Mapping[str, Any]) -> dict[str, str]:
    """Headers as ``dict(flask.request.headers)`` shows them: ``Content-Type``, ``X-Request-Id``."""
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            out[key[5:].replace("_", "-").title()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            out[key.replace("_", "-").title()] = value
    return out
