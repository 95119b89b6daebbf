"""A one-deployment scoring server in this process: the online half of the local debug loop.

It answers as Ferry's gateway does for one deployment: ``POST|GET /score`` (also ``/``'s POST),
``GET /`` liveness (``Healthy``, as azmlinfsrv), ``GET /swagger.json`` (the user's own file from
the code folder, or the one built from inference-schema decorators), and a failed ``run()`` is 424
with ``ms-azureml-model-error-statuscode``. The body also names the failing line (file, line,
source) and carries the traceback: the server listens on 127.0.0.1 for one developer.

Requests are served one at a time on the main thread, as one worker serves them: ``init()`` and
``run()`` (and a ``--reload``'s new ``init()``) run there, where a debugger that started the
command (``python -m pdb`` traces only the thread it started on) stops at their breakpoints.
Each connection closes after its answer, so a keep-alive client cannot hold the only thread.

Standard library only: this runs on the deployment's interpreter too.
"""

# This module runs on the user's interpreter (Python 3.8+), hence no X | Y outside annotations.
# Paths stay str: they come from and go to tracebacks, sys.path, os.environ and the plan's JSON.
# ruff: noqa: PTH113, PTH118, PTH119, PTH123
from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

from .local import (
    DEBUGGER_QUIT,
    CodeWatcher,
    LocalPlan,
    ScriptSlot,
    enter,
    format_failure,
    line_from_traceback,
)
from .online import HttpRequest, HttpResponse, OnlineScorer, ScoreError

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .loader import LoadedScript

__all__ = ["LocalScoringServer", "serve"]

_SWAGGER_FILES = {"2": ("swagger.json", "swagger2.json"), "3": ("swagger3.json",)}
_VERSIONS = {"2": "2", "2.0": "2", "3": "3", "3.0": "3", "3.1": "3.1"}
_SWAGGER_FILES["3.1"] = ("swagger3.1.json",)


def _json(status: int, document: Any, extra: list[tuple[str, str]] | None = None) -> HttpResponse:
    headers = [("Content-Type", "application/json"), *(extra or [])]
    return HttpResponse(status, headers, json.dumps(document, indent=2).encode("utf-8"))


def _model_error(plan: LocalPlan, error: dict[str, Any], status: int) -> HttpResponse:
    """A failed request as the gateway answers it (424 + the script's status in headers), with
    the failing line and traceback added for the developer."""
    reason = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    at = error.get("at")
    where = f" at {os.path.basename(at['file'])}:{at['line']}: {at['source']}" if at else ""
    body = {
        "code": "model_error",
        "message": f"the scoring script of deployment {plan.name!r} failed ({reason}){where}",
        "details": {
            "status": status,
            "type": error.get("type"),
            "where": error.get("where"),
            **({"file": at["file"], "line": at["line"], "source": at["source"]} if at else {}),
            "traceback": error.get("traceback", ""),
        },
    }
    headers = [
        ("ms-azureml-model-error-statuscode", str(status)),
        ("ms-azureml-model-error-reason", " ".join(reason.split())[:500]),
        ("x-ms-run-function-failed", "True"),
    ]
    return _json(424, body, headers)


