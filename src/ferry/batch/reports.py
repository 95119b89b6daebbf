"""The job's reports, written when it ends, where Azure ML users look for them.

* ``logs/job_result.txt``: the verdict and the counts;
* ``logs/job_error.txt``: what went wrong and where to look (written when anything failed);
* ``logs/sys/job_report/processed_mini-batches.csv``: one row per mini-batch;
* ``manifest.csv``: one row per input file, ``file,status,mini_batch,attempts,error,seconds``,
  streamed from the plan so a million files need no list in memory. ``status`` is ``succeeded``,
  ``failed``, ``partial`` (its mini-batch returned too few rows: which files lack a row is
  unknown; the shortfall counts as failed) or ``not_run``; ``seconds`` is the item's share of its
  mini-batch's ``run()`` time. A mini-batch that was tried but had no verdict when the job
  stopped (a retry was due when it failed or was canceled) has the status of its last attempt:
  ``timed_out``, ``script_error``, ``worker_crashed`` or ``too_few_rows``; ``not_run`` is kept
  for mini-batches never tried. ``job_error.txt`` and ``processed_mini-batches.csv`` use the same
  words.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ferry.batch.definition import JobDefinition, JobLayout
from ferry.batch.ledger import PENDING, STATUS_NAMES, Ledger, overwrite_warning
from ferry.batch.minibatches import Plan
from ferry.specs.states import FailureKind, JobState

__all__ = ["JobSummary", "completed_message", "status_name", "write_reports"]

MANIFEST_HEADER = ("file", "status", "mini_batch", "attempts", "error", "seconds")
PROCESSED_HEADER = (
    *("mini_batch", "status", "items", "succeeded", "failed", "attempts", "seconds", "worker"),
    "error",
)
_ERRORS_SHOWN = 20
_TRIED_STATUS = {FailureKind.TIMEOUT.value: "timed_out"}
_WHERE_TO_LOOK = """Where to look:
  logs/user/error.txt                  every error raised by the scoring script, with tracebacks
  logs/user/stderr/<worker>.txt        each worker's stderr: logging, init() tracebacks
  logs/user/stdout/<worker>.txt        each worker's print() output
  logs/sys/master_role.txt             workers started and lost, retries, timeouts
  logs/sys/job_report/processed_mini-batches.csv, manifest.csv   per mini-batch / per file
