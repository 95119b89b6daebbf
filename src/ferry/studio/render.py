"""Rendering studio pages: one Jinja2 environment over ``studio/templates/``, autoescaped.

Every value a template prints is escaped (file names, tags, log lines, model output): never mark
user data ``|safe``; hand data to JavaScript with ``|tojson``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

__all__ = ["SECURITY_HEADERS", "TEMPLATES", "environment", "render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Sent with every studio page: no framing, no sniffing, and no Referer, which would carry a
#: page's URL (and, on the login page, its code) to any site a link points at.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _size(value: int | None) -> str:
    """``1536`` -> ``1.5 KiB``: file sizes the way people read them."""
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _when(value: datetime | str | None) -> str:
    """A timestamp to the second, in UTC, without the microseconds."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed.strftime("%Y-%m-%d %H:%M:%S")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _build() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the page, not renders blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = _size
    env.filters["when"] = _when
    return env


environment = _build()


def render(
    request: Request, template_name: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a studio template with the request, the session and its CSRF token in context.

    Args:
        request: the page's request; ``request.state.studio_session`` is set by the ``Session``
            dependency (pages without a session, the login page, get an empty CSRF token).
        template_name: a file under ``studio/templates/``.
        status_code: the response's HTTP status.
        **context: the template's own variables.
    """
    session = getattr(request.state, "studio_session", None)
    html = environment.get_template(template_name).render(
        request=request,
        session=session,
        csrf_token=session.csrf_token if session is not None else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
