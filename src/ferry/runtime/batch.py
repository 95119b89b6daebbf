"""The batch contract (ParallelRunStep / batch deployments): ``run(mini_batch)`` over files.

``run`` gets a list of absolute file paths (or, for tabular input, one pandas DataFrame) and
returns a list or a DataFrame; each element or row counts as one successful item. For the
``append_row`` output action the result becomes lines of text:

* list elements: ``str(element)``, one per line, as-is;
* DataFrame rows: values separated by one space, no header, no index (what
  ``pd.read_csv(path, header=None, names=[...], sep=" ")`` reads back).
"""

from __future__ import annotations

import importlib
import os

from .messages import error_info

TYPE_CHECKING = False  # not typing's: see messages.py
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .loader import LoadedScript

__all__ = [
    "BatchOutcome",
    "BatchOutputError",
    "encode_rows",
    "format_rows",
    "read_tabular",
    "run_mini_batch",
]


class BatchOutputError(TypeError):
    """``run()`` returned something other than a list or a DataFrame."""


def _is_dataframe(value: Any) -> bool:
    return hasattr(value, "to_csv") and hasattr(value, "itertuples")


def _dataframe_lines(df: Any) -> list[str]:
    options: dict[str, Any] = {"sep": " ", "header": False, "index": False}
    try:
        text = df.to_csv(lineterminator="\n", **options)
    except TypeError:  # pandas < 1.5 spells it line_terminator
        text = df.to_csv(line_terminator="\n", **options)
    if not text:
        return []
    # A quoted value may hold a newline, so a "line" here is a record; joined with "\n" the
    # lines give back to_csv's exact text.
    return str(text).rstrip("\n").split("\n")


def format_rows(result: Any, script_name: str = "the script") -> tuple[list[str], int]:
    """Turn ``run()``'s return value into (output lines, number of successful items).

    Raises:
        BatchOutputError: the value is None, a string, a dict, or not a sequence at all.
    """
    if _is_dataframe(result):
        return _dataframe_lines(result), len(result)
    if isinstance(result, (list, tuple)):
        return [str(item) for item in result], len(result)
    sized_iterable = hasattr(result, "__len__") and hasattr(result, "__iter__")
    if sized_iterable and not isinstance(result, (str, bytes, bytearray, dict)):
        items = list(result)  # a numpy array or a pandas Series: one item per element
        return [str(item) for item in items], len(items)
    raise BatchOutputError(
        f"run() in {script_name} returned {type(result).__name__}; a batch scoring script must "
        "return a list (one element per successful input) or a pandas DataFrame (one row per "
        "successful input)"
    )


def encode_rows(lines: Sequence[str]) -> bytes:
    """The bytes of one mini-batch's rows: one line each, newline-terminated.

    ``surrogateescape`` writes back the original bytes of file names that were not UTF-8.

    Raises:
        UnicodeEncodeError: a line holds a lone surrogate that no file name could have given.
    """
    if not lines:
        return b""
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def read_tabular(paths: Sequence[str]) -> Any:
    """Read tabular files (csv, tsv, parquet, json lines) into one pandas DataFrame.

    Raises:
        ImportError: pandas is not installed in the environment.
        ValueError: a file type that is not tabular.
    """
    try:
        pd: Any = importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError(
            "tabular input needs pandas in the deployment's environment; add pandas to its "
            "conda or pip dependencies"
        ) from exc
    frames = []
    for path in paths:
        ext = os.path.splitext(path)[1].lower()
        if ext == ".csv":
            frames.append(pd.read_csv(path))
        elif ext == ".tsv":
            frames.append(pd.read_csv(path, sep="\t"))
        elif ext in (".parquet", ".pqt"):
            frames.append(pd.read_parquet(path))
        elif ext in (".jsonl", ".json"):
            frames.append(pd.read_json(path, lines=ext == ".jsonl"))
        else:
            raise ValueError(
                f"{path}: tabular input must be .csv, .tsv, .parquet, .pqt, .json or .jsonl"
            )
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


class BatchOutcome:
    """What one mini-batch produced: its encoded rows and counts, or an error as data."""

    def __init__(
        self,
        rows: bytes = b"",
        n_lines: int = 0,
        n_items: int = 0,
        error: dict[str, Any] | None = None,
    ) -> None:
        self.rows = rows
        self.n_lines = n_lines
        self.n_items = n_items
        self.error = error


def run_mini_batch(
    script: LoadedScript, items: Sequence[str], tabular: bool = False
) -> BatchOutcome:
    """Call the script's ``run()`` on one mini-batch and format its result.

    Args:
        script: the loaded entry script.
        items: absolute paths of the mini-batch's files.
        tabular: read the files into one DataFrame and pass that instead of the paths.

    Returns:
        The outcome; on failure ``error`` says where: ``input`` (reading tabular files), ``run``
        (the script raised) or ``output`` (the return value cannot be formatted).
    """
    try:
        mini_batch: Any = read_tabular(items) if tabular else list(items)
    except Exception as exc:
        return BatchOutcome(error=error_info(exc, "input"))
    try:
        result = script.run(mini_batch)
    except (Exception, SystemExit) as exc:  # sys.exit() in run() must not end the worker
        return BatchOutcome(error=error_info(exc, "run"))
    try:
        lines, n_items = format_rows(result, script.name)
        rows = encode_rows(lines)  # here, not in the engine: it writes the bytes unchanged
    except Exception as exc:
        return BatchOutcome(error=error_info(exc, "output"))
    return BatchOutcome(rows=rows, n_lines=len(lines), n_items=n_items)
