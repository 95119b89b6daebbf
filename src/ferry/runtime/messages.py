"""Every message that crosses the server <-> worker socket, documented in one place.

Each frame (see :mod:`.frames`) carries a JSON *header* (always with a ``kind``) and raw *body*
bytes. Requests carry an ``id`` chosen by the server; the worker echoes it in the answer. A worker
serves one request at a time, in order, so the server may pipeline but answers come back in order.

Worker -> server::

    ready         {worker_id, token, pid, mode, python, entry_script, init_ms, capabilities}
                  sent once, after the script loaded and init() returned. token: the job's or
                  deployment's secret (FERRY_WORKER_TOKEN); the server drops a connection whose
                  first frame lacks it, before it counts as a worker (see token_matches).
                  capabilities: {"run_batch": bool, "rawhttp": bool, "input_schema": bool}
    init_failed   {worker_id, token, pid, error: ErrorInfo}        error.where is "load" or "init";
                  the worker exits with code 3 right after.
    result        answer to run_batch: {id, n_items, n_lines, elapsed_ms}
                      body = the output rows as they go into the output file: n_lines lines,
                      each ending in "\n", UTF-8 with surrogateescape (a file name that is not
                      UTF-8 comes back as its own bytes). The engine writes them unchanged.
                  answer to score: {id, status, headers: [[name, value], ...], elapsed_ms}
                      body = response bytes.
    results       answer to score_batch: {id, items: [ItemResult, ...], elapsed_ms}
                      body = the successful items' response bodies, concatenated in order;
                      ItemResult = {ok: true, status, headers, body_len}
                                 | {ok: false, status, error: ErrorInfo}
    error         {id, status, error: ErrorInfo}            the request failed; the worker lives on.
                  status is the HTTP status the scoring server would answer (400, 405, 415, 500).
    pong          {id}

Server -> worker::

    run_batch     {id, items: [absolute file path, ...], tabular?: bool, mb?, attempt?}
                  (batch mode; mb/attempt: the mini-batch number and try, for log lines)
                  tabular=true: the files are read with pandas and run() gets one DataFrame.
    score         {id, method, path, query, headers: [[name, value], ...],
                   remote_addr?, scheme?}, body = request body                (online mode)
    score_batch   {id, requests: [{method, path, query, headers, body_len}, ...]},
                  body = the request bodies concatenated in order         (dynamic batching)
    ping          {id}
    shutdown      {}        the worker calls the script's shutdown() and exits 0.

ErrorInfo is plain data, never a pickled exception::

    {type: "ValueError", message: "...", traceback: "Traceback (most recent call last): ...",
     where: "load" | "init" | "input" | "run" | "output" | "protocol"}
"""

from __future__ import annotations

import os

# Not typing.TYPE_CHECKING: a batch worker imports this module at every start, and typing alone
# costs it ~4 ms (type checkers treat a constant of this name the same way).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType
    from typing import Any, Optional

    #: A reply frame: header and body.
    Reply = tuple[dict[str, Any], bytes]
    #: How a worker serves one request frame (header, body, start time); None for kinds it does
    #: not serve. Optional, not X | None: this runs on the user's Python 3.9.
    Handler = Callable[[dict[str, Any], bytes, float], Optional[Reply]]  # noqa: UP045

__all__ = [
    "ERROR",
    "INIT_FAILED",
    "PING",
    "PONG",
    "READY",
    "RESULT",
    "RESULTS",
    "RUN_BATCH",
    "SCORE",
    "SCORE_BATCH",
    "SHUTDOWN",
    "TOKEN_ENV",
    "Handler",
    "Reply",
    "error_info",
    "join_bodies",
    "split_bodies",
    "token_matches",
]

# worker -> server
READY = "ready"
INIT_FAILED = "init_failed"
RESULT = "result"
RESULTS = "results"
ERROR = "error"
PONG = "pong"
# server -> worker
RUN_BATCH = "run_batch"
SCORE = "score"
SCORE_BATCH = "score_batch"
PING = "ping"
SHUTDOWN = "shutdown"

#: The variable that carries a job's or deployment's worker token (through ``secret_env``, never
#: argv nor a file); the worker takes it out of its environment before the script loads.
TOKEN_ENV = "FERRY_WORKER_TOKEN"

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """Skip the leading frames that belong to this runtime, so users see their own code first."""
    first = tb
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        ours = os.path.dirname(os.path.abspath(filename)) == _RUNTIME_DIR
        if not filename.startswith("<") and not ours:
            return tb
        tb = tb.tb_next
    # Every frame is ours (the error is in the runtime itself): show them all.
    return first


def error_info(exc: BaseException, where: str, message: str | None = None) -> dict[str, Any]:
    """Describe an exception as data that can cross the process boundary.

    Args:
        exc: the exception raised by the user's script (or by the runtime).
        where: the stage: ``load``, ``init``, ``input``, ``run``, ``output`` or ``protocol``.
        message: replaces ``str(exc)`` when given.

    Returns:
        ``{"type", "message", "traceback", "where"}``; ``type`` is the qualified class name
        (``module.Class`` unless the class is a builtin).
    """
    import traceback  # only when something failed: it costs every worker start ~4 ms

    cls = type(exc)
    module = cls.__module__
    type_name = (
        cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
    )
    tb_text = "".join(traceback.format_exception(cls, exc, _user_frames(exc.__traceback__)))
    return {
        "type": type_name,
        "message": str(exc) if message is None else message,
        "traceback": tb_text,
        "where": where,
    }


def join_bodies(bodies: Sequence[bytes]) -> tuple[list[int], bytes]:
    """Pack several bodies into one frame body; returns (lengths, packed bytes)."""
    return [len(b) for b in bodies], b"".join(bodies)


def split_bodies(lengths: Sequence[int], body: bytes) -> list[bytes]:
    """Undo :func:`join_bodies`; raises ValueError if the lengths do not add up to the body."""
    if sum(lengths) != len(body) or any(n < 0 for n in lengths):
        raise ValueError(
            f"body_len values add up to {sum(lengths)} bytes but the frame body has {len(body)}"
        )
    out: list[bytes] = []
    offset = 0
    for n in lengths:
        out.append(body[offset : offset + n])
        offset += n
    return out


def token_matches(header: dict[str, Any], token: str) -> bool:
    """Whether a first frame carries ``token`` (popped from ``header``, so it goes no further).

    Compared in constant time: a worker on a cluster's network must not learn it byte by byte.
    """
    import hmac  # server side only: a worker never compares

    sent = header.pop("token", None)
    if not token or not isinstance(sent, str):
        return False
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), token.encode())
