"""The studio: server-rendered pages (Jinja2 + vendored htmx) over the same services as the API.

:func:`ferry.studio.app.mount_studio` adds it to the server's app; pages live in ``pages/``.
"""
