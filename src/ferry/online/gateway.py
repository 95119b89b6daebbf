"""The scoring gateway: a raw ASGI layer in front of the control-plane app.

It answers ``/endpoints/<name>/score`` (any method, as azmlinfsrv's ``/score``),
``/endpoints/<name>/swagger.json`` and ``/metrics`` itself and passes every other request to the
wrapped app. The scoring path does no routing tables, no pydantic and no thread hops: a key
check against a precomputed set, a weighted choice, one frame to a replica over its unix
socket, and the answer frame written back as the HTTP response.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from ferry.errors import ErrorCode, GatewayError
from ferry.online.metrics import CONTENT_TYPE
from ferry.online.pool import DeploymentPool, hang_grace_s
from ferry.online.work import Outcome, Single
from ferry.runtime import messages as m

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from ferry.online.service import OnlineService

__all__ = ["ScoringGateway"]

_log = logging.getLogger("ferry.online")
_PREFIX = "/endpoints/"
_JSON = (b"content-type", b"application/json")


def _unauthorized(endpoint: str) -> GatewayError:
    return GatewayError(
        ErrorCode.UNAUTHORIZED,
        "missing or wrong key: send 'Authorization: Bearer <key>' with the endpoint's primary or "
        "secondary key (or an aml_token); get them with `ferry online-endpoint get-credentials "
        f"--name {endpoint}`.",
        # close: the body is never read, so ending the connection spares the client sending it
        headers=[(b"www-authenticate", b"Bearer"), (b"connection", b"close")],
    )


def _metrics_unauthorized() -> GatewayError:
    return GatewayError(
        ErrorCode.UNAUTHORIZED,
        "/metrics needs 'Authorization: Bearer <token>' with FERRY_METRICS_TOKEN (or, when that "
        "is unset, the workspace token); set bearer_token in the Prometheus scrape config.",
        headers=[(b"www-authenticate", b"Bearer")],
    )


def _bearer_in(authorization: bytes | None, tokens: tuple[str, ...]) -> bool:
    scheme, _, given = (authorization or b"").partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    matched = [hmac.compare_digest(given.strip(), token.encode()) for token in tokens]
    return any(matched)


def _expire(future: asyncio.Future[Outcome], pool: DeploymentPool) -> None:
    if not future.done():
        future.set_exception(
            GatewayError(
                ErrorCode.REQUEST_TIMEOUT,
                f"deployment {pool.name!r} did not answer within request_timeout_ms "
                f"{pool.timeout_s * 1000:.0f}; raise request_settings.request_timeout_ms (at most "
                "180000) or make run() faster. A replica whose run() has not returned "
                f"{hang_grace_s(pool.timeout_s) * 1000:.0f} ms later is restarted.",
            )
        )


def _discard(future: asyncio.Future[Outcome]) -> None:
    if not future.cancelled():
        future.exception()  # mark it retrieved: mirror failures are counted, never raised


class ScoringGateway:
    """ASGI middleware: scoring, swagger and metrics; everything else goes to ``app``."""

    def __init__(
        self, app: ASGIApp, service: OnlineService, metrics_tokens: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.service = service
        self.metrics_tokens = metrics_tokens  # empty: /metrics is open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(_PREFIX):
                name, _, rest = path[len(_PREFIX) :].partition("/")
                try:
                    await self._endpoint(scope, receive, send, name, rest.rstrip("/"))
                except GatewayError as exc:
                    await _respond(send, exc.http_status, [_JSON, *exc.headers], exc.body())
                except Exception as exc:  # a bug: still a JSON answer, the traceback in the log
                    _log.exception("scoring request to %s failed", path)
                    message = (
                        f"internal error in the scoring gateway ({type(exc).__name__}: {exc}); "
                        "the traceback is in the server log."
                    )
                    await _respond(send, 500, [_JSON], _internal_error(message, {}))
                return
            if path == "/metrics":
                if self.metrics_tokens:
                    given = dict(scope["headers"]).get(b"authorization")
                    if not _bearer_in(given, self.metrics_tokens):
                        error = _metrics_unauthorized()
                        await _respond(
                            send, error.http_status, [_JSON, *error.headers], error.body()
                        )
                        return
                text = self.service.metrics.render(self.service.pools())
                headers = [(b"content-type", CONTENT_TYPE.encode())]
                await _respond(send, 200, headers, text.encode())
                return
        await self.app(scope, receive, send)

    async def _endpoint(
        self, scope: Scope, receive: Receive, send: Send, name: str, rest: str
    ) -> None:
        route = self.service.routes.get(name)
        if route is None:
            raise GatewayError(
                ErrorCode.ENDPOINT_NOT_FOUND,
                f"there is no online endpoint {name!r}; list them with `ferry online-endpoint "
                "list` and use its scoring_uri.",
            )
        started = time.perf_counter()
        authorization = pinned = request_id = client_id = None
        length = -1
        forwarded: list[list[str]] = []
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value
                continue  # the key never reaches the user's script or its logs
            if key == b"azureml-model-deployment":
                pinned = value
            elif key == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif key == b"x-request-id":
                request_id = value
            elif key == b"x-ms-client-request-id":
                client_id = value
            forwarded.append([key.decode("latin-1"), value.decode("latin-1")])
        try:
            if not route.keys.check(authorization):
                raise _unauthorized(name)
            pool = route.pick(pinned)
        except GatewayError as exc:  # counted under the endpoint, with no deployment
            self.service.metrics.request(name, "", exc.http_status, time.perf_counter() - started)
            raise
        if rest == "swagger.json":
            query = scope.get("query_string", b"").decode("latin-1")
            document = await self.service.swagger(pool, query)
            await _respond(send, 200, [_JSON], json.dumps(document, indent=2).encode())
            return
        if rest != "score":
            raise GatewayError(
                ErrorCode.NOT_FOUND,
                f"endpoint {name!r} serves /score and /swagger.json, not /{rest}; use its "
                "scoring_uri.",
            )
        metrics = self.service.metrics
        if pool.in_flight >= pool.max_in_flight:
            metrics.request(name, pool.name, 429, time.perf_counter() - started)
            raise GatewayError(
                ErrorCode.TOO_MANY_REQUESTS,
                f"too many pending requests: deployment {pool.name!r} already has "
                f"{pool.in_flight} in flight (2 x max_concurrent_requests_per_instance x "
                "instance_count); retry later or raise those settings.",
            )
        try:
            if length > pool.max_body:
                raise _too_large(pool, length)
            body = await _read_body(receive, pool)
        except GatewayError:
            metrics.request(name, pool.name, 413, time.perf_counter() - started)
            raise
        header = {
            "kind": m.SCORE,
            "method": scope["method"],
            "path": "/score",
            "query": scope["query_string"].decode("latin-1"),
            "headers": forwarded,
        }
        loop = asyncio.get_running_loop()
        if pinned is None and route.mirror is not None:
            self._mirror(route.mirror_pool(), name, header, body, loop)
        pool.in_flight += 1
        future: asyncio.Future[Outcome] = loop.create_future()
        timer = loop.call_later(pool.timeout_s, _expire, future, pool)
        try:
            pool.submit(Single(header, body, future))
            answer, payload = await future
        except GatewayError as exc:
            metrics.request(name, pool.name, exc.http_status, time.perf_counter() - started)
            raise
        finally:
            timer.cancel()
            pool.in_flight -= 1
        status, headers, payload = _render(answer, payload, pool)
        headers.append((b"azureml-model-deployment", pool.name.encode()))
        headers.append((b"x-request-id", request_id or uuid.uuid4().hex.encode()))
        if client_id is not None:
            headers.append((b"x-ms-client-request-id", client_id))
        await _respond(send, status, headers, payload)
        metrics.request(name, pool.name, status, time.perf_counter() - started)

    def _mirror(
        self,
        pool: DeploymentPool | None,
        endpoint: str,
        header: dict[str, Any],
        body: bytes,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if pool is None or pool.in_flight >= pool.max_in_flight:
            return  # a busy or missing mirror drops copies; live traffic never waits on it
        future: asyncio.Future[Outcome] = loop.create_future()
        timer = loop.call_later(pool.timeout_s, _expire, future, pool)
        pool.in_flight += 1
        metrics = self.service.metrics

        def finished(done: asyncio.Future[Outcome]) -> None:
            timer.cancel()
            pool.in_flight -= 1
            error = done.exception()
            status = error.http_status if isinstance(error, GatewayError) else 500
            if error is None:
                status = _render(*done.result(), pool)[0]
            metrics.mirror(endpoint, pool.name, status)

        future.add_done_callback(finished)
        future.add_done_callback(_discard)
        pool.submit(Single(dict(header), body, future))


def _too_large(pool: DeploymentPool, size: int) -> GatewayError:
    return GatewayError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"the request body ({size} bytes or more) is over deployment {pool.name!r}'s limit of "
        f"{pool.max_body} bytes; send less, or raise max_request_body_mb on the deployment.",
        headers=[(b"connection", b"close")],  # stop the client sending the rest
    )


async def _read_body(receive: Receive, pool: DeploymentPool) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > pool.max_body:
            raise _too_large(pool, len(body))
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > pool.max_body:
            raise _too_large(pool, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _render(
    answer: dict[str, Any], payload: bytes, pool: DeploymentPool
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The HTTP response for a replica's answer frame."""
    if answer.get("kind") == m.RESULT:
        headers = [
            (str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in answer["headers"]
        ]
        return int(answer.get("status", 200)), headers, payload
    error = answer.get("error") or {}
    status = int(answer.get("status", 500))
    reason = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    if error.get("where") == "protocol":
        # The gateway wrote the frame the worker could not serve: neither the client nor the
        # scoring script is at fault, so this is not a model error (424) but ours (500).
        message = (
            f"a replica of deployment {pool.name!r} could not serve the request ({reason}); "
            "this is a Ferry bug, the traceback is in the replica log: `ferry online-deployment "
            f"get-logs --name {pool.name} --endpoint-name {pool.endpoint}`."
        )
        details = {"type": error.get("type"), "where": "protocol"}
        return 500, [_JSON], _internal_error(message, details)
    failed = GatewayError(
        ErrorCode.MODEL_ERROR,
        f"the scoring script of deployment {pool.name!r} failed ({reason}); the "
        "traceback is in the replica log: `ferry online-deployment get-logs --name "
        f"{pool.name} --endpoint-name {pool.endpoint}`.",
        details={"status": status, "type": error.get("type"), "where": error.get("where")},
        headers=[
            (b"ms-azureml-model-error-statuscode", str(status).encode()),
            (b"ms-azureml-model-error-reason", _header_text(reason)),
            (b"x-ms-run-function-failed", b"True"),
        ],
    )
    return failed.http_status, [_JSON, *failed.headers], failed.body()


def _internal_error(message: str, details: dict[str, Any]) -> bytes:
    """The body of a 500 that is a Ferry bug, as the control plane answers one (server/errors.py).

    Not a GatewayError: a bug has no code of its own in the table (server_error there is 503,
    "the server is missing"), so the status is written where the bug is caught.
    """
    body = {"code": ErrorCode.SERVER.value, "message": message, "details": details}
    return json.dumps(body).encode()


def _header_text(text: str) -> bytes:
    flat = " ".join(text.split())[:500]
    return flat.encode("latin-1", "replace")


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