"""


@dataclass
class JobSummary:
    """What the reports say beyond the ledger: the verdict, timing, the output."""

    state: JobState
    message: str
    started: str
    finished: str
    seconds: float
    output: str | None = None
    output_bytes: int = 0
    error: dict[str, Any] | None = None


def _atomic(path: Path, write: Callable[[IO[str]], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        write(f)
    tmp.replace(path)


def _put(f: IO[str], text: str) -> None:
    f.write(text)


def _one_line(error: dict[str, Any] | None, limit: int = 500) -> str:
    if not error:
        return ""
    text = f"{error.get('kind')}: {error.get('type')}: {error.get('message')}"
    return " ".join(text.split())[:limit]


def _needs_quotes(text: str) -> bool:
    # Four substring scans (memchr-fast) beat one regex over a mini-batch's paths.
    return "," in text or '"' in text or "\n" in text or "\r" in text


def _csv_field(text: str) -> str:
    """One field as ``csv.writer`` (``QUOTE_MINIMAL``) writes it."""
    if not _needs_quotes(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def status_name(ledger: Ledger, mb: int) -> str:
    """What the reports call the state of mini-batch ``mb`` (the same word in every report)."""
    status = ledger.status[mb]
    if status != PENDING:
        return STATUS_NAMES[status]
    error = ledger.errors.get(mb)
    if not ledger.attempts[mb] or error is None:
        return "not_run"
    # Tried, failed, and the job stopped before the retry: "not_run" would deny the attempt
    # that the attempts and error columns (and job_error.txt) report.
    kind = str(error.get("kind"))
    return _TRIED_STATUS.get(kind, kind)


def _write_manifest(f: IO[str], plan: Plan, ledger: Ledger) -> None:
    # One write per mini-batch, not a csv.writer call per file: a million-file job's manifest
    # took 2.5 s that way (bench/batch/README.md). Fields are quoted exactly as csv would.
    f.write(",".join(MANIFEST_HEADER) + "\n")
    for mb, paths in plan.iter_mini_batches():
        share = ledger.seconds[mb] / max(1, len(paths))
        fields = (
            status_name(ledger, mb),
            str(mb),
            str(ledger.attempts[mb]),
            _one_line(ledger.errors.get(mb)),
            f"{share:.6f}",
        )
        tail = "," + ",".join(map(_csv_field, fields)) + "\n"
        joined = "\0".join(paths)  # NUL never occurs in a path
        if not _needs_quotes(joined):  # no path to quote: the usual case, all in C
            f.write(joined.replace("\0", tail) + tail if paths else "")
        else:
            f.write("".join(_csv_field(path) + tail for path in paths))


def _write_processed(f: IO[str], ledger: Ledger) -> None:
    out = csv.writer(f, lineterminator="\n")
    out.writerow(PROCESSED_HEADER)
    for mb in range(ledger.total):
        status = ledger.status[mb]
        size = ledger.batch_len(mb)
        ok = ledger.succeeded[mb]
        failed = 0 if status == PENDING else size - ok
        out.writerow(
            (
                mb,
                status_name(ledger, mb),
                size,
                ok,
                failed,
                ledger.attempts[mb],
                f"{ledger.seconds[mb]:.6f}",
                ledger.worker_of(mb),
                _one_line(ledger.errors.get(mb)),
            )
        )


def _result_text(d: JobDefinition, plan: Plan, ledger: Ledger, s: JobSummary) -> str:
    lines = [
        f"Job {d.name}: {s.state}",
        s.message,
        "",
        f"Items: {plan.items_total} total, {ledger.items_succeeded} succeeded, "
        f"{ledger.items_failed} failed (error_threshold {d.error_threshold})",
        f"Mini-batches: {ledger.total} total of up to {d.mini_batch_size} files, "
        f"{ledger.mini_batches_done} processed, {ledger.mini_batches_failed} failed",
        f"Workers: {d.instance_count} instance(s) x {d.max_concurrency_per_instance} process(es)",
        f"Started: {s.started}  Finished: {s.finished}  ({s.seconds:.1f} s)",
    ]
    if plan.items_total == 0:
        lines.append(
            f"Notice: the input held no files ({', '.join(d.inputs)}); nothing was scored."
        )
    if s.output is not None:
        lines.append(f"Output: {s.output} ({s.output_bytes} bytes)")
    elif d.output_action == "summary_only":
        lines.append("Output: none (output_action summary_only)")
    lines += [f"Warning: {overwrite_warning(*o)}" for o in ledger.overwrites]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _error_text(d: JobDefinition, plan: Plan, ledger: Ledger, s: JobSummary) -> str:
    parts = [f"Job {d.name}: {s.state}", s.message, ""]
    if s.error:
        parts += [f"{s.error.get('type')}: {s.error.get('message')}"]
        trace = str(s.error.get("traceback") or "").rstrip()
        parts += [trace, ""] if trace else [""]
    if ledger.items_failed or ledger.errors:
        kinds = Counter(str(e.get("kind")) for e in ledger.errors.values())
        parts.append(
            f"Failed items: {ledger.items_failed} of {plan.items_total} "
            f"(error_threshold {d.error_threshold}); mini-batches with errors by kind: "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        )
        for mb in sorted(ledger.errors)[:_ERRORS_SHOWN]:
            e = ledger.errors[mb]
            status = status_name(ledger, mb)
            files = plan.mini_batch(mb)
            parts.append(
                f"\nmini-batch {mb} ({status}, {ledger.attempts[mb]} attempt(s)): "
                f"{e.get('kind')}: {e.get('type')}: {e.get('message')}\n"
                f"  files: {', '.join(files[:5])}{' ...' if len(files) > 5 else ''}"
            )
            trace = str(e.get("traceback") or "").rstrip()
            if trace:
                parts.append("  " + trace.replace("\n", "\n  "))
        if len(ledger.errors) > _ERRORS_SHOWN:
            parts.append(f"\n... and {len(ledger.errors) - _ERRORS_SHOWN} more: see manifest.csv")
        parts.append("")
    parts.append(_WHERE_TO_LOOK)
    return "\n".join(parts)


def write_reports(
    layout: JobLayout, d: JobDefinition, plan: Plan, ledger: Ledger, summary: JobSummary
) -> None:
    """Write every end-of-job report (replacing those of an earlier session)."""
    _atomic(layout.manifest, lambda f: _write_manifest(f, plan, ledger))
    _atomic(layout.processed_mini_batches, lambda f: _write_processed(f, ledger))
    result = _result_text(d, plan, ledger, summary)
    _atomic(layout.job_result, lambda f: _put(f, result))
    if summary.state is not JobState.COMPLETED or ledger.items_failed or summary.error:
        error = _error_text(d, plan, ledger, summary)
        _atomic(layout.job_error, lambda f: _put(f, error))
    else:
        layout.job_error.unlink(missing_ok=True)


def completed_message(d: JobDefinition, plan: Plan, ledger: Ledger, output: str | None) -> str:
    """The outcome message of a completed job."""
    if plan.items_total == 0:
        where = f"; {output} is empty" if output else ""
        return f"the input held no files ({', '.join(d.inputs)}); nothing to score{where}"
    text = (
        f"{ledger.items_succeeded} of {plan.items_total} items succeeded in "
        f"{ledger.total} mini-batches"
    )
    if ledger.items_failed:
        text += f"; {ledger.items_failed} failed (error_threshold {d.error_threshold}), see "
        text += "logs/job_error.txt"
    return text + (f"; rows in {output}" if output else "")
