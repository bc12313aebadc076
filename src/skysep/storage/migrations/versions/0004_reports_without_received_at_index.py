"""Reports: no index on received_at (nothing queries by it; it doubled the cost of storing
10,000 reports a second).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 17:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_reports_received_at", table_name="reports")


def downgrade() -> None:
    op.create_index("ix_reports_received_at", "reports", ["received_at"], unique=False)
