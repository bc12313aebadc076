"""The database schema, declared once (SQLAlchemy Core).

Times are UTC epoch seconds (float64) everywhere: the same column type and
the same arithmetic on SQLite and PostgreSQL. Quantities are SI, their unit
in the column name. The Alembic migrations under ``migrations/versions``
create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

#: Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

parties = Table(
    "parties",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("language", String(8), nullable=False),
    Column("created_at", Float, nullable=False),
)

#: Bearer tokens: only the SHA-256 of each is kept. ``party_id`` NULL is an admin token.
tokens = Table(
    "tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("party_id", String(64), ForeignKey("parties.id"), nullable=True),
    Column("role", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

#: Every accepted position report, as received (SI); the live picture is rebuilt from it.
reports = Table(
    "reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("party_id", String(64), nullable=False),
    Column("aircraft", String(64), nullable=False),
    Column("time", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("lat_deg", Float, nullable=False),
    Column("lon_deg", Float, nullable=False),
    Column("alt_m", Float, nullable=False),
    Column("gs_mps", Float, nullable=True),
    Column("track_deg", Float, nullable=True),
    Column("vs_mps", Float, nullable=True),
    #: One report per aircraft and time: a client's retry of a batch does not store it twice.
    Index("ix_reports_party_aircraft_time", "party_id", "aircraft", "time", unique=True),
)

#: Alert events of the live detector: ``event`` is new, level, or resolved.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("event", String(16), nullable=False),
    Column("level", String(16), nullable=False),
    Column("previous_level", String(16), nullable=True),
    Column("party_a", String(64), nullable=False),
    Column("aircraft_a", String(64), nullable=False),
    Column("party_b", String(64), nullable=False),
    Column("aircraft_b", String(64), nullable=False),
    Column("t_in_s", Float, nullable=True),
    Column("t_out_s", Float, nullable=True),
    Column("t_cpa_s", Float, nullable=True),
    Column("h_cpa_m", Float, nullable=True),
    Column("v_cpa_m", Float, nullable=True),
    Column("h_now_m", Float, nullable=True),
    Column("v_now_m", Float, nullable=True),
    Column("horizontal_m", Float, nullable=False),
    Column("vertical_m", Float, nullable=False),
    #: Both aircraft's states at ``time`` (as the engine saw them) and the CPA point.
    Column("detail", JSON, nullable=False),
    Column("report_received_at", Float, nullable=True),
    Index("ix_alerts_party_a_time", "party_a", "time"),
    Index("ix_alerts_party_b_time", "party_b", "time"),
)

#: Losses of separation recorded live, with the fields of the replay's incidents.csv.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("party_a", String(64), nullable=False),
    Column("aircraft_a", String(64), nullable=False),
    Column("party_b", String(64), nullable=False),
    Column("aircraft_b", String(64), nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("min_h_m", Float, nullable=False),
    Column("min_v_m", Float, nullable=False),
    Column("time_of_min", Float, nullable=False),
    Column("lat_deg", Float, nullable=False),
    Column("lon_deg", Float, nullable=False),
    Column("alt_m", Float, nullable=False),
    Column("first_alert", Float, nullable=True),
    Column("lead_time_s", Float, nullable=True),
    Column("level_at_start", String(16), nullable=True),
    Column("horizontal_m", Float, nullable=False),
    Column("vertical_m", Float, nullable=False),
    Index("ix_incidents_party_a_start", "party_a", "start"),
    Index("ix_incidents_party_b_start", "party_b", "start"),
    Index("ix_incidents_status", "status"),
)

#: Both aircraft's reports from two minutes before an incident to one minute after.
incident_tracks = Table(
    "incident_tracks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=False),
    Column("party_id", String(64), nullable=False),
    Column("aircraft", String(64), nullable=False),
    Column("time", Float, nullable=False),
    Column("lat_deg", Float, nullable=False),
    Column("lon_deg", Float, nullable=False),
    Column("alt_m", Float, nullable=False),
    Column("gs_mps", Float, nullable=True),
    Column("track_deg", Float, nullable=True),
    Column("vs_mps", Float, nullable=True),
    Index("ix_incident_tracks_incident_id", "incident_id"),
)

__all__ = [
    "alerts",
    "incident_tracks",
    "incidents",
    "metadata",
    "parties",
    "reports",
    "tokens",
]

# -- hotline and verifiable record (issue #5) -----------------------------------------------------

#: A conversation between two parties (``party_a`` < ``party_b``). ``kind`` 'conflict': opened
#: by a conflict between ``aircraft_a`` (of party_a) and ``aircraft_b`` (of party_b), one thread
#: per such pair; 'direct': opened by a party, no aircraft.
threads = Table(
    "threads",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("party_a", String(64), nullable=False),
    Column("party_b", String(64), nullable=False),
    Column("aircraft_a", String(64), nullable=True),
    Column("aircraft_b", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_threads_party_a", "party_a"),
    Index("ix_threads_party_b", "party_b"),
    Index("ix_threads_pair", "party_a", "aircraft_a", "party_b", "aircraft_b"),
)

#: Hotline messages: ``sender`` a party id, or 'skysep' for the service's own (traffic alerts,
#: escalations); ``body`` the structured message (``skysep.hotline``); ``seq`` the chain entry
#: that records it.
messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("thread_id", BigId, ForeignKey("threads.id"), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", JSON, nullable=False),
    Column("requires_ack", Boolean, nullable=False),
    Column("deadline", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("seq", BigInteger, nullable=True),
    Index("ix_messages_thread_id", "thread_id"),
)

#: Who acknowledged (or answered unable to) which message, when, with which reply.
acks = Table(
    "acks",
    metadata,
    Column("message_id", BigId, ForeignKey("messages.id"), primary_key=True),
    Column("party", String(64), primary_key=True),
    Column("time", Float, nullable=False),
    Column("reply_id", BigId, ForeignKey("messages.id"), nullable=True),
)

#: Escalations of messages not acknowledged by their deadline (``escalation_id``: the
#: 'escalation' message written on the thread).
escalations = Table(
    "escalations",
    metadata,
    Column("message_id", BigId, ForeignKey("messages.id"), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("time", Float, nullable=False),
    Column("escalation_id", BigId, ForeignKey("messages.id"), nullable=True),
)

#: The append-only, hash-chained log (``skysep.record``): one row per entry, as hashed.
#: ``time`` is the record's text form (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), which the hash covers.
chain = Table(
    "chain",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("parties", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("salt", String(32), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

#: Which party each chain entry concerns (for a party's receipts without scanning the chain).
chain_parties = Table(
    "chain_parties",
    metadata,
    Column("party", String(64), primary_key=True),
    Column("seq", BigInteger, ForeignKey("chain.seq"), primary_key=True, autoincrement=False),
)

#: Signed chain heads: "entry ``seq`` has hash ``hash``", Ed25519 by the key ``key`` (fingerprint).
heads = Table(
    "heads",
    metadata,
    Column("seq", BigInteger, ForeignKey("chain.seq"), primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("time", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("key", String(64), nullable=False),
)

#: The state of each incident the chain holds: ``open`` once its opening is chained,
#: ``closed`` once its end is. Written with the entries, in their transaction; start-up
#: chains what a crash left out (an incident missing here, or closed but chained open).
incidents_chained = Table(
    "incidents_chained",
    metadata,
    Column(
        "incident_id", BigInteger, ForeignKey("incidents.id"), primary_key=True, autoincrement=False
    ),
    Column("status", String(16), nullable=False),
)

__all__ += [
    "acks",
    "chain",
    "chain_parties",
    "escalations",
    "heads",
    "incidents_chained",
    "messages",
    "threads",
]

# -- operations: 4D volumes, strategic-conflict notices, live volume alerts (issue #6) ------------

#: Operations as filed: ``id`` is the filing party's own id (unique per party, so two parties'
#: "op1" never meet); ``document`` the GeoJSON FeatureCollection as filed (its volumes are
#: parsed again from it at start-up); ``state`` planned, active, ended or cancelled.
operations = Table(
    "operations",
    metadata,
    Column("party_id", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("document", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_operations_state", "state"),
)

#: Strategic-conflict notices, one row per recipient and event (``new``, or ``withdrawn`` when
#: the overlap is gone). Only what the recipient may see: its own ``operation_id`` and
#: ``volume_id``, the other party, and the overlap (``region`` GeoJSON, band, window).
notices = Table(
    "notices",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("conflict_id", String(32), nullable=False),
    Column("party_id", String(64), nullable=False),
    Column("event", String(16), nullable=False),
    Column("other_party", String(64), nullable=False),
    Column("operation_id", String(128), nullable=False),
    Column("volume_id", String(128), nullable=False),
    Column("region", JSON, nullable=False),
    Column("lower_m", Float, nullable=False),
    Column("upper_m", Float, nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("time", Float, nullable=False),
    Index("ix_notices_party_id_id", "party_id", "id"),
    Index("ix_notices_conflict_id", "conflict_id"),
)

#: Live volume alert events: ``kind`` intrusion (an aircraft in another party's active volume)
#: or conformance (an aircraft outside its own party's active operation that lists it; no
#: ``volume_id``); ``event`` new or resolved. ``operation_id`` is its party's own id.
#: ``detail``: the aircraft's state and the volume's area, band and window.
volume_alerts = Table(
    "volume_alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("time", Float, nullable=False),
    Column("event", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("aircraft", String(64), nullable=False),
    Column("aircraft_party", String(64), nullable=False),
    Column("operation_id", String(128), nullable=False),
    Column("volume_id", String(128), nullable=True),
    Column("operation_party", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_volume_alerts_aircraft_party_id", "aircraft_party", "id"),
    Index("ix_volume_alerts_operation_party_id", "operation_party", "id"),
)

__all__ += ["notices", "operations", "volume_alerts"]
