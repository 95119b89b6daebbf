"""Initial schema: asset versions, named resources, secrets.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types: a migration must not change when tables.py does.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the three tables of the first release."""
    op.create_table(
        "asset_versions",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("version_number", sa.BigInteger(), nullable=True),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_asset_versions"),
        sa.UniqueConstraint("kind", "name", "version", name="uq_asset_versions_kind_name_version"),
    )
    op.create_index("ix_asset_versions_kind_name_seq", "asset_versions", ["kind", "name", "seq"])
    op.create_table(
        "named_resources",
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", name="pk_named_resources"),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_secrets"),
    )


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_table("secrets")
    op.drop_table("named_resources")
    op.drop_index("ix_asset_versions_kind_name_seq", table_name="asset_versions")
    op.drop_table("asset_versions")
