"""Ingest: report batches from their JSON to committed rows, on a worker process.

Checking 10,000 reports a second (pydantic-core) and inserting them is the
service's heaviest per-report work. ``skysep serve`` does it in a worker
process (:class:`Ingestor` with ``process=True``), so that it runs on another
core than the event loop and the detection cycle, which share one
interpreter. Apps built in tests run the very same :func:`ingest_group` on a
thread.

A group is the batches that arrived while the previous group was being
committed: each batch is checked on its own (a bad one is refused whole,
naming the index, field and value of every problem), then all good ones are
inserted in one transaction (one fsync), and each batch's reply says how many
of its reports were new. Nothing is acknowledged before it is committed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from skysep import units
from skysep.errors import ServiceError
from skysep.service._models import (
    ALTITUDE_ERROR,
    Problem,
    ReportBatch,
    ReportIn,
    iso,
    problem_value,
)
from skysep.service._processes import WorkerDiedError, WorkerProcess, leave_with_parent
from skysep.storage import Report, Store

log = logging.getLogger("skysep.service")

#: A report may be stamped at most this far ahead of the service's clock.
MAX_FUTURE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class BatchIn:
    """One batch as it arrived: the JSON body (POST) or the decoded list (WebSocket)."""

    party_id: str
    #: Bytes are parsed as JSON; anything else is taken as the decoded ``reports`` value.
    body: object
    #: When the service received it, by its clock (epoch seconds): the reports'
    #: ``received_at``, and what a report's time may not be more than MAX_FUTURE_S ahead of.
    received: float


@dataclass(frozen=True, slots=True)
class BatchStored:
    """A stored batch: its reports as columns (in :class:`Report`'s field order: a
    tuple of lists crosses between processes twenty times faster than a list of rows)."""

    columns: tuple[list[Any], ...]
    #: Of them, new (the others were already stored: a retry).
    new: int

    @classmethod
    def of(cls, rows: Sequence[Report], new: int) -> BatchStored:
        return cls(tuple(list(c) for c in zip(*rows, strict=True)), new)

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @property
    def rows(self) -> list[Report]:
        return [Report._make(values) for values in zip(*self.columns, strict=True)]


@dataclass(frozen=True, slots=True)
class BatchRefused:
    status: int
    message: str
    problems: list[Problem]


class BatchError(ServiceError):
    def __init__(self, message: str, status: int, problems: list[Problem]) -> None:
        super().__init__(message, status)
        self.problems = problems


def parse_batch(batch: BatchIn) -> list[Report]:
    """The batch's reports as SI rows, or :class:`BatchError` naming every problem."""
    try:
        if isinstance(batch.body, bytes):
            reports = ReportBatch.model_validate_json(batch.body).reports
        else:
            reports = ReportBatch.model_validate({"reports": batch.body}).reports
    except ValidationError as exc:
        problems = problems_of(exc.errors(), ("reports",))
        raise BatchError(
            f"{len(problems)} problem(s) in the request; nothing was stored", 422, problems
        ) from None
    times = [r.time_s for r in reports]
    check_batch(batch.party_id, reports, times, batch.received)
    kt_to_mps, fpm_to_mps = units.kt_to_mps, units.fpm_to_mps
    party, received = batch.party_id, batch.received
    return [
        Report(
            party,
            r.aircraft,
            t,
            received,
            r.lat,
            r.lon,
            r.alt_si,
            None if r.gs_kt is None else kt_to_mps(r.gs_kt),
            r.track_deg,
            None if r.vs_fpm is None else fpm_to_mps(r.vs_fpm),
        )
        for r, t in zip(reports, times, strict=True)
    ]


def ingest_group(store: Store, batches: Sequence[BatchIn]) -> list[BatchStored | BatchRefused]:
    """Check each batch, then commit all good ones in one transaction; a reply per batch.

    A storage failure raises :class:`StorageError` (nothing of the group is stored).
    """
    out: list[BatchStored | BatchRefused | None] = []
    good: list[list[Report]] = []
    for batch in batches:
        try:
            rows = parse_batch(batch)
        except BatchError as exc:
            out.append(BatchRefused(exc.status, str(exc), exc.problems))
        else:
            out.append(None)
            good.append(rows)
    counts = iter(store.insert_report_batches(good))
    rows_of = iter(good)
    return [
        item if item is not None else BatchStored.of(next(rows_of), next(counts)) for item in out
    ]


