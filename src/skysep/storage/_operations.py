"""Storage of operations (issue #6): operations as filed, strategic-conflict notices and live
volume alerts.

:class:`OperationsStore` is a mixin of :class:`~skysep.storage.Store` (it uses its ``engine``
and ``_writing()``). Writes go through an :class:`OperationsWriter` over one connection, so
that the service can write an operation, its notices and the record's entries that record
them in one transaction (inside :meth:`~skysep.storage.Store.record`), or on their own with
:meth:`OperationsStore.operations_write`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Engine, func, or_, select, update

from skysep.errors import StorageError
from skysep.storage._schema import notices, operations, volume_alerts

__all__ = ["FILED", "OperationsStore", "OperationsWriter"]

T = TypeVar("T")

#: States of an operation whose volumes take part in strategic conflicts.
FILED: Final = ("planned", "active")


class OperationsWriter:
    """The operations' writes on one open transaction (``conn``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_operation(self, row: Mapping[str, Any]) -> None:
        """A new operation (StorageError when the party already has one with that id)."""
        found = self.conn.execute(
            select(operations.c.id).where(
                operations.c.party_id == row["party_id"], operations.c.id == row["id"]
            )
        ).first()
        if found is not None:
            raise StorageError(
                f"operation {row['id']!r} of party {row['party_id']!r} already exists; "
                "change it with PUT, or file it under another id"
            )
        self.conn.execute(operations.insert().values(**row))

    def update_operation(self, party_id: str, operation_id: str, values: Mapping[str, Any]) -> None:
        result = self.conn.execute(
            update(operations)
            .where(operations.c.party_id == party_id, operations.c.id == operation_id)
            .values(**values)
        )
        if result.rowcount != 1:
            raise StorageError(f"no operation {operation_id!r} of party {party_id!r}")

    def insert_notices(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append notices; their ids in order."""
        return self._insert(notices, rows)

    def insert_volume_alerts(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append volume alert events; their ids in order."""
        return self._insert(volume_alerts, rows)

    def _insert(self, table: Any, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        if not rows:
            return []
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        result = self.conn.execute(statement, [dict(r) for r in rows])
        return [int(i) for i in result.scalars().all()]


class OperationsStore:
    """Operations, notices and volume alerts (a mixin of Store)."""

    engine: Engine

    def _writing(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store's
        raise NotImplementedError

    # -- writing ---------------------------------------------------------------------------

    def operations_write(self, write: Callable[[OperationsWriter], T]) -> T:
        """Run ``write`` in one committed transaction; its return value."""
        with self._writing() as conn:
            return write(OperationsWriter(conn))

    # -- operations ------------------------------------------------------------------------

    def operation(self, party_id: str, operation_id: str) -> dict[str, Any] | None:
        """One party's operation, or None (another party's is never returned)."""
        query = select(operations).where(
            operations.c.party_id == party_id, operations.c.id == operation_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def operations_of(
        self, party_id: str, *, states: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """A party's operations (optionally only in ``states``), oldest first."""
        query = select(operations).where(operations.c.party_id == party_id)
        if states is not None:
            query = query.where(operations.c.state.in_(list(states)))
        query = query.order_by(operations.c.created_at, operations.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def filed_operations(self) -> list[dict[str, Any]]:
        """Every party's planned and active operations, oldest first (the index at start-up)."""
        query = (
            select(operations)
            .where(operations.c.state.in_(FILED))
            .order_by(operations.c.created_at, operations.c.party_id, operations.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    # -- notices ---------------------------------------------------------------------------

    def notices_for(
        self,
        party_id: str,
        *,
        after_id: int | None = None,
        operation_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The notices sent to ``party_id``, oldest first."""
        query = select(notices).where(notices.c.party_id == party_id)
        if after_id is not None:
            query = query.where(notices.c.id > after_id)
        if operation_id is not None:
            query = query.where(notices.c.operation_id == operation_id)
        query = query.order_by(notices.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def open_notices(self) -> list[dict[str, Any]]:
        """The latest notice of every (conflict, recipient) whose latest event is ``new``."""
        latest = (
            select(func.max(notices.c.id).label("id"))
            .group_by(notices.c.conflict_id, notices.c.party_id)
            .subquery()
        )
        query = (
            select(notices)
            .join(latest, notices.c.id == latest.c.id)
            .where(notices.c.event == "new")
            .order_by(notices.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    # -- volume alerts ---------------------------------------------------------------------

    def volume_alerts_for(
        self,
        party_id: str,
        *,
        after_id: int | None = None,
        kind: str | None = None,
        event_name: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Volume alert events that concern ``party_id`` (its aircraft, or its operation's
        volume), oldest first."""
        query = select(volume_alerts).where(
            or_(
                volume_alerts.c.aircraft_party == party_id,
                volume_alerts.c.operation_party == party_id,
            )
        )
        if after_id is not None:
            query = query.where(volume_alerts.c.id > after_id)
        if kind is not None:
            query = query.where(volume_alerts.c.kind == kind)
        if event_name is not None:
            query = query.where(volume_alerts.c.event == event_name)
        query = query.order_by(volume_alerts.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def open_volume_alerts(self) -> list[dict[str, Any]]:
        """The latest event of every (kind, aircraft, operation, volume) that is not resolved."""
        c = volume_alerts.c
        latest = (
            select(func.max(c.id).label("id"))
            .group_by(
                c.kind, c.aircraft_party, c.aircraft, c.operation_party, c.operation_id, c.volume_id
            )
            .subquery()
        )
        query = (
            select(volume_alerts)
            .join(latest, c.id == latest.c.id)
            .where(c.event != "resolved")
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]
