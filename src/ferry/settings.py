"""Ferry's settings: one pydantic-settings root, read from ``FERRY_*`` variables.

Settings are built once at the edge (CLI, SDK, server entry point) and passed in explicitly;
no module reads them globally.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_WORKSPACE", "Settings"]

DEFAULT_WORKSPACE = Path("~/.ferry").expanduser()


class Settings(BaseSettings):
    """Where the workspace lives and how the server and clients reach it."""

    # validate_by_name: fields with an env alias still take their own name as a keyword.
    model_config = SettingsConfigDict(env_prefix="FERRY_", extra="ignore", validate_by_name=True)

    workspace: Path = Field(
        default=DEFAULT_WORKSPACE, description="Workspace folder: store, artifacts, logs, keys."
    )
    store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store; default sqlite in the workspace.",
    )
    server_url: str | None = Field(
        default=None,
        description="URL of a remote server. When unset, a local server is auto-started.",
    )
    token: str | None = Field(
        default=None, description="Control-plane token; default read from the workspace."
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=0, description="Port the server binds to; 0 picks a free one.")
    max_json_bytes: int = Field(
        default=8 * 1024**2,
        description="Largest body of a control-plane request other than an upload (JSON specs).",
    )
    # FERRY_MAX_BODY_BYTES was the one limit for every body before uploads got their own.
    max_upload_bytes: int = Field(
        default=2 * 1024**3,
        validation_alias=AliasChoices("FERRY_MAX_UPLOAD_BYTES", "FERRY_MAX_BODY_BYTES"),
        description="Largest asset upload (multipart archive) the control plane accepts.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token /metrics requires; unset: open on loopback, else the token.",
    )
    ssl_certfile: Path | None = Field(
        default=None, description="PEM certificate: the server speaks HTTPS when set."
    )
    ssl_keyfile: Path | None = Field(
        default=None, description="PEM private key of ssl_certfile (if not inside it)."
    )
    max_unpacked_bytes: int = Field(
        default=10 * 1024**3,
        description="Largest total size an uploaded archive (model, data, code) may unpack to.",
    )
    max_unpacked_files: int = Field(
        default=100_000, description="Most files and folders an uploaded archive may unpack to."
    )
    staging_hash_cache: bool = Field(
        default=False,
        description="Remember the content hash of staged local folders with every file's stat, "
        "so staging an unchanged folder again stats its files instead of reading them (1M "
        "files: 6.5 s against 16.6 s), at the cost of a stat per file the first time (32 s "
        "against 24 s cold). Worth it for large folders invoked again and again.",
    )
    input_staging: Literal["auto", "link", "archive"] = Field(
        default="auto",
        description="How the SDK and CLI stage a job's local input folder: auto (the server "
        "links the files when the workspace is local, else one archive upload), link, or archive "
        "(as to a remote server, also for a local one).",
    )

    @property
    def resolved_workspace(self) -> Path:
        return self.workspace.expanduser().resolve()

    @property
    def binds_loopback(self) -> bool:
        """Whether ``host`` is reachable from this machine only (a name counts as not)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{self.resolved_workspace / 'ferry.db'}"
