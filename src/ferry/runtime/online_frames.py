"""An online worker's side of the protocol: ``score`` and ``score_batch`` frames to scorer calls.

Imported by :mod:`.worker` only in online mode, so batch workers never load the HTTP contract
(:mod:`.online`, :mod:`.wsgi`, and what they import).
"""

# This module runs on the user's interpreter (Python 3.9+), hence no zip(strict=).
# ruff: noqa: B905
from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from . import messages as m
from .online import HttpRequest, OnlineScorer, ScoreError
from .wsgi import header_pairs

if TYPE_CHECKING:
    from .messages import Handler, Reply

__all__ = ["handler"]


def _request(spec: dict[str, Any], body: bytes) -> HttpRequest:
    return HttpRequest(
        method=str(spec.get("method", "POST")),
        path=str(spec.get("path", "/score")),
        query=str(spec.get("query", "")),
        headers=header_pairs(spec.get("headers") or []),
        body=body,
        remote_addr=spec.get("remote_addr"),
        scheme=str(spec.get("scheme", "http")),
    )


def _score(header: dict[str, Any], body: bytes, scorer: OnlineScorer, start: float) -> Reply:
    """Serve one ``score`` frame (one HTTP request) with the scorer."""
    outcome = scorer.score(_request(header, body))
    elapsed = (time.perf_counter() - start) * 1000
    if isinstance(outcome, ScoreError):
        return {"kind": m.ERROR, "id": header.get("id"), **asdict(outcome)}, b""
    reply = {
        "kind": m.RESULT,
        "id": header.get("id"),
        "status": outcome.status,
        "headers": [list(h) for h in outcome.headers],
        "elapsed_ms": elapsed,
    }
    return reply, outcome.body


def _score_batch(header: dict[str, Any], body: bytes, scorer: OnlineScorer, start: float) -> Reply:
    """Serve one ``score_batch`` frame (requests the gateway batched) with the scorer."""
    specs = header["requests"]
    bodies = m.split_bodies([int(s.get("body_len", 0)) for s in specs], body)
    outcomes = scorer.score_many([_request(s, b) for s, b in zip(specs, bodies)])
    results: list[dict[str, Any]] = []
    out_bodies: list[bytes] = []
    for o in outcomes:
        if isinstance(o, ScoreError):
            results.append({"ok": False, **asdict(o)})
            continue
        headers = [list(h) for h in o.headers]
        results.append(
            {"ok": True, "status": o.status, "headers": headers, "body_len": len(o.body)}
        )
        out_bodies.append(o.body)
    elapsed = (time.perf_counter() - start) * 1000
    reply = {"kind": m.RESULTS, "id": header.get("id"), "items": results, "elapsed_ms": elapsed}
    return reply, b"".join(out_bodies)


def handler(scorer: OnlineScorer) -> Handler:
    """The worker's handler for online frames; it answers None to the kinds it does not serve."""

    def handle(header: dict[str, Any], body: bytes, start: float) -> Reply | None:
        kind = header["kind"]
        if kind == m.SCORE:
            return _score(header, body, scorer, start)
        if kind == m.SCORE_BATCH:
            return _score_batch(header, body, scorer, start)
        return None

    return handle
