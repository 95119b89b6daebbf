"""Run a batch deployment's script over local files in this process: the batch debug loop.

The same contract as a job's workers (:func:`~.batch.run_mini_batch`): the input's files, listed
depth-first with names sorted, are cut into ``mini_batch_size`` mini-batches; ``run()``'s rows are
appended to ``output_file_name`` (``append_row``) in the output folder, which is also
``AZUREML_BI_OUTPUT_PATH``; once more items failed than ``error_threshold`` (``-1``: never), the
run stops. Unlike a job, a failed mini-batch is not retried: locally it is a bug to look at once,
with its failing line. ``shutdown()`` is called at the end, as by the last worker.

Standard library only: this runs on the deployment's interpreter too.
"""

# This module runs on the user's interpreter (Python 3.8+), hence no X | Y outside annotations.
# Paths stay str: they come from and go to tracebacks, sys.path, os.environ and the plan's JSON.
# ruff: noqa: PTH100, PTH103, PTH112, PTH113, PTH118, PTH119, PTH123, PTH208
from __future__ import annotations

import os
import sys
import time

from .batch import run_mini_batch
from .local import DEBUGGER_QUIT, LocalPlan, ScriptSlot, enter, format_failure, line_from_traceback

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["list_files", "run_local"]

EXIT_OK, EXIT_FAILED, EXIT_INIT_FAILED, EXIT_INTERRUPTED = 0, 1, 3, 130


def list_files(path: str) -> Iterator[str]:
    """A file, or a folder's regular files depth-first with names sorted (as the job's plan)."""
    if not os.path.isdir(path):
        yield os.path.abspath(path)
        return
    for name in sorted(os.listdir(path)):
        child = os.path.join(path, name)
        if os.path.isdir(child):
            yield from list_files(child)
        elif os.path.isfile(child):
            yield os.path.abspath(child)


def run_local(plan: LocalPlan) -> int:
    """Score every input file; returns 0 when the run succeeded, 1 past the error threshold, 3
    when the script failed to load or ``init()`` raised."""
    settings = plan.settings
    output_dir = settings["output_dir"]
    os.makedirs(output_dir, exist_ok=True)
    plan.env.setdefault("AZUREML_BI_OUTPUT_PATH", output_dir)
    enter(plan)
    files = [f for path in settings["inputs"] for f in list_files(path)]
    size = int(settings.get("mini_batch_size", 10))
    threshold = int(settings.get("error_threshold", -1))
    append = settings.get("output_action", "append_row") == "append_row"
    output = os.path.join(output_dir, settings.get("output_file_name") or "predictions.csv")
    slot = ScriptSlot(plan)
    took = slot.load()
    if slot.script is None:
        return EXIT_INIT_FAILED
    script = slot.script
    name = os.path.basename(plan.entry_script)
    print(
        f"{name} ready (init {took:.2f} s); {len(files)} files in mini-batches of {size}",
        flush=True,
    )
    succeeded = failed = 0
    started = time.perf_counter()
    try:
        with open(output, "ab") if append else open(os.devnull, "wb") as out:
            for index, start in enumerate(range(0, len(files), size)):
                items = files[start : start + size]
                outcome = run_mini_batch(script, items)
                if outcome.error is not None and outcome.error["type"] == DEBUGGER_QUIT:
                    print("stopping: the debugger was quit", file=sys.stderr)
                    return EXIT_FAILED
                if outcome.error is not None:
                    failed += len(items)
                    error = dict(outcome.error)
                    error["at"] = line_from_traceback(str(error["traceback"]), plan.code_dir)
                    print(f"mini-batch {index} ({len(items)} files) failed:", file=sys.stderr)
                    print(format_failure(error, plan.code_dir), file=sys.stderr, flush=True)
                    if threshold != -1 and failed > threshold:
                        print(
                            f"stopping: {failed} failed items are more than error_threshold "
                            f"{threshold} (-1 tolerates any number)",
                            file=sys.stderr,
                        )
                        return EXIT_FAILED
                    continue
                out.write(outcome.rows)
                out.flush()
                succeeded += outcome.n_items
                print(
                    f"mini-batch {index}: {len(items)} files -> {outcome.n_items} items", flush=True
                )
    except KeyboardInterrupt:
        print(f"interrupted: {succeeded} items succeeded, {failed} failed", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        slot.close()
    where = f"rows appended to {output}" if append else f"outputs in {output_dir}"
    print(
        f"done in {time.perf_counter() - started:.2f} s: {succeeded} items succeeded, {failed} "
        f"failed; {where}",
        flush=True,
    )
    return EXIT_OK
