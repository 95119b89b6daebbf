"""The worker process: load the user's script, call ``init()``, then serve frames.

Usage (started by the server with the environment's own interpreter)::

    python -m ferry.runtime.worker --connect PATH_OR_HOST:PORT --mode batch|online \\
        --entry-script /abs/score.py [--code-dir DIR] [--worker-id ID] \\
        [--logging-level INFO] [-- user args...]

Exit codes: 0 after ``shutdown``, end of connection or SIGTERM; 2 bad command line or the server
cannot be reached; 3 the script failed to load or ``init()`` raised (``init_failed`` was sent);
4 the server broke the frame protocol. On POSIX, SIGUSR1 dumps every thread's stack to stderr,
which shows where a hung script is stuck before the server kills it.
"""

# This module runs on the user's interpreter (Python 3.9+), hence no X | Y outside annotations.
from __future__ import annotations

import collections
import faulthandler
import os
import select
import signal
import socket
import sys
import time

from . import keyvault, logs
from . import messages as m
from .azureml_shims import install_shims
from .batch import BatchOutcome, run_mini_batch
from .data_client import DataAgentClient, from_environ
from .frames import ConnectionClosedError, FrameError, recv_frame, send_frame
from .loader import LoadedScript, load_entry_script, set_argv
from .logs import ERROR, INFO, log
from .output_watch import OutputWatch

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType
    from typing import Any

    from .messages import Handler, Reply

__all__ = ["connect", "main", "parse_args"]

EXIT_OK, EXIT_USAGE, EXIT_INIT_FAILED, EXIT_PROTOCOL = 0, 2, 3, 4


class _Terminate(BaseException):
    """Raised by the SIGTERM handler; not an Exception, so no user ``except Exception`` eats it."""


USAGE = (
    "usage: python -m ferry.runtime.worker --connect PATH_OR_HOST:PORT --mode batch|online "
    "--entry-script /abs/score.py [--code-dir DIR] [--worker-id ID] [--logging-level LEVEL] "
    "[-- user args...]"
)
_OPTIONS = {
    "--connect": "connect",
    "--mode": "mode",
    "--entry-script": "entry_script",
    "--code-dir": "code_dir",
    "--worker-id": "worker_id",
    "--logging-level": "logging_level",
}
_REQUIRED = ("--connect", "--mode", "--entry-script")


class UsageError(ValueError):
    """The worker's command line is wrong (the server built it, so this is a Ferry bug)."""


class Options:
    """The worker's options (argparse is not used: it costs every worker start ~3 ms)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.connect = values["connect"]
        self.mode = values["mode"]
        self.entry_script = values["entry_script"]
        self.code_dir: str | None = values.get("code_dir")
        self.worker_id: str | None = values.get("worker_id")
        #: the root logging level; batch scripts also get it as --logging_level
        self.logging_level = values.get("logging_level") or os.environ.get(
            "AZUREML_LOG_LEVEL", "INFO"
        )


def parse_args(argv: Sequence[str]) -> tuple[Options, list[str]]:
    """Split the command line into the worker's options and the user's arguments (after ``--``).

    Raises:
        UsageError: an unknown or repeated option, a missing value or required option, or a
            mode other than batch or online.
    """
    argv = list(argv)
    user_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, user_args = argv[:cut], argv[cut + 1 :]
    values: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        option, eq, value = arg.partition("=")
        if option not in _OPTIONS:
            raise UsageError(f"unknown argument {arg!r}")
        if not eq:
            value = next(args, "")
            if not value or value.startswith("--"):
                raise UsageError(f"{option} needs a value")
        if _OPTIONS[option] in values:
            raise UsageError(f"{option} is given twice")
        values[_OPTIONS[option]] = value
    missing = [o for o in _REQUIRED if _OPTIONS[o] not in values]
    if missing:
        raise UsageError(f"missing required option(s): {', '.join(missing)}")
    if values["mode"] not in ("batch", "online"):
        raise UsageError(f"--mode must be batch or online, not {values['mode']!r}")
    return Options(values), user_args


def connect(address: str) -> socket.socket:
    """Connect to the server: ``unix:PATH`` or a path with ``/``; ``[tcp:]host:port`` otherwise."""
    if address.startswith("unix:") or ("/" in address and not address.startswith("tcp:")):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address[5:] if address.startswith("unix:") else address)
        return sock
    host, _, port = (
        address[4:].rpartition(":") if address.startswith("tcp:") else address.rpartition(":")
    )
    sock = socket.create_connection((host or "127.0.0.1", int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _setup_process(level: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)  # print() lands in the log at once, not at exit
    logs.configure(level)
    faulthandler.enable()
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Terminate()

    signal.signal(signal.SIGTERM, on_sigterm)


def _log_model_dir() -> None:
    """After a failed init(), show what the model folder holds: a wrong path is the usual cause."""
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        return
    shown: list[str] = []
    for root, _dirs, files in os.walk(model_dir):
        shown.extend(os.path.relpath(os.path.join(root, f), model_dir) for f in files)
        if len(shown) > 50:
            break
    log(ERROR, f"AZUREML_MODEL_DIR={model_dir} holds: {shown[:50] or 'no files'}")


class _Inbox:
    """The server's frames, served in order; a frame that has already arrived can be read early
    (the next mini-batch, whose files the data agent then fetches while this one runs)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._early: collections.deque[tuple[dict[str, Any], bytes] | FrameError] = (
            collections.deque()
        )

    def next(self) -> tuple[dict[str, Any], bytes]:
        if not self._early:
            return recv_frame(self._sock)
        frame = self._early.popleft()
        if isinstance(frame, FrameError):  # met while reading early: its turn has come
            raise frame
        return frame

    def arrived(self) -> dict[str, Any] | None:
        """The header of the next frame when it is here already (read now, served in turn)."""
        if self._early or not select.select([self._sock], [], [], 0)[0]:
            return None
        try:
            frame = recv_frame(self._sock)
        except FrameError as exc:  # a closed connection too
            self._early.append(exc)
            return None
        self._early.append(frame)
        return frame[0]


