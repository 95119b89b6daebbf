"""Run a scoring script in this process, as a deployment's worker would: the local debug loop.

``ferry online-deployment serve`` and ``ferry batch-deployment run --local`` resolve the YAML into
a :class:`LocalPlan` and call :func:`enter` then :mod:`.local_online` or :mod:`.local_batch` in
the CLI's own interpreter, so a breakpoint in ``init()``/``run()`` is hit under pdb, debugpy or an
IDE. With ``--python``/``--environment build`` the CLI re-executes ``python -m
ferry.runtime.local`` under the deployment's interpreter instead, with the plan in
``FERRY_LOCAL_PLAN`` (taken out of the environment before the script loads, like the secrets).

What the script sees is what a worker gives it: ``AZUREML_MODEL_DIR`` and the other variables,
the granted secrets behind the ``azureml.core`` Key Vault shim, ``sys.argv`` with the deployment's
arguments, the import shims, and the code folder as working directory and first on ``sys.path``.

Standard library only: this runs on the deployment's interpreter too.
"""

# This module runs on the user's interpreter (Python 3.8+), hence no X | Y outside annotations.
# Paths stay str: they come from and go to tracebacks, sys.path, os.environ and the plan's JSON.
# ruff: noqa: PTH100, PTH109, PTH116, PTH118, PTH120
from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback

from . import keyvault
from .azureml_shims import install_shims
from .loader import MODULE_NAME, LoadedScript, load_entry_script, set_argv
from .messages import error_info

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Optional

__all__ = [
    "DEBUGGER_QUIT",
    "PLAN_ENV",
    "CodeWatcher",
    "LocalPlan",
    "ScriptSlot",
    "enter",
    "failing_line",
    "format_failure",
    "line_from_traceback",
    "main",
]

PLAN_ENV = "FERRY_LOCAL_PLAN"
#: What ``run()`` raises when the developer quits pdb inside it: the run ends, it did not fail.
DEBUGGER_QUIT = "bdb.BdbQuit"
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


class LocalPlan:
    """Everything a local run needs, resolved from the deployment's YAML (JSON-serialisable)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.mode: str = data["mode"]  # online | batch
        self.name: str = data.get("name", "local")
        self.endpoint: str = data.get("endpoint", "")
        self.entry_script: str = data["entry_script"]
        self.code_dir: str = data["code_dir"]
        self.env: dict[str, str] = dict(data.get("env", {}))
        self.secrets: dict[str, str] = dict(data.get("secrets", {}))
        self.grant: str = data.get("grant", "")
        self.user_args: list[str] = list(data.get("user_args", []))
        self.logging_level: str = data.get("logging_level", "info")
        #: Batch settings (inputs, output_dir, mini_batch_size ...); changes go into ``data``.
        self.settings: dict[str, Any] = data.setdefault("settings", {})

    def to_json(self) -> str:
        return json.dumps(self.data)

    @classmethod
    def from_json(cls, text: str) -> LocalPlan:
        return cls(json.loads(text))


def enter(plan: LocalPlan) -> None:
    """Make this process look like the deployment's worker before the script is imported."""
    os.environ.update(plan.env)
    os.environ.setdefault("FERRY_WORKER_ID", "local")
    os.environ["AZUREML_ENTRY_SCRIPT"] = plan.entry_script
    os.environ["AML_APP_ROOT"] = plan.code_dir
    keyvault.configure(plan.secrets, plan.grant)
    install_shims()
    online = plan.mode == "online"
    # ParallelRunStep passes --logging_level to batch scripts; the online server passes nothing.
    set_argv(plan.entry_script, plan.user_args, None if online else plan.logging_level)


def failing_line(exc: BaseException, code_dir: str) -> dict[str, Any] | None:
    """The frame to show for ``exc``: the deepest one in the code folder, else the deepest one
    outside this runtime (a library the script called), as ``{file, line, function, source}``."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        # A syntax error has no frame of its own: the file and line are on the exception.
        source = (exc.text or "").strip()
        return {"file": exc.filename, "line": exc.lineno, "function": "<module>", "source": source}
    root = os.path.join(os.path.abspath(code_dir), "")
    chosen = None
    for frame in frames:
        # "<frozen os>" is no file: made absolute it would seem to lie in the working directory.
        if not frame.filename.startswith("<") and os.path.abspath(frame.filename).startswith(root):
            chosen = frame
    if chosen is None:
        outside = [
            f
            for f in frames
            if not f.filename.startswith("<")
            and os.path.dirname(os.path.abspath(f.filename)) != _RUNTIME_DIR
        ]
        chosen = outside[-1] if outside else (frames[-1] if frames else None)
    if chosen is None:
        return None
    return {
        "file": chosen.filename,
        "line": chosen.lineno,
        "function": chosen.name,
        "source": (chosen.line or "").strip(),
    }


_FILE_LINE = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>.+)$')


def line_from_traceback(text: str, code_dir: str) -> dict[str, Any] | None:
    """:func:`failing_line` from a traceback's text (what crosses as :func:`error_info` data)."""
    root = os.path.join(os.path.abspath(code_dir), "")
    lines = text.splitlines()
    found, fallback = None, None
    for i, line in enumerate(lines):
        match = _FILE_LINE.match(line)
        if match is None:
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        source = nxt.strip() if nxt.startswith("    ") and not nxt.startswith("    File") else ""
        frame = {
            "file": match["file"],
            "line": int(match["line"]),
            "function": match["function"],
            "source": source,
        }
        if match["file"].startswith("<"):
            continue  # frozen or generated code: no file of the user's
        if os.path.abspath(match["file"]).startswith(root):
            found = frame
        elif os.path.dirname(os.path.abspath(match["file"])) != _RUNTIME_DIR:
            fallback = frame
    return found or fallback


