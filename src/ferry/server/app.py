"""The composition root: ``create_app(settings)`` builds the whole FastAPI application."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import ferry
from ferry.online.gateway import ScoringGateway
from ferry.server.errors import install_error_handlers
from ferry.server.limits import BodySizeLimit
from ferry.server.routes import assets, batch, environments, jobs, online, resources
from ferry.server.routes.models import Health
from ferry.server.workspace import Workspace
from ferry.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings, workspace: Workspace | None = None) -> FastAPI:
    """Build the app for one workspace. Tests may pass ``workspace`` in."""
    owned = workspace or Workspace.open(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned.jobs.recover()  # carry on with jobs a previous server left unfinished
        await owned.online_service.start()  # bring back the online deployments
        try:
            yield
        finally:
            await owned.online_service.stop()
            if workspace is None:
                owned.close()

    app = FastAPI(
        title="Ferry",
        version=ferry.__version__,
        description="Ferry's control plane: registry, datastores, secrets and computes.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.workspace = owned
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost: scoring requests skip the control plane's middleware and routing entirely.
    app.add_middleware(ScoringGateway, service=owned.online_service)

    @app.get("/api/v1/health", response_model=Health, tags=["server"])
    def health() -> Health:
        """Unauthenticated liveness check (clients use it to find a running server)."""
        return Health(
            status="ok",
            version=ferry.__version__,
            workspace=str(owned.layout.root),
            pid=os.getpid(),
        )

    # Fixed paths first: the asset routes' {collection} would otherwise shadow them.
    app.include_router(resources.router)
    app.include_router(batch.router)
    app.include_router(jobs.router)
    app.include_router(online.router)
    app.include_router(environments.router)
    app.include_router(assets.router)
    return app
