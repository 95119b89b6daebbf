"""Reading pip requirement lists: comments, index options, ``-r`` includes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ferry.environments._reqlines import normalize_pip_line
from ferry.errors import SpecError

__all__ = ["PipLines"]

# pip options that change where packages come from, with their uv spelling. They are kept (and
# hashed) because without them a private or CPU-only index would be silently replaced by PyPI.
_INDEX_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--trusted-host": "--allow-insecure-host",
}
_INCLUDE = {"-r", "--requirement"}
_MAX_INCLUDE_DEPTH = 8


class PipLines:
    """Accumulates requirements, uv options and notices from pip-style lines."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.requirements: list[tuple[str, str]] = []
        self.options: list[tuple[str, ...]] = []
        self.notices: list[str] = []

    def add_file(self, path: Path, depth: int = 0) -> None:
        """Read a requirements file; ``-r`` paths inside it are relative to it."""
        if depth > _MAX_INCLUDE_DEPTH:
            raise SpecError(f"{self.field}: -r includes nest too deep at {path}", details=self._d())
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(
                f"{self.field}: cannot read requirements file {path}: {exc.strerror}",
                details=self._d(),
            ) from exc
        self.add_lines(text.splitlines(), base_dir=path.parent, depth=depth)

    def add_lines(self, lines: Iterable[str], *, base_dir: Path | None, depth: int = 0) -> None:
        """Add requirement lines; ``base_dir`` resolves ``-r`` includes (None forbids them)."""
        for index, line in enumerate(_logical_lines(lines)):
            if line.startswith("-"):
                self._option(line, index, base_dir, depth)
                continue
            try:
                self.requirements.append(normalize_pip_line(line))
            except ValueError as exc:
                raise SpecError(
                    f"{self.field}[{index}]: {exc}", details=self._d(f"{self.field}[{index}]")
                ) from exc

    def _option(self, line: str, index: int, base_dir: Path | None, depth: int) -> None:
        head, _, rest = line.partition(" ")
        flag, value = head, rest.strip()
        if head.startswith("--") and "=" in head:  # `--index-url=https://...?a=b`
            flag, _, attached = head.partition("=")
            value = f"{attached} {value}".strip()
        elif not value and len(head) > 2 and head[1] != "-":  # `-rother.txt`, `-fhttps://...`
            flag, value = head[:2], head[2:]
        field = f"{self.field}[{index}]"
        if flag in _INCLUDE:
            if base_dir is None or not value:
                raise SpecError(
                    f"{field}: '{line}' includes a file, which only works when the spec is read "
                    "from a file; list the requirements inline instead",
                    details=self._d(field),
                )
            self.add_file(base_dir / value, depth + 1)
        elif flag in _INDEX_OPTIONS and value:
            self._add_option(_INDEX_OPTIONS[flag], value)
        elif flag == "--pre":
            self._add_option("--prerelease=allow")
        elif flag in {"-e", "--editable"}:
            raise SpecError(
                f"{field}: editable installs ('{line}') cannot be part of a shared environment; "
                "build a wheel, or put the code in the deployment's code folder",
                details=self._d(field),
            )
        else:
            self.notices.append(f"ignored pip option '{line}': uv has no equivalent Ferry uses")

    def _add_option(self, *option: str) -> None:
        if option not in self.options:
            self.options.append(option)

    def flat_options(self) -> tuple[str, ...]:
        """The uv options, in the order they were given, as one argument list."""
        return tuple(part for option in self.options for part in option)

    def _d(self, field: str | None = None) -> dict[str, str]:
        return {"field": field or self.field}


def _logical_lines(lines: Iterable[str]) -> list[str]:
    """Join ``\\`` continuations, drop comments and blank lines."""
    out: list[str] = []
    pending = ""
    for raw in lines:
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        # pip treats ' #' as the start of a comment; a bare '#' inside a URL fragment is kept
        text = line.split(" #", 1)[0].strip()
        if text and not text.startswith("#"):
            out.append(text)
    if pending.strip():
        out.append(pending.strip())
    return out