def _score(
    script: LoadedScript,
    items: list[str],
    tabular: bool,
    agent: DataAgentClient | None,
    inbox: _Inbox | None = None,
) -> BatchOutcome:
    """``run()`` on the mini-batch; through the data agent when the files are not on this
    machine (fetched first, the next mini-batch's fetched while this one runs, and the output
    files committed before the result is sent)."""
    if agent is None:
        return run_mini_batch(script, items, tabular)
    try:
        paths = agent.fetch(items)
        upcoming = inbox.arrived() if inbox is not None else None
        if upcoming is not None and upcoming.get("kind") == m.RUN_BATCH:
            agent.prefetch(list(upcoming.get("items") or []))
    except Exception as exc:
        return BatchOutcome(error=m.error_info(exc, "input"))
    outcome = run_mini_batch(script, paths, tabular)
    try:
        agent.finish(commit=outcome.error is None)
    except Exception as exc:
        if outcome.error is None:  # not done until its files are on the datastore: retried
            return BatchOutcome(error=m.error_info(exc, "output"))
    return outcome


def _run_batch(
    header: dict[str, Any],
    script: LoadedScript,
    start: float,
    watch: OutputWatch | None,
    agent: DataAgentClient | None = None,
    inbox: _Inbox | None = None,
) -> Reply:
    req_id, items = header.get("id"), header["items"]
    # Log lines name the mini-batch as job_result.txt and processed_mini-batches.csv do.
    label = f"mini-batch {header.get('mb', req_id)}"
    if header.get("attempt", 1) != 1:
        label += f" (attempt {header['attempt']})"
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise TypeError('run_batch needs "items": a list of file paths')
    if watch is not None:
        watch.start()
    try:
        outcome = _score(script, items, bool(header.get("tabular", False)), agent, inbox)
    finally:
        written = watch.stop() if watch is not None else []
    elapsed = (time.perf_counter() - start) * 1000
    if outcome.error is not None:
        log(ERROR, f"{label} failed:\n{outcome.error['traceback']}")
        return {"kind": m.ERROR, "id": req_id, "status": 500, "error": outcome.error}, b""
    n_files, n_items = len(items), outcome.n_items
    log(INFO, f"{label}: {n_files} files -> {n_items} items in {elapsed:.1f} ms")
    reply = {
        "kind": m.RESULT,
        "id": req_id,
        "n_items": outcome.n_items,
        "n_lines": outcome.n_lines,
        "elapsed_ms": elapsed,
    }
    if written:  # the engine warns when two mini-batches write the same file
        reply["outputs"] = written
    return reply, outcome.rows


def _batch_handler(script: LoadedScript, inbox: _Inbox) -> Handler:
    output_dir = os.environ.get("AZUREML_BI_OUTPUT_PATH")
    watch = OutputWatch(output_dir) if output_dir else None
    agent = from_environ()

    def handle(header: dict[str, Any], body: bytes, start: float) -> Reply | None:
        if header["kind"] != m.RUN_BATCH:
            return None
        return _run_batch(header, script, start, watch, agent, inbox)

    return handle


def _online_handler(script: LoadedScript) -> tuple[Handler, dict[str, bool]]:
    """The online handler and the scorer's capabilities (for the ``ready`` frame)."""
    # Imported in online mode only: a batch worker never loads the HTTP contract, which
    # shortens every batch worker's start (see bench/batch/README.md).
    from .online import OnlineScorer
    from .online_frames import handler

    scorer = OnlineScorer(script)
    return handler(scorer), scorer.capabilities


