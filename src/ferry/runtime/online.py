"""The online scoring contract, as azureml-inference-server-http applies it to ``run()``.

* undecorated ``run(data)``: POST gets the body decoded as a UTF-8 **str**; GET gets the query
  parameters as a JSON string;
* ``@rawhttp``: the first parameter gets an :data:`~.azureml_shims.AMLRequest` (any method);
* inference-schema ``@input_schema``: the JSON body (a dict) is spread into keyword arguments,
  with the function's defaults for missing keys;
* a ``request_headers`` parameter, when declared, gets the request headers as a dict.

A response object (``AMLResponse``, a Flask/werkzeug Response) is passed through; any other
return value is JSON-serialised with status 200. Failures become :class:`ScoreError` data with
the HTTP status the scoring server would use: 400 bad input, 405 method, 415 not JSON, 500 script.

Optional ``run_batch(inputs)`` serves dynamic batching: it gets a list of what ``run``'s first
parameter would get, and returns one result per input, in order; an exception instance in that
list fails only its own item. If ``run_batch`` raises, each item is retried alone with ``run``,
so one bad input never fails its neighbours.
"""

# This module runs on the user's interpreter (Python 3.9+), hence no zip(strict=) and no X | Y
# outside annotations.
# ruff: noqa: B905, UP007
from __future__ import annotations

import importlib
import inspect
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import parse_qsl

from . import azureml_shims
from .azureml_shims import dumps_json, is_rawhttp
from .loader import EntryScriptError, LoadedScript
from .messages import error_info
from .wsgi import build_environ, headers_dict

__all__ = ["HttpRequest", "HttpResponse", "OnlineScorer", "ScoreError", "ScoreOutcome"]

logger = logging.getLogger("ferry.runtime")

# The gateway frames the body itself; these would contradict or duplicate its own headers.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_FAILED_HEADER = "x-ms-run-function-failed"


@dataclass
class HttpRequest:
    """One scoring request as the gateway received it."""

    method: str
    path: str = "/score"
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    remote_addr: str | None = None
    scheme: str = "http"

    def environ(self) -> dict[str, Any]:
        """The WSGI environ of this request."""
        return build_environ(
            self.method, self.path, self.query, self.headers, self.body,
            remote_addr=self.remote_addr, scheme=self.scheme,
        )  # fmt: skip


