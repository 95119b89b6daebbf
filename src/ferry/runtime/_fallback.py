"""Stdlib stand-ins for werkzeug's Request and Response, used only when werkzeug is absent.

They cover what scoring scripts use from Flask's request and response: ``get_data()``, ``data``,
``args``, ``form``, ``files`` (multipart via the ``email`` package), ``headers``, ``json`` /
``get_json()``, ``method``, ``mimetype``; and a Response with ``status_code``, ``headers``,
``mimetype`` and ``get_data()``.
"""

from __future__ import annotations

import email.parser
import email.policy
import http.client
import io
import json
import os
import shutil
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl

from .wsgi import headers_dict

__all__ = ["FallbackRequest", "FallbackResponse", "FileStorage", "Headers", "MultiDict"]


# typing.Mapping, not collections.abc's: the user's Python may be 3.8, where only typing's
# generic aliases can be subscripted at run time
class MultiDict(typing.Mapping[str, Any]):
    """A mapping whose keys may repeat: ``md[k]`` is the first value, ``getlist(k)`` all of them."""

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        self._pairs = list(pairs)

    def __getitem__(self, key: str) -> Any:
        for k, v in self._pairs:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._pairs))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self._pairs))

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        """Return the first value for ``key`` (converted by ``type`` if given) or ``default``."""
        try:
            value = self[key]
            return type(value) if type is not None else value
        except (KeyError, ValueError):
            return default

    def getlist(self, key: str) -> list[Any]:
        """Return every value for ``key``, in order (empty if absent)."""
        return [v for k, v in self._pairs if k == key]

    def items(self, multi: bool = False) -> Any:
        """(key, first value) pairs, or every pair with ``multi=True``."""
        return list(self._pairs) if multi else [(k, self[k]) for k in self]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """A plain dict of first values (or of lists with ``flat=False``)."""
        return {k: (self[k] if flat else self.getlist(k)) for k in self}


class Headers:
    """Case-insensitive, ordered, multi-valued HTTP headers; iterating yields (name, value)."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = [(str(k), str(v)) for k, v in pairs]

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """Return the first value for ``key`` (case-insensitive) or ``default``."""
        for k, v in self._pairs:
            if k.lower() == key.lower():
                try:
                    return type(v) if type is not None else v
                except ValueError:
                    return default
        return default

    def getlist(self, key: str) -> list[str]:
        """Every value for ``key``."""
        return [v for k, v in self._pairs if k.lower() == key.lower()]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def __setitem__(self, key: str, value: Any) -> None:
        self.remove(key)
        self._pairs.append((key, str(value)))

    def __delitem__(self, key: str) -> None:
        self.remove(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and any(k.lower() == key.lower() for k, _ in self._pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._pairs))

    def __len__(self) -> int:
        return len(self._pairs)

    def keys(self) -> list[str]:
        """Header names, repeated names included."""
        return [k for k, _ in self._pairs]

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, in order."""
        return list(self._pairs)

    def add(self, key: str, value: Any) -> None:
        """Append a header, keeping existing ones with the same name."""
        self._pairs.append((key, str(value)))

    add_header = add

    def set(self, key: str, value: Any) -> None:
        """Replace every header named ``key`` with one value."""
        self[key] = value

    def remove(self, key: str) -> None:
        """Drop every header named ``key``."""
        self._pairs = [(k, v) for k, v in self._pairs if k.lower() != key.lower()]

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


class FileStorage:
    """An uploaded file, like werkzeug's: ``stream``, ``filename``, ``content_type``, ``read()``."""

    def __init__(self, data: bytes, filename: str | None, name: str, content_type: str) -> None:
        self.stream: BinaryIO = io.BytesIO(data)
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = content_type.split(";")[0].strip().lower()

    def read(self, size: int = -1) -> bytes:
        """Read from the file's stream."""
        return self.stream.read(size)

    def save(self, dst: str | os.PathLike[str] | BinaryIO) -> None:
        """Write the file to a path or a binary file object."""
        if isinstance(dst, (str, os.PathLike)):
            with Path(dst).open("wb") as f:
                shutil.copyfileobj(self.stream, f)
        else:
            shutil.copyfileobj(self.stream, dst)