def _handle(header: dict[str, Any], body: bytes, handle: Handler, mode: str) -> Reply:
    """Serve one request frame; returns the reply frame."""
    kind = header["kind"]
    start = time.perf_counter()
    if kind == m.PING:
        return {"kind": m.PONG, "id": header.get("id")}, b""
    reply = handle(header, body, start)
    if reply is None:
        raise ValueError(
            f"{'an' if mode == 'online' else 'a'} {mode} worker does not serve {kind!r} messages"
        )
    return reply


def _serve(sock: socket.socket, inbox: _Inbox, handle: Handler, mode: str) -> int:
    while True:
        try:
            header, body = inbox.next()
        except ConnectionClosedError:
            log(INFO, "the server closed the connection; exiting")
            return EXIT_OK
        except FrameError as exc:
            log(ERROR, f"broken frame stream from the server: {exc}")
            return EXIT_PROTOCOL
        if header["kind"] == m.SHUTDOWN:
            return EXIT_OK
        try:
            reply, reply_body = _handle(header, body, handle, mode)
        except Exception as exc:  # a malformed request must not take the worker down
            log(ERROR, f"cannot serve a {header.get('kind')!r} message", exc_info=True)
            reply = {
                "kind": m.ERROR,
                "id": header.get("id"),
                "status": 400,
                "error": m.error_info(exc, "protocol"),
            }
            reply_body = b""
        send_frame(sock, reply, reply_body)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a worker; returns the process exit code."""
    try:
        args, user_args = parse_args(sys.argv[1:] if argv is None else argv)
        level = logs.parse_level(args.logging_level)
    except ValueError as exc:
        print(f"{USAGE}\nferry worker: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _setup_process(level)
    worker_id = args.worker_id or str(os.getpid())
    online = args.mode == "online"
    entry_script = os.path.abspath(args.entry_script)
    code_dir = os.path.abspath(args.code_dir or os.path.dirname(entry_script))
    os.environ["FERRY_WORKER_ID"] = worker_id
    # Out of the environment before any user code: the script and its subprocesses never see it.
    token = os.environ.pop(m.TOKEN_ENV, "")
    keyvault.take_from_environ()  # before any user code: the script reads them via the shim
    os.environ.setdefault("AZUREML_ENTRY_SCRIPT", entry_script)
    os.environ.setdefault("AML_APP_ROOT", code_dir)
    if sys.path and sys.path[0] == os.getcwd() != code_dir:
        del sys.path[0]  # `-m` put the server's working directory first; it is not the user's
    try:
        sock = connect(args.connect)
    except (OSError, ValueError) as exc:
        print(f"ferry worker {worker_id}: cannot connect to {args.connect}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    script: LoadedScript | None = None
    try:
        with sock:
            install_shims()
            inbox = _Inbox(sock)
            set_argv(entry_script, user_args, None if online else args.logging_level)
            base = {"worker_id": worker_id, "token": token, "pid": os.getpid()}
            where = "load"
            started = time.perf_counter()
            try:
                script = load_entry_script(
                    entry_script, code_dir, require_init=online, online=online
                )
                if online:
                    handle, capabilities = _online_handler(script)
                else:
                    handle, capabilities = _batch_handler(script, inbox), {}
                where = "init"
                script.call_init()
            except (Exception, SystemExit) as exc:
                error = m.error_info(exc, where)
                log(
                    ERROR,
                    f"{where} failed ({entry_script}): {error['message']}\n{error['traceback']}",
                )
                if where == "init":
                    _log_model_dir()
                send_frame(sock, {"kind": m.INIT_FAILED, **base, "error": error})
                script = None  # shutdown() is not called when init() failed (as on Azure)
                return EXIT_INIT_FAILED
            ready = {
                "kind": m.READY,
                **base,
                "mode": args.mode,
                "python": sys.version.split()[0],
                "entry_script": entry_script,
                "init_ms": (time.perf_counter() - started) * 1000,
                "capabilities": capabilities,
            }
            send_frame(sock, ready)
            log(INFO, f"worker {worker_id} ready ({args.mode}, {script.name})")
            return _serve(sock, inbox, handle, args.mode)
    except (_Terminate, KeyboardInterrupt):
        log(INFO, f"worker {worker_id} stopping on a signal")
        return EXIT_OK
    except (BrokenPipeError, ConnectionResetError) as exc:
        log(ERROR, f"lost the connection to the server: {exc}")
        return EXIT_OK
    finally:
        if script is not None:
            script.call_shutdown()


if __name__ == "__main__":
    sys.exit(main())