# -- where the work runs ---------------------------------------------------------------------

#: The worker process's own connection to the database (set by its initializer).
_worker_store: Store | None = None


def _start_worker(url: str) -> None:
    global _worker_store
    leave_with_parent()
    _worker_store = Store.open(url, migrate=False)
    _worker_store.checkpoint_in_background(run=False)  # the server's store checkpoints
    gc.freeze()  # what start-up loaded stays: the collector need not walk it again


def _ingest_in_worker(batches: Sequence[BatchIn]) -> list[BatchStored | BatchRefused]:
    assert _worker_store is not None, "the ingest worker was not started"
    return ingest_group(_worker_store, batches)


class Ingestor:
    """Runs :func:`ingest_group` on a worker process (``process=True``) or a thread."""

    def __init__(self, store: Store, *, process: bool) -> None:
        self.store = store
        url = store.engine.url.render_as_string(hide_password=False)
        self.worker = WorkerProcess("ingest", _start_worker, (url,)) if process else None

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    async def run(self, batches: Sequence[BatchIn]) -> list[BatchStored | BatchRefused]:
        if self.worker is None:
            return await asyncio.to_thread(ingest_group, self.store, batches)
        try:
            return await self.worker.call(_ingest_in_worker, batches)
        except WorkerDiedError:
            # Whether this group was committed is unknown, so it is refused; a retry is
            # stored once. The next group starts a new worker.
            raise ServiceError(
                "the ingest worker stopped; nothing of this batch is confirmed, send it again",
                503,
            ) from None

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


# -- problems, as the API names them ---------------------------------------------------------


def check_batch(party_id: str, reports: list[ReportIn], times: list[float], now: float) -> None:
    """What the schema cannot check: whose aircraft, and times too far ahead."""
    foreign = [
        Problem(
            index=i, field="party", value=r.party, message=f"not the caller's party {party_id!r}"
        )
        for i, r in enumerate(reports)
        if r.party is not None and r.party != party_id
    ]
    if foreign:
        raise BatchError(
            f"a party writes only its own aircraft; {len(foreign)} report(s) name another party",
            403,
            foreign,
        )
    future = [
        Problem(
            index=i,
            field="time",
            value=iso(t),
            message=f"{t - now:.0f} s ahead of the service's clock (at most {MAX_FUTURE_S:.0f} s)",
        )
        for i, t in enumerate(times)
        if t > now + MAX_FUTURE_S
    ]
    if future:
        raise BatchError(
            f"{len(future)} report(s) from the future; nothing was stored", 422, future
        )


#: Tags pydantic adds to an error's location for the member of a union that failed.
_UNION_TAGS = frozenset({"datetime", "float", "int", "str", "none", "bool"})


def problems_of(errors: Any, prefix: tuple[str, ...] = ("body", "reports")) -> list[Problem]:
    """Pydantic errors as problems, one per (index, field): a value that fits no member of
    a union (``time``: datetime or number) is one problem, its messages joined."""
    merged: dict[tuple[int | None, str | None], list[Problem]] = {}
    for err in errors:
        problem = _problem(err, prefix)
        merged.setdefault((problem.index, problem.field), []).append(problem)
    out = []
    for group in merged.values():
        first = group[0]
        if len(group) > 1:
            reasons = "; ".join(p.message for p in group)
            first.message = f"{first.value!r} fits none of the accepted forms ({reasons})"
        out.append(first)
    return out


def _problem(err: Any, prefix: tuple[str, ...]) -> Problem:
    """A pydantic error as (index, field, value, message)."""
    loc = tuple(err.get("loc", ()))
    if loc[: len(prefix)] == prefix:
        loc = loc[len(prefix) :]
    index = loc[0] if loc and isinstance(loc[0], int) else None
    rest = [str(p) for p in (loc[1:] if index is not None else loc) if p not in ("body",)]
    if len(rest) > 1 and rest[-1] in _UNION_TAGS:
        rest = rest[:-1]
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    fld = ".".join(rest) or None
    if err.get("type") == ALTITUDE_ERROR:
        fld = "alt_ft/alt_m"
    value = err.get("input")
    if isinstance(value, dict) and fld is not None and fld in value:
        value = value[fld]
    elif isinstance(value, dict):
        value = None
    return Problem(index=index, field=fld, value=problem_value(value), message=message)