def describe(exc: BaseException, where: str, code_dir: str) -> dict[str, Any]:
    """:func:`~.messages.error_info` plus ``at``: the failing line (see :func:`failing_line`)."""
    info = error_info(exc, where)
    info["at"] = failing_line(exc, code_dir)
    return info


def format_failure(info: dict[str, Any], code_dir: str) -> str:
    """The terminal's text for a failure: the user's line first, then the traceback."""
    stage = {"load": "importing the script", "init": "init()", "run": "run()"}
    what = stage.get(str(info.get("where")), str(info.get("where")))
    head = f"{what} failed: {info.get('type')}: {info.get('message')}"
    at = info.get("at")
    if at:
        rel = (
            os.path.relpath(at["file"], code_dir) if at["file"].startswith(code_dir) else at["file"]
        )
        head += f"\n  at {rel}:{at['line']} in {at['function']}(): {at['source']}"
    tb = str(info.get("traceback") or "").rstrip()
    return f"{head}\n{tb}" if tb else head


def _purge_code_modules(code_dir: str) -> None:
    """Forget the script and every module imported from the code folder, so a reload imports
    the edited files (sibling modules too), not the copies already in ``sys.modules``."""
    root = os.path.join(os.path.abspath(code_dir), "")
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name == MODULE_NAME or (path and os.path.abspath(path).startswith(root)):
            del sys.modules[name]


class ScriptSlot:
    """The loaded script, (re)loaded under a lock that also serialises calls into it: one worker
    serves one request at a time, as ``WORKER_COUNT=1`` does."""

    def __init__(self, plan: LocalPlan, prepare: Callable[[LoadedScript], Any] | None = None):
        self.plan = plan
        self.prepare = prepare
        self.lock = threading.RLock()
        self.script: Optional[LoadedScript] = None  # noqa: UP045 (runs on Python 3.8)
        #: What the ``prepare`` callback returned (the online scorer); None when not loaded.
        self.prepared: Any = None
        #: The last load/init failure (with ``at``), None after a good load.
        self.failure: Optional[dict[str, Any]] = None  # noqa: UP045

    def load(self) -> float:
        """Import the script and call ``init()``; returns the seconds it took. A failure is kept
        in :attr:`failure` (and printed), never raised."""
        online = self.plan.mode == "online"
        with self.lock:
            started = time.perf_counter()
            if self.script is not None:
                self.script.call_shutdown()
            self.script, self.prepared, self.failure = None, None, None
            _purge_code_modules(self.plan.code_dir)
            where = "load"
            try:
                script = load_entry_script(
                    self.plan.entry_script, self.plan.code_dir, require_init=online, online=online
                )
                prepared = self.prepare(script) if self.prepare is not None else None
                where = "init"
                script.call_init()
            except (Exception, SystemExit) as exc:
                self.failure = describe(exc, where, self.plan.code_dir)
                print(format_failure(self.failure, self.plan.code_dir), file=sys.stderr)
            else:
                self.script, self.prepared = script, prepared
            return time.perf_counter() - started

    def close(self) -> None:
        with self.lock:
            if self.script is not None:
                self.script.call_shutdown()
                self.script = None


def _snapshot(folder: str) -> dict[str, tuple[int, int]]:
    seen: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".git") and not d.startswith(".")]
        for name in files:
            if name.endswith((".pyc", ".swp", "~")):
                continue
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen[path] = (st.st_mtime_ns, st.st_size)
    return seen


class CodeWatcher(threading.Thread):
    """Polls the code folder's files (``stat`` every ``interval`` s; no inotify needed) and calls
    ``on_change`` after something was added, removed or rewritten."""

    def __init__(self, folder: str, on_change: Callable[[], None], interval: float = 0.2):
        super().__init__(name="ferry-reload", daemon=True)
        self.folder = folder
        self.on_change = on_change
        self.interval = interval
        self.stopped = threading.Event()
        # Taken now, not when the thread first runs: a save between start() and the thread's
        # first turn would otherwise be the state compared against, and never be seen.
        self.before = _snapshot(folder)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            now = _snapshot(self.folder)
            if now != self.before:
                self.before = now
                self.on_change()

    def stop(self) -> None:
        self.stopped.set()


def main(argv: list[str] | None = None) -> int:
    """Entry point under another interpreter: ``FERRY_LOCAL_PLAN=... python -m ...local``."""
    text = os.environ.pop(PLAN_ENV, None)
    if text is None:
        print(
            f"ferry local: {PLAN_ENV} is not set; start this with `ferry ... --local`",
            file=sys.stderr,
        )
        return 2
    plan = LocalPlan.from_json(text)
    options = plan.data.get("options", {})
    if sys.path and sys.path[0] == os.getcwd() != plan.code_dir:
        del sys.path[0]  # `-m` put the caller's directory first; the script's folder goes there
    if plan.mode == "online":
        from .local_online import serve

        return serve(plan, **options)
    from .local_batch import run_local

    return run_local(plan, **options)


if __name__ == "__main__":
    sys.exit(main())