class FallbackRequest:
    """A read-only HTTP request built from a WSGI environ (see :mod:`.wsgi`)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"]
        self.path: str = environ.get("PATH_INFO") or "/"
        self.query_string: bytes = environ.get("QUERY_STRING", "").encode("latin-1")
        self.remote_addr: str | None = environ.get("REMOTE_ADDR")
        self.headers = Headers(headers_dict(environ).items())
        self.args = MultiDict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        self._data: bytes = environ["wsgi.input"].read()
        self._form: tuple[MultiDict, MultiDict] | None = None

    @property
    def content_type(self) -> str:
        """The Content-Type header, or ``""``."""
        return str(self.headers.get("Content-Type", ""))

    @property
    def mimetype(self) -> str:
        """The media type without parameters, lower case."""
        return self.content_type.split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        """True for ``application/json`` and ``application/*+json``."""
        mt = self.mimetype
        return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        """The raw body as bytes (or str with ``as_text=True``)."""
        return self._data.decode("utf-8", "replace") if as_text else self._data

    @property
    def data(self) -> bytes:
        """The raw body."""
        return self._data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON; None when not JSON and ``silent``; ValueError otherwise."""
        if not (force or self.is_json):
            if silent:
                return None
            raise ValueError(f"expected Content-Type application/json, got {self.content_type!r}")
        try:
            return json.loads(self._data)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Any:
        """The JSON body (see :meth:`get_json`)."""
        return self.get_json()

    @property
    def form(self) -> MultiDict:
        """Form fields of a urlencoded or multipart body."""
        return self._parse_form()[0]

    @property
    def files(self) -> MultiDict:
        """Uploaded files of a multipart body, as :class:`FileStorage`."""
        return self._parse_form()[1]

    def _parse_form(self) -> tuple[MultiDict, MultiDict]:
        if self._form is None:
            self._form = (MultiDict(), MultiDict())
            if self.mimetype == "application/x-www-form-urlencoded":
                text = self._data.decode("utf-8", "replace")
                self._form = (MultiDict(parse_qsl(text, keep_blank_values=True)), MultiDict())
            elif self.mimetype == "multipart/form-data":
                self._form = _parse_multipart(self.content_type, self._data)
        return self._form


def _parse_multipart(content_type: str, body: bytes) -> tuple[MultiDict, MultiDict]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: list[tuple[str, Any]] = []
    files: list[tuple[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            charset = part.get_content_charset() or "utf-8"
            fields.append((name, data.decode(charset, "replace")))
        else:
            ctype = part.get("Content-Type", "application/octet-stream")
            files.append((name, FileStorage(data, filename, name, str(ctype))))
    return MultiDict(fields), MultiDict(files)


class FallbackResponse:
    """An HTTP response: ``status_code``, ``headers``, ``mimetype`` and ``get_data()``."""

    def __init__(
        self,
        response: Any = None,
        status: int = 200,
        headers: Iterable[tuple[str, str]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self.status_code = int(status)
        self.headers = Headers(headers or ())
        if content_type is None and "Content-Type" not in self.headers:
            mt = mimetype or "text/plain"
            # werkzeug's rule: a charset parameter only for text types.
            content_type = mt + "; charset=utf-8" if mt.startswith("text/") else mt
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        self.response: Any = b"" if response is None else response

    @property
    def status(self) -> str:
        """Status line text, e.g. ``200 OK``."""
        return f"{self.status_code} {http.client.responses.get(self.status_code, 'UNKNOWN')}"

    @property
    def mimetype(self) -> str:
        """The media type of the Content-Type header, without parameters."""
        return str(self.headers.get("Content-Type", "")).split(";")[0].strip().lower()

    @mimetype.setter
    def mimetype(self, value: str) -> None:
        # Scripts set ``resp.mimetype = "image/png"`` (Azure's own samples do); as werkzeug,
        # text types get a charset.
        self.headers["Content-Type"] = (
            value + "; charset=utf-8" if value.startswith("text/") else value
        )

    @property
    def content_type(self) -> str:
        """The Content-Type header."""
        return str(self.headers.get("Content-Type", ""))

    @content_type.setter
    def content_type(self, value: str) -> None:
        self.headers["Content-Type"] = value

    @property
    def is_streamed(self) -> bool:
        """True when the body is an iterable that has not been read yet."""
        return not isinstance(self.response, (bytes, str))

    def get_data(self, as_text: bool = False) -> Any:
        """The body as bytes (or str); an iterable body is read and kept."""
        if not isinstance(self.response, (bytes, str)):
            self.response = b"".join(
                c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in self.response
            )
        data = self.response.encode("utf-8") if isinstance(self.response, str) else self.response
        return data.decode("utf-8") if as_text else data

    def set_data(self, value: bytes | str) -> None:
        """Replace the body."""
        self.response = value

    @property
    def data(self) -> bytes:
        """The body as bytes."""
        return bytes(self.get_data())
