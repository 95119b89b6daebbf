"""Reading uv's failure output: which package failed, why, and the lines worth showing a user."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferry.environments._reqlines import canonical_name

__all__ = ["Failure", "diagnose"]

_PKG = r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?"
# Most specific first: a build failure names the exact distribution uv tried.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("build", re.compile(rf"Failed to (?:download and )?build `{_PKG}==(?P<version>[^`\s]+)`")),
    ("build", re.compile(rf"Failed to (?:download and )?build `{_PKG}[ @`]")),
    ("no-wheels", re.compile(rf"{_PKG}==(?P<version>\S+) has no (?:usable )?wheels")),
    ("python", re.compile(rf"{_PKG}==(?P<version>\S+) depends on Python")),
    ("not-found", re.compile(rf"{_PKG} was not found in the package registry")),
    ("not-found", re.compile(rf"{_PKG} was not found in the provided package locations")),
    ("no-version", re.compile(rf"there is no version of {_PKG}(?P<spec>[=<>!~][^\s,]*)?")),
    ("no-version", re.compile(rf"you require {_PKG}(?P<spec>[=<>!~][^\s,]*)?")),
)
_MAX_LINES = 30
_MAX_WIDTH = 300
_BUILD_TAIL = 8
_UNDERLINE = re.compile(r"[\^~ ]+")


@dataclass(frozen=True)
class Failure:
    """What went wrong in one failed ``uv pip install``.

    Attributes:
        kind: ``build`` (a source build failed), ``no-wheels`` (no wheel for this platform and no
            sdist), ``python`` (the version does not support this Python), ``not-found``,
            ``no-version`` (nothing matches the specifier) or ``unknown``.
        package: canonical name of the package uv names, when it names one.
        version: the version uv tried, when known.
        excerpt: uv's error lines, trimmed (the build's last stderr lines kept).
    """

    kind: str
    package: str | None
    version: str | None
    excerpt: tuple[str, ...]


def diagnose(output: str) -> Failure:
    """Classify uv's failure output and pull out the package it names."""
    excerpt = tuple(_excerpt(output))
    # uv wraps its messages to the terminal's width (COLUMNS): a phrase may span two lines.
    text = re.sub(r"\s+", " ", "\n".join(excerpt) or output)
    for kind, pattern in _PATTERNS:
        match = pattern.search(text)
        if match is not None:
            version = match.groupdict().get("version")
            return Failure(kind, canonical_name(match["name"]), version, excerpt)
    return Failure("unknown", None, None, excerpt)


def _excerpt(output: str) -> list[str]:
    """uv's error block: the error and cause lines in full, the build output cut to its tail."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        tail = [line for line in lines if line.strip()][-_BUILD_TAIL:]
        return [_clip(line) for line in tail]
    out: list[str] = []
    section: list[str] | None = None  # lines of the current [stdout]/[stderr] block
    blocks: dict[str, list[str]] = {}
    for line in lines[start:]:
        stripped = line.strip()
        if stripped in {"[stdout]", "[stderr]"}:
            section = blocks.setdefault(stripped, [])
            continue
        if section is not None and (line.startswith(" ") or not stripped):
            if stripped:
                section.append(stripped)
            continue
        if section is not None:
            out.extend(_build_tail(blocks))
            section, blocks = None, {}
        if stripped:
            out.append(_clip(line.rstrip()))
    if blocks:
        out.extend(_build_tail(blocks))
    if len(out) > _MAX_LINES:
        out = [*out[: _MAX_LINES - 1], f"... ({len(out) - _MAX_LINES + 1} more lines in the log)"]
    return out


def _build_tail(blocks: dict[str, list[str]]) -> list[str]:
    """The last lines a failed build printed: stderr if it said anything, else stdout."""
    body = blocks.get("[stderr]") or blocks.get("[stdout]") or []
    # traceback underlines (`^^^^`) take space and say nothing out of context
    body = [line for line in body if not _UNDERLINE.fullmatch(line)]
    if not body:
        return []
    return ["  [build output, last lines]", *("    " + _clip(b) for b in body[-_BUILD_TAIL:])]


def _clip(line: str) -> str:
    return line if len(line) <= _MAX_WIDTH else line[: _MAX_WIDTH - 3] + "..."
