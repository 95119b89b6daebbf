"""Azure ML's scoring-script helpers, and import shims so existing scripts run unchanged.

Scripts written for Azure ML import::

    from azureml_inference_server_http.api.aml_request import rawhttp, AMLRequest
    from azureml_inference_server_http.api.aml_response import AMLResponse
    from azureml.contrib.services.aml_request import rawhttp, AMLRequest      # legacy path
    from azureml.contrib.services.aml_response import AMLResponse              # legacy path
    from azureml_user.parallel_run import EntryScript                           # batch (PRS)
    from azureml.core import Model, Run, Workspace          # v1: model path, run, Key Vault

:func:`install_shims` appends a finder to the *end* of ``sys.meta_path``: it is asked only after
every real finder failed, so an installed package always wins and nothing is imported up front.

``AMLRequest`` is a ``werkzeug.wrappers.Request`` subclass (what Flask gives ``@rawhttp`` scripts)
when werkzeug is importable in the environment, else a stdlib stand-in with the common methods.
``AMLResponse`` likewise subclasses werkzeug's Response (Flask's base) or a stdlib stand-in.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

# Every batch worker imports this module at start, so what it imports is paid per worker per
# job: logging, datetime and typing are imported where they are used, or only for type checkers.
TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "HAVE_WERKZEUG",
    "AMLRequest",
    "AMLResponse",
    "EntryScript",
    "dumps_json",
    "install_shims",
    "is_rawhttp",
    "json_default",
    "rawhttp",
    "uninstall_shims",
]

_RAWHTTP_ATTR = "__ferry_rawhttp__"
_rawhttp_requested = False


def rawhttp(func: F) -> F:
    """Mark ``run()`` as wanting the raw HTTP request (an :data:`AMLRequest`) as its argument."""
    global _rawhttp_requested
    # Azure's scoring server keeps a module flag instead of marking the function; keep both so a
    # decorator stacked on top of @rawhttp does not hide the mark.
    _rawhttp_requested = True
    with contextlib.suppress(AttributeError, TypeError):  # e.g. a builtin or a bound method
        setattr(func, _RAWHTTP_ATTR, True)
    return func


def is_rawhttp(func: Callable[..., Any]) -> bool:
    """True if ``func`` (or anything in this process) was decorated with a ``rawhttp``."""
    seen: Any = func
    while seen is not None:
        if getattr(seen, _RAWHTTP_ATTR, False):
            return True
        seen = getattr(seen, "__wrapped__", None)
    if _rawhttp_requested:
        return True
    # The real azureml_inference_server_http sets a module flag in its own aml_request module.
    for name in (
        "azureml_inference_server_http.api.aml_request",
        "azureml.contrib.services.aml_request",
    ):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "_rawHttpRequested", False) is True:
            return True
    return False


def json_default(obj: Any) -> Any:
    """``json.dumps`` hook: numpy arrays and scalars (``tolist()``) and dates (ISO 8601)."""
    import datetime

    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps_json(value: Any) -> str:
    """``value`` as strict JSON: NaN and the infinities become ``null``.

    ``json.dumps`` writes them as the bare words ``NaN`` and ``Infinity``, which are not JSON: a
    strict client (JavaScript's ``JSON.parse``, Go, Java) fails on the whole response. ``null`` is
    what pandas' ``to_json`` writes for a missing score, so that is what a client gets.

    Raises:
        TypeError: a value that is not JSON-serialisable.
        ValueError: a circular reference.
        RecursionError: a structure nested too deeply.
    """
    try:  # the common case stays on the C encoder
        return json.dumps(value, default=json_default, allow_nan=False)
    except ValueError as exc:
        if "Out of range float values" not in str(exc):
            raise
    return json.dumps(_finite(value, set()), default=_finite_default, allow_nan=False)


def _finite(value: Any, active: set[int]) -> Any:
    if isinstance(value, float):
        return value if value - value == 0.0 else None  # inf - inf and nan - nan are nan
    if not isinstance(value, (dict, list, tuple)):
        return value
    if id(value) in active:
        raise ValueError("Circular reference detected")
    active.add(id(value))
    try:
        if isinstance(value, dict):
            return {k: _finite(v, active) for k, v in value.items()}
        return [_finite(v, active) for v in value]
    finally:
        active.discard(id(value))


def _finite_default(obj: Any) -> Any:
    return _finite(json_default(obj), set())


def _response_parts(
    message: Any, json_str: bool, response_headers: Mapping[str, Any] | None
) -> tuple[Any, str | None, list[tuple[str, str]]]:
    """Body, mimetype and extra headers of an AMLResponse, following Azure's AMLResponse."""
    extra: list[tuple[str, str]] = []
    # Repeated header values are comma-separated in Azure's API (RFC 2616 section 4.2).
    for name, value in (response_headers or {}).items():
        extra.extend((name, v.strip()) for v in str(value).split(","))
    if message is None:
        return "{}", "application/json", extra
    if json_str or isinstance(message, (dict, list)):
        # Azure hands a dict without json_str to Flask, which fails; JSON is what was meant.
        return dumps_json(message), "application/json", extra
    return message, None, extra


def _aml_response_class(base: type[Any]) -> type[Any]:
    class AMLResponse(base):  # type: ignore[misc]
        """A Flask-style response: ``AMLResponse(message, status, response_headers, json_str)``.

        ``message`` may be bytes, str, an iterable of chunks, or (with ``json_str=True``, or as a
        dict or list) any JSON-serialisable value. ``headers`` is accepted as an alias of
        ``response_headers``.
        """

        def __init__(
            self,
            message: Any,
            status_code: int,
            response_headers: Mapping[str, Any] | None = None,
            json_str: bool = False,
            run_function_failed: bool = False,
            headers: Mapping[str, Any] | None = None,
        ) -> None:
            body, mimetype, extra = _response_parts(message, json_str, response_headers or headers)
            super().__init__(body, status=status_code, mimetype=mimetype)
            if any(name.lower() == "content-type" for name, _ in extra):
                self.headers.remove("Content-Type")  # the script's own type replaces the default
            self.headers["x-ms-run-function-failed"] = str(bool(run_function_failed))
            for name, value in extra:
                self.headers.add(name, value)

    return AMLResponse


def _make_classes() -> tuple[type[Any], type[Any], bool]:
    try:
        from werkzeug.wrappers import Request, Response
    except Exception:  # absent, or broken in this environment: the stdlib stand-ins still work
        # Imported here: the stand-ins pull in http.client and email (~20 ms), which batch
        # workers and scripts that never touch AMLRequest/AMLResponse do not need.
        from ._fallback import FallbackRequest, FallbackResponse

        class StdlibAMLRequest(FallbackRequest):
            """The raw HTTP request given to ``@rawhttp`` scripts (stdlib stand-in for Flask's)."""

        StdlibAMLRequest.__name__ = StdlibAMLRequest.__qualname__ = "AMLRequest"
        return StdlibAMLRequest, _aml_response_class(FallbackResponse), False

    class WerkzeugAMLRequest(Request):
        """The raw HTTP request given to ``@rawhttp`` scripts: a werkzeug (Flask) Request."""

    WerkzeugAMLRequest.__name__ = WerkzeugAMLRequest.__qualname__ = "AMLRequest"
    return WerkzeugAMLRequest, _aml_response_class(Response), True


# Built on first use (PEP 562 module __getattr__): importing werkzeug costs about 70 ms, which
# batch workers and undecorated online scripts never need.
AMLRequest: Any
AMLResponse: Any
HAVE_WERKZEUG: bool
_classes: tuple[type[Any], type[Any], bool] | None = None


def __getattr__(name: str) -> Any:
    global _classes
    if name in ("AMLRequest", "AMLResponse", "HAVE_WERKZEUG"):
        if _classes is None:
            _classes = _make_classes()
        return _classes[("AMLRequest", "AMLResponse", "HAVE_WERKZEUG").index(name)]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class EntryScript:
    """ParallelRunStep's helper for batch scripts: a logger and the folders a script may use."""

    @property
    def agent_name(self) -> str:
        """This worker's name, e.g. ``worker-3``."""
        return os.environ.get("FERRY_WORKER_ID") or f"process{os.getpid():03d}"

    @property
    def logger(self) -> logging.Logger:
        """A logger whose records go to this worker's log (stderr, at the job's logging level)."""
        import logging  # configured as it is imported (see logs.py)

        return logging.getLogger(f"entry_script.{self.agent_name}")

    @property
    def log_dir(self) -> str:
        """A folder for the script's own log files (``FERRY_LOG_DIR``); created on first use."""
        path = os.environ.get("FERRY_LOG_DIR")
        if not path:  # outside a Ferry worker; tempfile is imported only here (it costs ~4 ms)
            import tempfile

            path = os.path.join(tempfile.gettempdir(), "ferry-entry-script-logs", self.agent_name)
        os.makedirs(path, exist_ok=True)
        return path

    @property
    def output_dir(self) -> str:
        """The job's shared output folder, ``AZUREML_BI_OUTPUT_PATH`` (all workers write there)."""
        return os.environ.get("AZUREML_BI_OUTPUT_PATH") or os.getcwd()


def _request_attrs() -> dict[str, Any]:
    return {"rawhttp": rawhttp, "AMLRequest": __getattr__("AMLRequest")}


def _response_attrs() -> dict[str, Any]:
    return {"AMLResponse": __getattr__("AMLResponse")}


def _core_attrs() -> dict[str, Any]:
    from . import azureml_core

    return {
        "Model": azureml_core.Model,
        "Run": azureml_core.Run,
        "Workspace": azureml_core.Workspace,
        "Keyvault": azureml_core.Keyvault,
    }


_PACKAGES = (
    "azureml",
    "azureml.core",
    "azureml.contrib",
    "azureml.contrib.services",
    "azureml_inference_server_http",
    "azureml_inference_server_http.api",
    "azureml_user",
)
_MODULES: dict[str, Callable[[], dict[str, Any]]] = {
    "azureml.contrib.services.aml_request": _request_attrs,
    "azureml.contrib.services.aml_response": _response_attrs,
    "azureml_inference_server_http.api.aml_request": _request_attrs,
    "azureml_inference_server_http.api.aml_response": _response_attrs,
    "azureml_user.parallel_run": lambda: {"EntryScript": EntryScript},
    "azureml.core": _core_attrs,
    "azureml.core.model": _core_attrs,
    "azureml.core.run": _core_attrs,
    "azureml.core.workspace": _core_attrs,
    "azureml.core.keyvault": _core_attrs,
}


# The finder and loader follow importlib's protocols by duck typing: subclassing importlib.abc
# would import importlib.resources, tempfile and shutil into every worker (~6 ms).
class _ShimLoader:
    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        attrs = _MODULES.get(module.__name__)
        module.__dict__.update(attrs() if attrs is not None else {})
        module.__dict__["__ferry_shim__"] = True

    def load_module(self, fullname: str) -> ModuleType:
        """The legacy loader call (importlib itself uses the two above)."""
        module = ModuleType(fullname)
        self.exec_module(module)
        sys.modules[fullname] = module
        return module


class ShimFinder:
    """Serves Ferry's versions of Azure ML's script-facing modules when the real ones are absent."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _MODULES and fullname not in _PACKAGES:
            return None
        loader: Any = _ShimLoader()  # a Loader by duck typing (see above)
        return ModuleSpec(fullname, loader, is_package=fullname in _PACKAGES)


def install_shims() -> ShimFinder:
    """Make the Azure ML import paths resolve to Ferry's helpers where no real package exists.

    Idempotent. The finder goes last on ``sys.meta_path``, so real installed packages win.
    """
    for finder in sys.meta_path:
        if isinstance(finder, ShimFinder):
            return finder
    finder = ShimFinder()
    sys.meta_path.append(finder)
    return finder


def uninstall_shims() -> None:
    """Remove the finder and forget the shim modules already imported (for tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, ShimFinder)]
    for name in [n for n, m in sys.modules.items() if getattr(m, "__ferry_shim__", False)]:
        del sys.modules[name]
