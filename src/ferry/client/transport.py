"""HTTP to the server: bearer auth, JSON errors turned back into typed FerryErrors."""

from __future__ import annotations

from typing import Any

import httpx

from ferry.errors import FerryError, ServerError, error_from_payload

__all__ = ["Transport"]


class Transport:
    """A thin wrapper over ``httpx.Client`` bound to one server and token."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 600.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc
        if response.status_code >= 400:
            raise _error(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def stream_to(self, path: str, sink: Any, **kwargs: Any) -> None:
        """GET ``path`` and write the body into the binary file object ``sink``."""
        try:
            with self._http.stream("GET", path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                for chunk in response.iter_bytes(1024 * 1024):
                    sink.write(chunk)
        except httpx.TransportError as exc:
            raise ServerError(
                f"lost the connection to {self.base_url} during a download ({exc}); retry.",
            ) from exc

    def close(self) -> None:
        self._http.close()


def _error(response: httpx.Response) -> FerryError:
    try:
        payload = response.json()
    except ValueError:
        payload = {"message": response.text.strip()[:500] or response.reason_phrase}
    if not isinstance(payload, dict):
        payload = {"message": str(payload)}
    return error_from_payload(payload, response.status_code)


def _unreachable(base_url: str, exc: httpx.TransportError) -> ServerError:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        # A server with its own certificate (FERRY_SSL_CERTFILE) is reachable; the client just
        # does not trust it yet, so "start it" would send the user the wrong way.
        fix = "set SSL_CERT_FILE to the server's certificate (or its CA) as a PEM file."
    else:
        fix = "start it with `ferry server start` or check FERRY_SERVER_URL."
    return ServerError(
        f"cannot reach the Ferry server at {base_url} ({exc}); {fix}", details={"url": base_url}
    )