@dataclass
class HttpResponse:
    """What to send back to the client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class ScoreError:
    """A failed request: the HTTP status to answer and the error as data."""

    status: int
    error: dict[str, Any]


ScoreOutcome = Union[HttpResponse, ScoreError]


def _input_error(status: int, message: str, type_name: str = "BadInput") -> ScoreError:
    return ScoreError(
        status, {"type": type_name, "message": message, "traceback": "", "where": "input"}
    )


def _is_schema_decorated(func: Callable[..., Any]) -> bool:
    # inference_schema keeps its registry in schema_util; it is only worth asking if the
    # script imported the package (then importing schema_util again is free).
    if "inference_schema" not in sys.modules:
        return False
    try:
        schema_util: Any = importlib.import_module("inference_schema.schema_util")
        return bool(schema_util.is_schema_decorated(func))
    except Exception:
        return False


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _query_params(query: str) -> dict[str, Any]:
    """Query parameters, each parsed as JSON when it is JSON; repeated names become lists."""
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return {
        k: _json_value(v[0]) if len(v) == 1 else [_json_value(x) for x in v]
        for k, v in grouped.items()
    }


def _is_json(headers: dict[str, str]) -> bool:
    mimetype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


class OnlineScorer:
    """Calls a loaded scoring script's ``run()`` (and ``run_batch()``) per the Azure contract."""

    def __init__(self, script: LoadedScript) -> None:
        """Inspect ``run``'s signature; raises EntryScriptError if it breaks the contract."""
        self.script = script
        params = list(inspect.signature(script.run).parameters.values())
        allowed = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        if any(p.kind not in allowed for p in params):
            raise EntryScriptError(
                "run() cannot accept positional-only arguments, *args, or **kwargs."
            )
        self.wants_headers = any(p.name == "request_headers" for p in params)
        self.params = [p for p in params if p.name != "request_headers"]
        if not self.params:
            raise EntryScriptError(
                'run() needs to accept an argument other than "request_headers".'
                if self.wants_headers
                else "run() needs to accept an argument for input data."
            )
        self.rawhttp = is_rawhttp(script.run)
        self.input_schema = _is_schema_decorated(script.run)
        if self.rawhttp and self.input_schema:
            raise EntryScriptError("run() cannot be decorated with both @rawhttp and @input_schema")
        self.batch_wants_headers = script.run_batch is not None and (
            "request_headers" in inspect.signature(script.run_batch).parameters
        )

    @property
    def capabilities(self) -> dict[str, bool]:
        """What the gateway may rely on, reported in the ``ready`` message."""
        return {
            "run_batch": self.script.run_batch is not None,
            "rawhttp": self.rawhttp,
            "input_schema": self.input_schema,
        }

    def _parse(self, req: HttpRequest) -> tuple[dict[str, Any], dict[str, str]] | ScoreOutcome:
        """The keyword arguments for ``run`` (without request_headers) and the headers dict."""
        environ = req.environ()
        headers = headers_dict(environ)
        first = self.params[0].name
        method = req.method.upper()
        if self.rawhttp:
            return {first: azureml_shims.AMLRequest(environ)}, headers
        if method == "OPTIONS":
            return HttpResponse(200, [("x-ms-run-function-failed", "False")], b"")
        if method not in ("GET", "POST"):
            return _input_error(405, "Method not allowed", "UnsupportedHTTPMethod")
        if not self.input_schema:
            if method == "GET":
                return {first: json.dumps(_query_params(req.query))}, headers
            try:
                return {first: req.body.decode("utf-8")}, headers
            except UnicodeDecodeError as exc:
                return _input_error(400, f"Input cannot be decoded as UTF-8: {exc}")
        if method == "GET":
            body: Any = _query_params(req.query)
        else:
            if not _is_json(headers):
                return _input_error(
                    415, "Expects Content-Type to be application/json", "UnsupportedInput"
                )
            if not req.body:
                return _input_error(400, "POST body is empty. Expecting a JSON dictionary.")
            try:
                body = json.loads(req.body)
            except ValueError as exc:
                return _input_error(400, f"POST body could not be decoded as JSON: {exc}")
            if not isinstance(body, dict):
                return _input_error(400, "POST body should be a JSON dictionary.")
        kwargs: dict[str, Any] = {}
        for param in self.params:
            value = body.get(param.name, param.default)
            if value is inspect.Parameter.empty:
                return _input_error(
                    400, f"A value is not provided for the {param.name!r} parameter."
                )
            kwargs[param.name] = value
        return kwargs, headers

    def _call_run(self, kwargs: dict[str, Any], headers: dict[str, str]) -> ScoreOutcome:
        try:
            if self.wants_headers:
                out = self.script.run(**kwargs, request_headers=headers)
            else:
                out = self.script.run(**kwargs)
        except (Exception, SystemExit) as exc:  # sys.exit() in run() must not end the worker
            logger.exception("%s: run() raised", self.script.name)
            return ScoreError(500, error_info(exc, "run"))
        return self.to_response(out)

    def score(self, req: HttpRequest) -> ScoreOutcome:
        """Score one request."""
        parsed = self._parse(req)
        if not isinstance(parsed, tuple):
            return parsed
        return self._call_run(*parsed)

    def to_response(self, out: Any) -> ScoreOutcome:
        """Turn ``run()``'s return value into an HTTP response."""
        if hasattr(out, "status_code") and hasattr(out, "headers") and hasattr(out, "get_data"):
            try:
                body = out.get_data()  # reads a streamed (generator) body; that is user code
            except (Exception, SystemExit) as exc:
                logger.exception("%s: reading the response body raised", self.script.name)
                return ScoreError(500, error_info(exc, "run"))
            status = int(out.status_code)
            headers = [
                (str(k), str(v)) for k, v in out.headers.items() if k.lower() not in _HOP_HEADERS
            ]
            if status >= 500:
                headers = [(k, v) for k, v in headers if k.lower() != _FAILED_HEADER]
                headers.append((_FAILED_HEADER, "True"))
            return HttpResponse(status, headers, bytes(body))
        try:
            data = dumps_json(out).encode("utf-8")
        except Exception as exc:  # whatever it is, the return value caused it
            # RecursionError (a structure nested too deeply) and errors raised by the value's own
            # tolist() belong here too: left to the worker's frame loop they would read as a
            # protocol error and blame the client.
            logger.exception("%s: run()'s return value cannot be serialised", self.script.name)
            reason = f"{type(exc).__name__}: {exc}"
            return ScoreError(
                500,
                error_info(
                    exc,
                    "output",
                    f"run() returned a {type(out).__name__} that cannot be serialised to JSON "
                    f"({reason}); return JSON-serialisable data (dict, list, str, number) or an "
                    "AMLResponse",
                ),
            )
        headers = [("Content-Type", "application/json"), (_FAILED_HEADER, "False")]
        return HttpResponse(200, headers, data)

    def score_many(self, reqs: Sequence[HttpRequest]) -> list[ScoreOutcome]:
        """Score several requests: through ``run_batch`` if defined, else ``run`` per request."""
        run_batch = self.script.run_batch
        if run_batch is None:
            return [self.score(r) for r in reqs]
        outcomes: list[ScoreOutcome | None] = [None] * len(reqs)
        positions: list[int] = []
        inputs: list[Any] = []
        header_dicts: list[dict[str, str]] = []
        for i, req in enumerate(reqs):
            parsed = self._parse(req)
            if not isinstance(parsed, tuple):
                outcomes[i] = parsed
                continue
            kwargs, headers = parsed
            positions.append(i)
            inputs.append(kwargs if self.input_schema else kwargs[self.params[0].name])
            header_dicts.append(headers)
        if inputs:
            self._run_batch(run_batch, reqs, positions, inputs, header_dicts, outcomes)
        done: list[ScoreOutcome] = []
        for outcome in outcomes:
            assert outcome is not None  # every position is filled above or by _run_batch
            done.append(outcome)
        return done

    def _run_batch(
        self,
        run_batch: Callable[..., Any],
        reqs: Sequence[HttpRequest],
        positions: list[int],
        inputs: list[Any],
        header_dicts: list[dict[str, str]],
        outcomes: list[ScoreOutcome | None],
    ) -> None:
        try:
            if self.batch_wants_headers:
                results = list(run_batch(inputs, request_headers=header_dicts))
            else:
                results = list(run_batch(inputs))
        except (Exception, SystemExit):
            logger.exception(
                "%s: run_batch() raised on %d inputs; scoring each alone with run()",
                self.script.name,
                len(inputs),
            )
            for i in positions:
                outcomes[i] = self.score(reqs[i])
            return
        if len(results) != len(inputs):
            exc = TypeError(
                f"run_batch() returned {len(results)} results for {len(inputs)} inputs; it must "
                "return exactly one result per input, in order"
            )
            for i in positions:
                outcomes[i] = ScoreError(500, error_info(exc, "output"))
            return
        for i, result in zip(positions, results):
            if isinstance(result, BaseException):
                outcomes[i] = ScoreError(500, error_info(result, "run"))
            else:
                outcomes[i] = self.to_response(result)