class LocalScoringServer:
    """Serves one deployment's script from a :class:`ScriptSlot` (no HTTP here: see
    :meth:`handle`, which the request handler calls)."""

    def __init__(self, plan: LocalPlan) -> None:
        self.plan = plan
        self.slot = ScriptSlot(plan, prepare=OnlineScorer)
        #: Set when the developer quit pdb inside run(): serving ends.
        self.quit = False

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one request."""
        path = req.path.rstrip("/") or "/"
        if path == "/" and req.method in ("GET", "HEAD"):
            if self.slot.failure is not None:
                return self._not_ready()
            return HttpResponse(200, [("Content-Type", "text/plain")], b"Healthy")
        if path == "/swagger.json" and req.method == "GET":
            return self.swagger(req.query)
        if path not in ("/score", "/"):
            return _json(
                404,
                {
                    "code": "not_found",
                    "message": f"this local server serves /score, /swagger.json and / (liveness), "
                    f"not {req.path}",
                },
            )
        with self.slot.lock:
            scorer: OnlineScorer | None = self.slot.prepared
            if scorer is None:
                return self._not_ready()
            outcome = scorer.score(req)
        if isinstance(outcome, ScoreError):
            return self._failed(outcome)
        return outcome

    def _failed(self, outcome: ScoreError) -> HttpResponse:
        error = dict(outcome.error)
        if error.get("type") == DEBUGGER_QUIT:
            self.quit = True  # the server stops after this answer
            return _json(503, {"code": "debugger_quit", "message": "the debugger was quit"})
        error["at"] = line_from_traceback(str(error.get("traceback", "")), self.plan.code_dir)
        if error.get("where") in ("run", "output"):
            print(format_failure(error, self.plan.code_dir), file=sys.stderr, flush=True)
        return _model_error(self.plan, error, outcome.status)

    def _not_ready(self) -> HttpResponse:
        failure = self.slot.failure or {}
        response = _model_error(self.plan, failure, 500)
        body = json.loads(response.body)
        body["code"] = "not_ready"
        body["message"] += "; fix the script and save it (--reload loads it again)"
        return _json(503, body)

    def swagger(self, query: str) -> HttpResponse:
        """The user's swagger file for ``?version=`` (2, 3, 3.1), else the decorators' schemas."""
        asked = (parse_qs(query).get("version") or ["2"])[0]
        version = _VERSIONS.get(asked)
        if version is None:
            message = f"swagger version {asked!r} is not served; use ?version=2, 3 or 3.1"
            return _json(404, {"code": "not_found", "message": message})
        for name in _SWAGGER_FILES[version]:
            path = os.path.join(self.plan.code_dir, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    return HttpResponse(200, [("Content-Type", "application/json")], f.read())
        script = self.slot.script
        schemas = self.plan.data.get("schemas")  # the MLmodel signature's, for no-code MLflow
        if schemas is None and script is not None:
            schemas = _schemas(script)
        if schemas is None:
            files = " or ".join(_SWAGGER_FILES[version])
            return _json(
                404,
                {
                    "code": "swagger_not_found",
                    "message": f"no swagger document for version {version}: run() has no "
                    "@input_schema/@output_schema decorators (package inference-schema); add "
                    f"them, or put {files} in the code folder",
                },
            )
        return _json(200, _document(schemas, f"{self.plan.endpoint}/{self.plan.name}", version))


def _schemas(script: LoadedScript) -> dict[str, Any] | None:
    if "inference_schema" not in sys.modules:
        return None
    try:
        util: Any = importlib.import_module("inference_schema.schema_util")
        if not util.is_schema_decorated(script.run):
            return None
        return {
            "input": util.get_input_schema(script.run),
            "output": util.get_output_schema(script.run),
        }
    except Exception:
        return None


def _document(schemas: dict[str, Any], title: str, version: str) -> dict[str, Any]:
    inputs, outputs = schemas.get("input") or {}, schemas.get("output") or {}
    if version == "2":
        return {
            "swagger": "2.0",
            "info": {"title": title, "description": "API specification", "version": "1.0"},
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "paths": {
                "/score": {
                    "post": {
                        "parameters": [
                            {"name": "serviceInputPayload", "in": "body", "required": True,
                             "schema": {"$ref": "#/definitions/ServiceInput"}}
                        ],
                        "responses": {"200": {"description": "Success",
                                              "schema": {"$ref": "#/definitions/ServiceOutput"}}},
                    }
                }
            },
            "definitions": {"ServiceInput": inputs, "ServiceOutput": outputs},
        }  # fmt: skip
    ref = "#/components/schemas/"
    request = {"content": {"application/json": {"schema": {"$ref": ref + "ServiceInput"}}}}
    answer = {"application/json": {"schema": {"$ref": ref + "ServiceOutput"}}}
    return {
        "openapi": "3.1.0" if version == "3.1" else "3.0.1",
        "info": {"title": title, "version": "1.0"},
        "paths": {
            "/score": {
                "post": {
                    "requestBody": request,
                    "responses": {"200": {"description": "Success", "content": answer}},
                }
            }
        },
        "components": {"schemas": {"ServiceInput": inputs, "ServiceOutput": outputs}},
    }


def _handler(server: LocalScoringServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: see the module's docstring
        server_version = "ferry-local"

        def _serve(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            req = HttpRequest(
                method=self.command,
                path=path,
                query=query,
                headers=[(k, v) for k, v in self.headers.items()],
                body=body,
                remote_addr=self.client_address[0],
            )
            response = server.handle(req)
            self.send_response(response.status)
            for key, value in response.headers:
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}\n")

    return Handler


class _MainThreadServer(HTTPServer):
    """Serves on the calling thread and runs ``idle`` between requests (``serve_forever`` calls
    ``service_actions`` at least every poll interval)."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        idle: Callable[[], None],
    ) -> None:
        super().__init__(address, handler)
        self.idle = idle

    def service_actions(self) -> None:
        self.idle()


def serve(plan: LocalPlan, host: str = "127.0.0.1", port: int = 5001, reload: bool = False) -> int:
    """Load the script, call ``init()`` and serve until interrupted; returns the exit code.

    Without ``reload`` a failed load or ``init()`` ends the command (exit 3, as a worker); with
    it, the server answers 503 with the failure until the code folder changes.
    """
    enter(plan)
    # OnlineScorer logs each failure's whole traceback for a replica's log; here the failing line
    # and traceback are printed once, by LocalScoringServer.
    import logging

    logging.getLogger("ferry.runtime").propagate = False
    logging.getLogger("ferry.runtime").addHandler(logging.NullHandler())
    app = LocalScoringServer(plan)
    took = app.slot.load()
    if app.slot.failure is not None and not reload:
        return 3
    changed = threading.Event()
    script = os.path.basename(plan.entry_script)

    def reload_if_changed() -> None:
        if app.quit:
            raise KeyboardInterrupt  # leaves serve_forever as Ctrl-C does
        if not changed.is_set():
            return
        changed.clear()
        seconds = app.slot.load()  # here, on the main thread: see the module's docstring
        state = "failed" if app.slot.failure else "reloaded"
        print(
            f"{script} {state} in {seconds:.2f} s (a file in the code folder changed)", flush=True
        )

    httpd = _MainThreadServer((host, port), _handler(app), reload_if_changed)
    # Watching starts before the address is printed: a client may save a file right after.
    watcher = CodeWatcher(plan.code_dir, changed.set) if reload else None
    if watcher is not None:
        watcher.start()
    bound = httpd.server_address[1]
    state = "failed" if app.slot.failure else "ready"
    print(
        f"{script} {state} (init {took:.2f} s, python {sys.version.split()[0]}); serving "
        f"deployment {plan.name!r} at http://{host}:{bound}/score "
        f"(swagger: /swagger.json){'; reloading on changes to ' + plan.code_dir if reload else ''}",
        flush=True,
    )
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        if watcher is not None:
            watcher.stop()
        httpd.server_close()
        app.slot.close()
    return 0
