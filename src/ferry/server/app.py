"""The composition root: ``create_app(settings)`` builds the whole FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import ferry
from ferry.online.gateway import ScoringGateway
from ferry.server.errors import install_error_handlers
from ferry.server.gate import TokenGate
from ferry.server.limits import BodySizeLimit
from ferry.server.routes import assets, batch, environments, jobs, online, resources, staging
from ferry.server.routes.models import Health
from ferry.server.workspace import Workspace
from ferry.settings import Settings
from ferry.studio import app as studio

__all__ = ["create_app"]


def create_app(settings: Settings, workspace: Workspace | None = None) -> FastAPI:
    """Build the app for one workspace. Tests may pass ``workspace`` in."""
    owned = workspace or Workspace.open(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned.jobs.continue_unfinished()  # carry on with jobs a previous server left unfinished
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
        # No Swagger UI: FastAPI's loads its script from a CDN, which an air-gapped machine
        # cannot reach; the document itself is at openapi_url, behind the token.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.workspace = owned
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        upload_paths=assets.UPLOAD_PATHS | staging.UPLOAD_PATHS | studio.UPLOAD_PATHS,
    )
    # Outside the size limit: a request without the token gets its 401 before any body byte.
    app.add_middleware(TokenGate, token=owned.token)
    # The studio's session gate, beside the token gate (before any body byte); its routes come
    # before the asset routes' {collection}, which would shadow /api/v1/studio/login-codes.
    studio.mount_studio(app, owned)
    # Outermost: scoring requests skip the control plane's middleware and routing entirely.
    app.add_middleware(
        ScoringGateway,
        service=owned.online_service,
        metrics_tokens=_metrics_tokens(settings, owned),
    )

    @app.get("/api/v1/health", response_model=Health, tags=["server"])
    def health() -> Health:
        """Unauthenticated liveness check, telling nothing else (local clients read server.json)."""
        return Health(status="ok", version=ferry.__version__)

    # Fixed paths first: the asset routes' {collection} would otherwise shadow them.
    app.include_router(resources.router)
    app.include_router(batch.router)
    app.include_router(jobs.router)
    app.include_router(online.router)
    app.include_router(environments.router)
    app.include_router(staging.router)
    app.include_router(assets.router)
    return app


def _metrics_tokens(settings: Settings, workspace: Workspace) -> tuple[str, ...]:
    """The bearer tokens ``/metrics`` accepts; none means it is open.

    Endpoint and deployment names are not for the network to read: off loopback, scrapes need
    FERRY_METRICS_TOKEN, or the workspace token when none is set. On loopback only this machine
    can connect, so it stays open unless a metrics token is set.
    """
    if settings.metrics_token:
        return (settings.metrics_token, workspace.token)
    if settings.binds_loopback:
        return ()
    return (workspace.token,)
