"""Operations (issue #6): operations as filed, strategic-conflict notices, live volume alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:16:51.954639
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("conflict_id", sa.String(length=32), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("other_party", sa.String(length=64), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("volume_id", sa.String(length=128), nullable=False),
        sa.Column("region", sa.JSON(), nullable=False),
        sa.Column("lower_m", sa.Float(), nullable=False),
        sa.Column("upper_m", sa.Float(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_conflict_id", ["conflict_id"], unique=False)
        batch_op.create_index("ix_notices_party_id_id", ["party_id", "id"], unique=False)

    op.create_table(
        "operations",
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "id", name=op.f("pk_operations")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_state", ["state"], unique=False)

    op.create_table(
        "volume_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("aircraft", sa.String(length=64), nullable=False),
        sa.Column("aircraft_party", sa.String(length=64), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("volume_id", sa.String(length=128), nullable=True),
        sa.Column("operation_party", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_alerts")),
    )
    with op.batch_alter_table("volume_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_volume_alerts_aircraft_party_id", ["aircraft_party", "id"], unique=False
        )
        batch_op.create_index(
            "ix_volume_alerts_operation_party_id", ["operation_party", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("volume_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_volume_alerts_operation_party_id")
        batch_op.drop_index("ix_volume_alerts_aircraft_party_id")

    op.drop_table("volume_alerts")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_state")

    op.drop_table("operations")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_party_id_id")
        batch_op.drop_index("ix_notices_conflict_id")

    op.drop_table("notices")
