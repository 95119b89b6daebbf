"""Jobs, endpoints and deployments move out of named_resources into tables of their own.

Until now they were JSON documents in ``named_resources`` keyed by (kind, name): a job's state
was read, changed and written back under a lock that only one process held, and listing an
endpoint's jobs read every job. Each now has typed columns for what is queried (status,
endpoint, deployment) and a ``body`` for the rest. The upgrade moves every existing row, in the
same transaction, so a workspace is upgraded in place; the downgrade moves them back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the column types: a migration must not change when tables.py does.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

# The old bag's kinds, and the (table kind) each moves to.
_ENDPOINT_KINDS = {"batch-endpoint": "batch", "online-endpoint": "online"}
_DEPLOYMENT_KINDS = {"batch-deployment": "batch", "online-deployment": "online"}
_JOB_KIND = "job"
_SUCCEEDED = "Succeeded"

_named = sa.table(
    "named_resources",
    sa.column("kind", sa.String(64)),
    sa.column("name", sa.String(255)),
    sa.column("spec", _JSON),
    sa.column("created_at", _TS),
    sa.column("updated_at", _TS),
)


def _create_tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    jobs = op.create_table(
        "jobs",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("deployment", sa.String(255), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_jobs"),
    )
    op.create_index("ix_jobs_endpoint_created_at", "jobs", ["endpoint", "created_at"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    endpoints = op.create_table(
        "endpoints",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", name="pk_endpoints"),
    )
    deployments = op.create_table(
        "deployments",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "endpoint", "name", name="pk_deployments"),
    )
    return jobs, endpoints, deployments


def _without(spec: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in keys}


def upgrade() -> None:
    """Create the three tables and move the rows of the old kinds into them."""
    jobs, endpoints, deployments = _create_tables()
    bind = op.get_bind()
    kinds = [_JOB_KIND, *_ENDPOINT_KINDS, *_DEPLOYMENT_KINDS]
    rows = bind.execute(sa.select(_named).where(_named.c.kind.in_(kinds))).mappings().all()
    moved: dict[sa.Table, list[dict[str, Any]]] = {jobs: [], endpoints: [], deployments: []}
    for row in rows:
        spec = dict(row["spec"] or {})
        stamps = {"created_at": row["created_at"], "updated_at": row["updated_at"]}
        if row["kind"] == _JOB_KIND:
            moved[jobs].append(
                {
                    "name": row["name"],
                    "kind": str(spec.get("type") or "batch"),
                    "status": str(spec.get("status") or "Queued"),
                    "endpoint": str(spec.get("endpoint_name") or ""),
                    "deployment": str(spec.get("deployment_name") or ""),
                    "body": _without(
                        spec, "name", "type", "status", "endpoint_name", "deployment_name"
                    ),
                    **stamps,
                }
            )
        elif row["kind"] in _ENDPOINT_KINDS:
            moved[endpoints].append(
                {
                    "kind": _ENDPOINT_KINDS[row["kind"]],
                    "name": row["name"],
                    "status": _SUCCEEDED,
                    "body": _without(spec, "name"),
                    **stamps,
                }
            )
        else:
            # Deployments were keyed "<endpoint>/<deployment>"; names cannot hold a "/".
            endpoint, _, name = str(row["name"]).partition("/")
            moved[deployments].append(
                {
                    "kind": _DEPLOYMENT_KINDS[row["kind"]],
                    "endpoint": endpoint,
                    "name": name,
                    "status": str(spec.get("provisioning_state") or _SUCCEEDED),
                    "body": _without(spec, "name", "endpoint_name", "provisioning_state"),
                    **stamps,
                }
            )
    for table, values in moved.items():
        if values:
            op.bulk_insert(table, values)
    bind.execute(sa.delete(_named).where(_named.c.kind.in_(kinds)))


def downgrade() -> None:
    """Move the rows back into named_resources as the previous Ferry wrote them, then drop."""
    bind = op.get_bind()
    back: list[dict[str, Any]] = []
    tables = {
        name: sa.table(
            name,
            *(sa.column(c, sa.String()) for c in columns),
            sa.column("body", _JSON),
            sa.column("created_at", _TS),
            sa.column("updated_at", _TS),
        )
        for name, columns in (
            ("jobs", ("name", "kind", "status", "endpoint", "deployment")),
            ("endpoints", ("kind", "name", "status")),
            ("deployments", ("kind", "endpoint", "name", "status")),
        )
    }
    for row in bind.execute(sa.select(tables["jobs"])).mappings():
        spec = {
            "name": row["name"],
            "type": row["kind"],
            "endpoint_name": row["endpoint"],
            "deployment_name": row["deployment"],
            "status": row["status"],
            **row["body"],
        }
        back.append(_bag_row(_JOB_KIND, row["name"], spec, row))
    for row in bind.execute(sa.select(tables["endpoints"])).mappings():
        spec = {"name": row["name"], **row["body"]}
        back.append(_bag_row(f"{row['kind']}-endpoint", row["name"], spec, row))
    for row in bind.execute(sa.select(tables["deployments"])).mappings():
        spec = {"name": row["name"], "endpoint_name": row["endpoint"], **row["body"]}
        if row["kind"] == "online":
            spec["provisioning_state"] = row["status"]
        key = f"{row['endpoint']}/{row['name']}"
        back.append(_bag_row(f"{row['kind']}-deployment", key, spec, row))
    if back:
        op.bulk_insert(_named, back)
    op.drop_table("deployments")
    op.drop_table("endpoints")
    op.drop_index("ix_jobs_created_at", table_name="jobs")
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_index("ix_jobs_endpoint_created_at", table_name="jobs")
    op.drop_table("jobs")


def _bag_row(kind: str, name: str, spec: dict[str, Any], row: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "spec": spec,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
