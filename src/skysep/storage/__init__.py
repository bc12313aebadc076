"""Storage: one interface over an embedded SQLite file and PostgreSQL (SQLAlchemy 2 + Alembic)."""

from skysep.storage._store import (
    DEFAULT_URL,
    ROLES,
    TOKEN_PREFIX,
    PartyRecord,
    Principal,
    Report,
    Store,
    TokenRecord,
    hash_token,
    normalise_url,
    redact,
)

__all__ = [
    "DEFAULT_URL",
    "ROLES",
    "TOKEN_PREFIX",
    "PartyRecord",
    "Principal",
    "Report",
    "Store",
    "TokenRecord",
    "hash_token",
    "normalise_url",
    "redact",
]
