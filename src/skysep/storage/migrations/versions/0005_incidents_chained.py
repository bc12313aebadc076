"""Incidents: which state of each the record's chain holds (``incidents_chained``), so that
start-up chains the openings and ends a crash left out, as it does alerts.

Filled from the chain: the last entry of each incident gives its state. Incidents the
chain does not hold (left out by a crash, or older than the record) get no row, and the
service's next start-up chains them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "incidents_chained",
        sa.Column("incident_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incidents_chained_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents_chained")),
    )
    bind = op.get_bind()
    known = {row[0] for row in bind.execute(sa.text("SELECT id FROM incidents"))}
    state: dict[int, str] = {}
    entries = bind.execute(
        sa.text("SELECT payload FROM chain WHERE kind = 'incident' ORDER BY seq")
    )
    for (payload,) in entries:
        value: Any = json.loads(payload) if isinstance(payload, str) else payload
        incident_id = int(value["id"])
        if incident_id in known and state.get(incident_id) != "closed":
            state[incident_id] = str(value["status"])
    if state:
        op.bulk_insert(table, [{"incident_id": k, "status": v} for k, v in sorted(state.items())])


def downgrade() -> None:
    op.drop_table("incidents_chained")
