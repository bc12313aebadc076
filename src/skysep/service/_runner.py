"""The live service: ingest into storage and the live picture, the detection cycle, delivery.

Order of things, so that nothing accepted is lost on a crash or restart:

1. a report batch is committed to storage, then enters the live picture,
   then its 2xx is sent;
2. each cycle's alert events and incidents are committed, then delivered;
3. at start-up the live picture is rebuilt from the latest stored report of
   each aircraft, the open alert pairs from the latest stored event of each
   pair, and open incidents from storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from skysep import units
from skysep.agreement import Agreement
from skysep.service._hotline import CycleWork, HotlineService
from skysep.service._hub import Hub
from skysep.service._ingest import BatchError, BatchIn, BatchRefused, BatchStored, Ingestor
from skysep.service._live import (
    TRACK_AFTER_S,
    TRACK_BEFORE_S,
    CycleResult,
    Detector,
    LivePicture,
    Snapshot,
)
from skysep.service._models import (
    AircraftState,
    AlertOut,
    ClosestPoint,
    IncidentOut,
    Traffic,
    iso,
)
from skysep.service._operations import OperationsService
from skysep.service._processes import WorkerDiedError, WorkerProcess
from skysep.service._recorder import record_in_recorder
from skysep.storage import Report, Store

log = logging.getLogger("skysep.service")

#: Cycles between two INFO log lines about the cycle (the others log at DEBUG).
CYCLE_LOG_EVERY: Final = 60
#: While the cycle loop runs, Python's cyclic garbage collector runs after each cycle's
#: alerts went out, not whenever allocations trip it: young objects after every cycle, a
#: full collection every this many cycles. A full collection of the server's heap holds
#: the GIL for up to 0.1-0.15 s, which must not fall between a tick and its alerts.
FULL_COLLECTION_EVERY: Final = 60


@dataclass
class CycleStats:
    time: float
    duration_ms: float
    #: From the cycle's start to its alerts handed to the hub (detected, stored, published).
    alerts_ms: float
    #: The engine and the diff into events; then the cycle's transaction.
    detect_ms: float
    store_ms: float
    aircraft: int
    conflicts: int
    events: int


class LiveService:
    """Everything live: the picture, the detector, the hub; storage behind it."""

    def __init__(
        self,
        store: Store,
        agreement: Agreement,
        *,
        clock: Callable[[], float] = time.time,
        threads: int | None = None,
        ingest_process: bool = False,
    ) -> None:
        self.store = store
        #: Checks and commits report batches: on a worker process, or on a thread.
        self.ingestor = Ingestor(store, process=ingest_process)
        #: Does each cycle's record and hotline work, when set (by create_app); else a
        #: thread of this process does.
        self.recorder: WorkerProcess | None = None
        self.agreement = agreement
        self.clock = clock
        self.picture = LivePicture(agreement.stale_s)
        self.detector = Detector(agreement, threads=threads)
        self.hub = Hub()
        self.last: CycleResult | None = None
        self.last_stats: CycleStats | None = None
        self._pending_tracks: dict[int, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        #: Cycles whose hotline, record and operations work is still to do, in order.
        self._follow: asyncio.Queue[CycleResult] = asyncio.Queue()
        self._follow_task: asyncio.Task[None] | None = None
        #: Report batches waiting for the next group commit, and whether one is under way.
        self._waiting_reports: list[tuple[BatchIn, asyncio.Future[BatchStored | BatchRefused]]] = []
        self._committing = False
        self._commit_task: asyncio.Task[None] | None = None
        self._cycles = 0
        #: Whether the cycle loop runs the garbage collector (start's collect_between_cycles).
        self._collecting = False
        #: Clear while a cycle detects, stores and delivers: the follow-up work waits.
        self._cycle_idle = threading.Event()
        self._cycle_idle.set()
        #: The hotline and the record (set by create_app); None: neither runs.
        self.hotline: HotlineService | None = None
        #: Operations: the strategic index, notices and live volume alerts (issue #6).
        self.operations = OperationsService(store, self)

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, *, loop: bool = True, collect_between_cycles: bool = False) -> None:
        """Start the workers, rebuild the state from storage, and run the cycle loop (``loop``).

        ``collect_between_cycles`` (a server process of its own, as ``skysep
        serve`` runs): what start-up loaded is frozen out of the garbage
        collector's reach, and while the loop runs the collector runs after
        each cycle instead of whenever allocations trip it (see
        :data:`FULL_COLLECTION_EVERY`). Off in a process that hosts other
        things (tests), whose garbage it would otherwise keep.
        """
        # SQLite: the write-ahead log is checkpointed by a thread, not by whichever commit
        # finds it long (the ingest worker's connections checkpoint never).
        self.store.checkpoint_in_background()
        await asyncio.to_thread(self.ingestor.start)
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.start)
        await asyncio.to_thread(self._warm_up)
        await asyncio.to_thread(self._restore)
        if loop:
            if collect_between_cycles:
                # What start-up loaded (FastAPI, SQLAlchemy, the engine) stays: the collector
                # need not walk it again; it runs between cycles (FULL_COLLECTION_EVERY).
                gc.freeze()
                gc.disable()
                self._collecting = True
            self._task = asyncio.create_task(self._loop(), name="skysep-cycle")
            self._follow_task = asyncio.create_task(self._follow_loop(), name="skysep-follow")

    def _warm_up(self) -> None:
        """Load the engine's compiled kernels now rather than in the first cycle."""
        picture = LivePicture(self.agreement.stale_s)
        picture.update(
            [
                Report("warm-up", "a", 0.0, 0.0, 0.0, 0.0, 10_000.0, 200.0, 90.0, 0.0),
                Report("warm-up", "b", 0.0, 0.0, 0.0, 0.1, 10_000.0, 200.0, 270.0, 0.0),
            ]
        )
        Detector(self.agreement, threads=self.detector.threads).cycle(picture.snapshot(1.0))

    def _restore(self) -> None:
        now = self.clock()
        latest = self.store.latest_reports(now - self.agreement.stale_s)
        self.picture.update(latest)
        active = self.store.active_alerts()
        open_incidents = self.store.incidents_with_status("open")
        self.detector.restore(active, open_incidents)
        if self.hotline is not None:  # alerts a crash left out of the record
            self.hotline.recover()
        for row in self.store.incidents_with_status("closed"):
            self._pending_tracks[int(row["id"])] = row
        self.operations.restore()
        log.info(
            "restored",
            extra={
                "aircraft": len(latest),
                "active_alerts": len(active),
                "open_incidents": len(open_incidents),
                "incidents_pending_tracks": len(self._pending_tracks),
            },
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if self._collecting:
                gc.enable()
                self._collecting = False
        if self._follow_task is not None:
            # What the last cycles stored is chained and posted before the service stops.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._follow.join(), timeout=30.0)
            self._follow_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow_task
            self._follow_task = None
        await asyncio.to_thread(self.ingestor.close)
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
        self.hub.close()

    async def _follow_loop(self) -> None:
        """The hotline, record and operations work of each cycle, in order, off the alert path."""
        while True:
            result = await self._follow.get()
            try:
                await self._follow_up(result)
            except Exception:  # logged; the next cycle's work goes on
                log.exception("cycle follow-up failed")
            finally:
                self._follow.task_done()

    async def _loop(self) -> None:
        cycle_s = self.agreement.cycle_s
        next_tick = math.ceil(self.clock() / cycle_s) * cycle_s
        ticks = 0
        while True:
            await asyncio.sleep(max(0.0, next_tick - self.clock()))
            try:
                await self.run_cycle(inline=False)
            except Exception:  # a cycle that fails is logged; the next one runs
                log.exception("cycle failed")
            ticks += 1
            if self._collecting:  # a failed cycle counts too: its garbage is there all the same
                gc.collect(2 if ticks % FULL_COLLECTION_EVERY == 0 else 1)
            next_tick += cycle_s
            behind = self.clock() - next_tick
            if behind > cycle_s:  # skip ticks we cannot catch up with
                next_tick += math.ceil(behind / cycle_s) * cycle_s

    # -- ingest ----------------------------------------------------------------------------

    async def ingest(self, party_id: str, body: object) -> tuple[int, int]:
        """Check and store a batch (committed before this returns), then take it live.

        ``body`` is the JSON of a ``{"reports": [...]}`` batch, or the decoded
        list of reports. Returns (reports in the batch, of which already
        stored); a bad batch raises :class:`BatchError` naming every problem.
        """
        done: asyncio.Future[BatchStored | BatchRefused] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting_reports.append((BatchIn(party_id, body, self.clock()), done))
        if not self._committing:
            self._committing = True
            self._commit_task = asyncio.create_task(self._commit_waiting(), name="skysep-commit")
        reply = await done
        if isinstance(reply, BatchRefused):
            raise BatchError(reply.message, reply.status, reply.problems)
        self.picture.update(zip(*reply.columns, strict=True))
        return len(reply), len(reply) - reply.new

    async def _commit_waiting(self) -> None:
        """Group commit: batches that arrive while a commit is under way wait for the next
        one and share it (one transaction, one fsync), each still all or nothing."""
        try:
            while self._waiting_reports:
                group, self._waiting_reports = self._waiting_reports, []
                try:
                    replies = await self.ingestor.run([batch for batch, _ in group])
                except Exception as exc:  # every batch of the group fails, none is stored
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for (_, done), reply in zip(group, replies, strict=True):
                        if not done.done():
                            done.set_result(reply)
        finally:
            self._committing = False

    # -- one cycle -------------------------------------------------------------------------

    async def run_cycle(self, now: float | None = None, *, inline: bool = True) -> CycleResult:
        """Snapshot, detect, store, deliver the alerts; then the hotline, record and operations.

        ``now`` defaults to the clock. Alerts are stored, then delivered at
        once. The rest of the cycle's work (chaining alerts and incidents,
        traffic-alert messages, escalations, volume alerts) follows: before
        this returns when ``inline`` (tests, one-off cycles), or queued in
        order for a background task (the service's own loop), so that a
        burst of hotline work never delays the next cycle's alerts.
        """
        started = time.perf_counter()
        now = self.clock() if now is None else now
        self._cycle_idle.clear()
        try:
            snapshot = self.picture.snapshot(now)
            result, detect_ms, store_ms = await asyncio.to_thread(self._detect_and_store, snapshot)
            self._deliver_alerts(result)
            alerts_ms = (time.perf_counter() - started) * 1000.0
            # Who may see which aircraft: for the traffic views, after the alerts went out.
            result.visible = await asyncio.to_thread(
                self.detector.visible, snapshot, result.conflicts
            )
            self.last = result
            self._deliver_traffic()
        finally:
            self._cycle_idle.set()
        if inline:
            await self._follow_up(result)
        else:
            self._follow.put_nowait(result)
        self._cycles += 1
        stats = CycleStats(
            now,
            (time.perf_counter() - started) * 1000.0,
            alerts_ms,
            detect_ms,
            store_ms,
            len(snapshot),
            len(result.conflicts),
            len(result.events),
        )
        self.last_stats = stats
        log.log(
            logging.INFO if self._cycles % CYCLE_LOG_EVERY == 1 else logging.DEBUG,
            "cycle",
            extra={
                "aircraft": stats.aircraft,
                "conflicts": stats.conflicts,
                "events": stats.events,
                "incidents_opened": len(result.opened),
                "cycle_ms": round(stats.duration_ms, 1),
                "alerts_ms": round(stats.alerts_ms, 1),
                "detect_ms": round(stats.detect_ms, 1),
                "store_ms": round(stats.store_ms, 1),
                "follow_up_queued": self._follow.qsize(),
            },
        )
        return result

    def _detect_and_store(self, snapshot: Snapshot) -> tuple[CycleResult, float, float]:
        """The cycle's result, and how long detecting and storing it took (ms)."""
        started = time.perf_counter()
        result = self.detector.cycle(snapshot, visible=False)
        detected = time.perf_counter()
        # One transaction for the cycle (a commit is an fsync): a busy cycle changes hundreds.
        ids, incident_ids = self.store.store_cycle(result.events, result.opened, result.changed)
        for event, alert_id in zip(result.events, ids, strict=True):
            event["id"] = alert_id
        self.detector.attach_incident_ids(result, incident_ids)
        stored = time.perf_counter()
        return result, (detected - started) * 1000.0, (stored - detected) * 1000.0

    async def _follow_up(self, result: CycleResult) -> None:
        if self.hotline is not None:  # chain the alerts and incidents, post traffic alerts
            work = CycleWork.of(result)
            if self.recorder is not None:
                try:
                    outbox = await self.recorder.call(record_in_recorder, work)
                except WorkerDiedError:  # the next recorder chains this cycle's alerts
                    outbox = []
                self.hotline.deliver(self.hub, outbox)
            else:
                await asyncio.to_thread(self.hotline.record_cycle, work, self._give_way)
                self.hotline.deliver(self.hub)
        await asyncio.to_thread(self._follow_up_work, result)
        self.operations.deliver(self.hub)

    def _give_way(self) -> None:
        """Wait while a cycle runs (at most one cycle_s): the follow-up work gives way."""
        self._cycle_idle.wait(timeout=self.agreement.cycle_s)

    def _follow_up_work(self, result: CycleResult) -> None:
        self._give_way()
        self.operations.after_cycle(result.snapshot)  # intrusions and conformance: volume alerts
        # Incidents that closed wait a minute for their track segment (copied off the
        # alert path: a busy minute closes hundreds).
        closed = [i for i, values in result.changed if values.get("status") == "closed"]
        for row in self.store.incidents_by_id(closed):
            self._pending_tracks[int(row["id"])] = row
        self._record_tracks(result.time)

    def _record_tracks(self, now: float) -> None:
        """Copy both aircraft's reports into incidents that ended a minute ago or more."""
        for incident_id, row in list(self._pending_tracks.items()):
            end = float(row["end"])
            if now < end + TRACK_AFTER_S:
                continue
            self._give_way()
            t0, t1 = float(row["start"]) - TRACK_BEFORE_S, end + TRACK_AFTER_S
            segment = [
                *self.store.reports_between(row["party_a"], row["aircraft_a"], t0, t1),
                *self.store.reports_between(row["party_b"], row["aircraft_b"], t0, t1),
            ]
            self.store.record_incident_tracks(incident_id, segment)
            del self._pending_tracks[incident_id]
            log.info("incident recorded", extra={"incident": incident_id, "points": len(segment)})

    def _deliver_alerts(self, result: CycleResult) -> None:
        for event in result.events:
            for party in {event["party_a"], event["party_b"]}:
                view = alert_view(event, party)
                self.hub.publish(party, {"type": "alert", "alert": view.model_dump(mode="json")})

    def _deliver_traffic(self) -> None:
        for party in self.hub.parties_wanting_traffic():
            traffic = self.traffic_for(party)
            self.hub.publish(
                party, {"type": "traffic", **traffic.model_dump(mode="json")}, traffic=True
            )

    # -- views -----------------------------------------------------------------------------

    def traffic_for(self, party_id: str) -> Traffic:
        """The party's own aircraft and what is disclosed to it, at the last cycle."""
        result = self.last
        if result is None:
            return Traffic(time=None, aircraft=[])
        visible = result.visible.get(party_id, np.zeros(0, dtype=np.int64))
        snap = result.snapshot
        return Traffic(
            time=iso(result.time),
            aircraft=[AircraftState.from_state(snap.state(int(i))) for i in visible],
        )

    def aircraft_count(self) -> int:
        return len(self.picture)


def alert_view(row: dict[str, Any], party_id: str) -> AlertOut:
    """An alert event as ``party_id`` sees it: its own aircraft first, the other second."""
    own_side, other_side = ("a", "b") if row["party_a"] == party_id else ("b", "a")
    detail = row.get("detail") or {}
    cpa = detail.get("cpa") or {}

    def state(side: str) -> AircraftState | None:
        s = detail.get(side)
        return None if s is None else AircraftState.from_state(s)

    def nm(m: float | None) -> float | None:
        return None if m is None else float(units.m_to_nm(m))

    def ft(m: float | None) -> float | None:
        return None if m is None else float(units.m_to_ft(m))

    return AlertOut(
        id=int(row["id"]),
        time=iso(row["time"]),
        event=row["event"],
        level=row["level"],
        previous_level=row.get("previous_level"),
        own_aircraft=row[f"aircraft_{own_side}"],
        own_party=row[f"party_{own_side}"],
        other_aircraft=row[f"aircraft_{other_side}"],
        other_party=row[f"party_{other_side}"],
        own=state(own_side),
        other=state(other_side),
        t_in_s=row.get("t_in_s"),
        t_out_s=row.get("t_out_s"),
        h_now_nm=nm(row.get("h_now_m")),
        v_now_ft=ft(row.get("v_now_m")),
        cpa=ClosestPoint(
            time=iso(cpa.get("time")),
            t_s=row.get("t_cpa_s"),
            h_nm=nm(row.get("h_cpa_m")),
            v_ft=ft(row.get("v_cpa_m")),
            lat=cpa.get("lat_deg"),
            lon=cpa.get("lon_deg"),
            alt_ft=ft(cpa.get("alt_m")),
        ),
        horizontal_nm=float(units.m_to_nm(row["horizontal_m"])),
        vertical_ft=float(units.m_to_ft(row["vertical_m"])),
        first_alert=iso(detail.get("first_alert")),
        report_received_at=iso(row.get("report_received_at")),
    )


def incident_view(row: dict[str, Any]) -> IncidentOut:
    return IncidentOut(
        id=int(row["id"]),
        status=row["status"],
        aircraft_a=row["aircraft_a"],
        aircraft_b=row["aircraft_b"],
        party_a=row["party_a"],
        party_b=row["party_b"],
        start=iso(row["start"]),
        end=iso(row["end"]),
        duration_s=row["duration_s"],
        min_h_m=row["min_h_m"],
        min_v_m=row["min_v_m"],
        time_of_min=iso(row["time_of_min"]),
        lat=row["lat_deg"],
        lon=row["lon_deg"],
        alt_m=row["alt_m"],
        first_alert=iso(row["first_alert"]),
        lead_time_s=row["lead_time_s"],
        level_at_start=row["level_at_start"],
    )
