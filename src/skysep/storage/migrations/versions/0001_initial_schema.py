"""Initial schema: parties, tokens, reports, alerts, incidents, incident tracks.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 13:48:56.803260
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("previous_level", sa.String(length=16), nullable=True),
        sa.Column("party_a", sa.String(length=64), nullable=False),
        sa.Column("aircraft_a", sa.String(length=64), nullable=False),
        sa.Column("party_b", sa.String(length=64), nullable=False),
        sa.Column("aircraft_b", sa.String(length=64), nullable=False),
        sa.Column("t_in_s", sa.Float(), nullable=True),
        sa.Column("t_out_s", sa.Float(), nullable=True),
        sa.Column("t_cpa_s", sa.Float(), nullable=True),
        sa.Column("h_cpa_m", sa.Float(), nullable=True),
        sa.Column("v_cpa_m", sa.Float(), nullable=True),
        sa.Column("h_now_m", sa.Float(), nullable=True),
        sa.Column("v_now_m", sa.Float(), nullable=True),
        sa.Column("horizontal_m", sa.Float(), nullable=False),
        sa.Column("vertical_m", sa.Float(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("report_received_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_party_a_time", ["party_a", "time"], unique=False)
        batch_op.create_index("ix_alerts_party_b_time", ["party_b", "time"], unique=False)

    op.create_table(
        "incidents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("party_a", sa.String(length=64), nullable=False),
        sa.Column("aircraft_a", sa.String(length=64), nullable=False),
        sa.Column("party_b", sa.String(length=64), nullable=False),
        sa.Column("aircraft_b", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("min_h_m", sa.Float(), nullable=False),
        sa.Column("min_v_m", sa.Float(), nullable=False),
        sa.Column("time_of_min", sa.Float(), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.Column("first_alert", sa.Float(), nullable=True),
        sa.Column("lead_time_s", sa.Float(), nullable=True),
        sa.Column("level_at_start", sa.String(length=16), nullable=True),
        sa.Column("horizontal_m", sa.Float(), nullable=False),
        sa.Column("vertical_m", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_party_a_start", ["party_a", "start"], unique=False)
        batch_op.create_index("ix_incidents_party_b_start", ["party_b", "start"], unique=False)
        batch_op.create_index("ix_incidents_status", ["status"], unique=False)

    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_table(
        "reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("aircraft", sa.String(length=64), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.Column("gs_mps", sa.Float(), nullable=True),
        sa.Column("track_deg", sa.Float(), nullable=True),
        sa.Column("vs_mps", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_party_aircraft_time", ["party_id", "aircraft", "time"], unique=True
        )
        batch_op.create_index("ix_reports_received_at", ["received_at"], unique=False)

    op.create_table(
        "incident_tracks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("aircraft", sa.String(length=64), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.Column("gs_mps", sa.Float(), nullable=True),
        sa.Column("track_deg", sa.Float(), nullable=True),
        sa.Column("vs_mps", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_tracks_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_tracks")),
    )
    with op.batch_alter_table("incident_tracks", schema=None) as batch_op:
        batch_op.create_index("ix_incident_tracks_incident_id", ["incident_id"], unique=False)

    op.create_table(
        "tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_tokens_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_tokens_token_sha256")),
    )


def downgrade() -> None:
    op.drop_table("tokens")
    with op.batch_alter_table("incident_tracks", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_tracks_incident_id")

    op.drop_table("incident_tracks")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_received_at")
        batch_op.drop_index("ix_reports_party_aircraft_time")

    op.drop_table("reports")
    op.drop_table("parties")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_status")
        batch_op.drop_index("ix_incidents_party_b_start")
        batch_op.drop_index("ix_incidents_party_a_start")

    op.drop_table("incidents")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_party_b_time")
        batch_op.drop_index("ix_alerts_party_a_time")

    op.drop_table("alerts")
