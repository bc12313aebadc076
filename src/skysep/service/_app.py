"""The web application: REST, WebSocket and Server-Sent Events over :class:`LiveService`.

Every route but ``/health`` needs a bearer token (``Authorization: Bearer``;
WebSocket and SSE clients that cannot set headers may pass ``?token=``). A
party token reads and writes that party's own data and what is disclosed to
it; an admin token manages parties. Every error has one shape,
:class:`~skysep.service._models.ErrorOut`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from skysep import units
from skysep.agreement import Agreement
from skysep.errors import ServiceError, StorageError
from skysep.service._access import Admin, Party, authenticate, error_responses
from skysep.service._hotline import HotlineService
from skysep.service._hotline import router as hotline_router
from skysep.service._ingest import MAX_FUTURE_S, problems_of
from skysep.service._live import TRACK_AFTER_S, TRACK_BEFORE_S
from skysep.service._models import (
    Accepted,
    AlertOut,
    ErrorOut,
    Health,
    IncidentOut,
    IncidentTracks,
    Me,
    PartyIn,
    PartyOut,
    Problem,
    ReportBatch,
    TokenInfo,
    TokenOut,
    TrackPoint,
    Traffic,
    iso,
    parse_time,
)
from skysep.service._operations import router as operations_router
from skysep.service._recorder import recorder_process
from skysep.service._reports import router as reports_router
from skysep.service._runner import LiveService, alert_view, incident_view
from skysep.storage import Store

log = logging.getLogger("skysep.service")

API_VERSION: Final = "1"

_ERRORS: Final = {
    400: "Bad request.",
    401: "No token, or an unknown or revoked one.",
    403: "The token may not do this (an admin token for party data, or the reverse; "
    "another party's aircraft).",
    404: "No such resource for this party (another party's is never shown).",
    409: "Conflicts with an existing resource.",
    422: "Invalid body or parameters: every offending report's index and field is named.",
    503: "The ingest worker stopped while the batch was under way: send the batch again "
    "(a report stored twice is kept once).",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return error_responses(_ERRORS, *statuses)


def create_app(
    store: Store,
    agreement: Agreement,
    *,
    clock: Callable[[], float] = time.time,
    run_cycles: bool = True,
    threads: int | None = None,
    key: Ed25519PrivateKey | None = None,
    worker_processes: bool = False,
    collect_between_cycles: bool = False,
) -> FastAPI:
    """The SkySep service as an ASGI app (uvicorn runs it; tests may too).

    ``run_cycles=False`` leaves the detection loop off: tests then call
    ``app.state.live.run_cycle(now)`` themselves. ``key`` signs the record's heads and
    receipts (``skysep serve --key``); without one, a key made for this app only (lost
    when it stops: nothing signed with it can be verified later). ``worker_processes``
    checks and stores report batches, and does each cycle's record and hotline work, on
    two worker processes (``skysep serve`` does), instead of threads of this one.
    ``collect_between_cycles``: the app has its process to itself (``skysep serve``), and
    Python's garbage collector runs between cycles, off the alerts' path
    (:meth:`LiveService.start`).
    """
    live = LiveService(
        store, agreement, clock=clock, threads=threads, ingest_process=worker_processes
    )
    if key is None:
        log.warning("no signing key given: using a temporary one")
        key = Ed25519PrivateKey.generate()
    live.hotline = HotlineService(store, agreement, key, clock)
    if worker_processes:
        live.recorder = recorder_process(store, key, agreement)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await live.start(loop=run_cycles, collect_between_cycles=collect_between_cycles)
        log.info(
            "service started",
            extra={
                "database": store.url,
                "agreement": agreement.name,
                "cycle_s": agreement.cycle_s,
            },
        )
        try:
            yield
        finally:
            await live.stop()
            log.info("service stopped")

    app = FastAPI(
        title="SkySep",
        version=API_VERSION,
        summary="Airspace deconfliction between parties that share an airspace but not a command.",
        description=(
            "Parties feed their own aircraft's positions; SkySep predicts conflicts, "
            "alerts the parties involved and records losses of separation, telling each "
            "party only what it needs to know. Units are in field names (ft, kt, ft/min, "
            "NM); times are ISO-8601 UTC."
        ),
        lifespan=lifespan,
    )
    _document_report_batch(app)
    app.state.live = live
    app.state.store = store
    app.state.hotline = live.hotline
    app.include_router(hotline_router)  # threads, messages, receipts, the key
    app.include_router(operations_router)  # operations, notices, volume alerts (#6)
    app.include_router(reports_router)  # printable incident reports (#7)

    # -- errors: one shape for all -------------------------------------------------------------

    def error(status: int, message: str, problems: list[Problem] | None = None) -> JSONResponse:
        body = ErrorOut.model_validate(
            {"error": {"status": status, "message": message, "problems": problems or []}}
        )
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return error(exc.status, str(exc), getattr(exc, "problems", None))

    @app.exception_handler(StorageError)
    async def _storage_error(_request: Request, exc: StorageError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = problems_of(exc.errors())
        return error(
            422, f"{len(problems)} problem(s) in the request; nothing was stored", problems
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    # -- access ----------------------------------------------------------------------------

    @app.middleware("http")
    async def _log_requests(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        who = getattr(request.state, "principal", None)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,  # never the query: it may hold a token
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000.0, 2),
                "party": None if who is None else (who.party_id or "admin"),
            },
        )
        return response

    # -- health and identity ---------------------------------------------------------------

    @app.get("/health", response_model=Health, tags=["service"], responses=_errors())
    async def health() -> Health:
        """Liveness and the last cycle (no token needed; nothing party-specific)."""
        stats = live.last_stats
        return Health(
            status="ok",
            database=store.dialect,
            aircraft=live.aircraft_count(),
            cycle_time=None if stats is None else iso(stats.time),
            cycle_ms=None if stats is None else round(stats.duration_ms, 2),
            alerts_ms=None if stats is None else round(stats.alerts_ms, 2),
        )

    @app.get("/v1/me", response_model=Me, tags=["parties"], responses=_errors(401, 403, 422))
    async def me(party_id: Party) -> Me:
        """The calling party."""
        record = await run_in_threadpool(store.party, party_id)
        assert record is not None
        return Me(party=record.id, name=record.name, language=record.language)

    # -- ingest ----------------------------------------------------------------------------

    async def accept(party_id: str, body: object) -> Accepted:
        accepted, duplicates = await live.ingest(party_id, body)
        return Accepted(accepted=accepted, duplicates=duplicates)

    @app.post(
        "/v1/reports",
        response_model=Accepted,
        tags=["traffic"],
        responses=_errors(401, 403, 422, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ReportBatch"}}
                },
            }
        },
    )
    async def post_reports(request: Request, party_id: Party) -> Accepted:
        """Position reports of the party's own aircraft, stored durably before the reply.

        The batch is taken whole or not at all: any bad report rejects it with
        422, naming the index and field of every offending report. The body is
        checked and stored by the ingest worker (a process of its own under
        ``skysep serve``), not on the event loop.
        """
        return await accept(party_id, await request.body())

    # -- live picture ----------------------------------------------------------------------

    @app.get(
        "/v1/traffic", response_model=Traffic, tags=["traffic"], responses=_errors(401, 403, 422)
    )
    async def traffic(party_id: Party) -> Traffic:
        """Own aircraft, and other parties' aircraft within the disclosure radius of one of
        them or in a conflict with one of them, as of the last cycle."""
        return live.traffic_for(party_id)

    # -- alerts ----------------------------------------------------------------------------

    @app.get(
        "/v1/alerts",
        response_model=list[AlertOut],
        tags=["alerts"],
        responses=_errors(401, 403, 422),
    )
    async def alerts(
        party_id: Party,
        since: Annotated[str | None, Query(description="ISO-8601 UTC or epoch s.")] = None,
        until: Annotated[str | None, Query(description="ISO-8601 UTC or epoch s.")] = None,
        level: Literal["warning", "caution", "advisory"] | None = None,
        event: Literal["new", "level", "resolved"] | None = None,
        aircraft: Annotated[str | None, Query(description="One of the party's aircraft.")] = None,
        after_id: Annotated[int | None, Query(ge=0, description="Only ids above this.")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[AlertOut]:
        """Alert events about the party's aircraft, oldest first."""
        rows = await run_in_threadpool(
            lambda: store.alerts_for(
                party_id,
                since=_query_time("since", since),
                until=_query_time("until", until),
                level=level,
                event_name=event,
                aircraft=aircraft,
                after_id=after_id,
                limit=limit,
            )
        )
        return [alert_view(r, party_id) for r in rows]

    @app.get(
        "/v1/alerts/stream",
        tags=["alerts"],
        responses={
            200: {
                "description": "Server-Sent Events: `event: alert`, `id`: the alert id, `data`: "
                "an AlertOut. Send `Last-Event-ID` to get what was missed first.",
                "content": {"text/event-stream": {}},
            },
            **_errors(401, 403, 422),
        },
    )
    async def alert_stream(request: Request, party_id: Party) -> EventSourceResponse:
        """Alerts as Server-Sent Events, resuming after ``Last-Event-ID``."""
        last_id = request.headers.get("last-event-id")
        sub = live.hub.subscribe(party_id)

        async def events() -> AsyncIterator[ServerSentEvent]:
            try:
                sent = -1
                if last_id is not None and last_id.isdigit():
                    sent = int(last_id)
                    missed = await run_in_threadpool(
                        lambda: store.alerts_for(party_id, after_id=sent, limit=10_000)
                    )
                    for row in missed:
                        sent = max(sent, int(row["id"]))
                        view = alert_view(row, party_id)
                        yield ServerSentEvent(
                            view.model_dump_json(), event="alert", id=str(view.id)
                        )
                while True:
                    message = await sub.queue.get()
                    if message is None:
                        return
                    if message.get("type") != "alert" or message["alert"]["id"] <= sent:
                        continue
                    alert = message["alert"]
                    yield ServerSentEvent(json.dumps(alert), event="alert", id=str(alert["id"]))
            finally:
                live.hub.unsubscribe(sub)

        return EventSourceResponse(events(), ping=15)

    # -- incidents -------------------------------------------------------------------------

    @app.get(
        "/v1/incidents",
        response_model=list[IncidentOut],
        tags=["incidents"],
        responses=_errors(401, 403, 422),
    )
    async def incidents(
        party_id: Party,
        since: Annotated[str | None, Query(description="ISO-8601 UTC or epoch s.")] = None,
        until: Annotated[str | None, Query(description="ISO-8601 UTC or epoch s.")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[IncidentOut]:
        """Losses of separation that involved one of the party's aircraft."""
        rows = await run_in_threadpool(
            lambda: store.incidents_for(
                party_id,
                since=_query_time("since", since),
                until=_query_time("until", until),
                limit=limit,
            )
        )
        return [incident_view(r) for r in rows]

    async def own_incident(incident_id: int, party_id: str) -> dict[str, Any]:
        row = await run_in_threadpool(store.incident, incident_id)
        if row is None or party_id not in (row["party_a"], row["party_b"]):
            raise ServiceError(f"no incident {incident_id} for party {party_id!r}", 404)
        return row

    @app.get(
        "/v1/incidents/{incident_id}",
        response_model=IncidentOut,
        tags=["incidents"],
        responses=_errors(401, 403, 404, 422),
    )
    async def incident(incident_id: int, party_id: Party) -> IncidentOut:
        """One incident of the party's."""
        return incident_view(await own_incident(incident_id, party_id))

    @app.get(
        "/v1/incidents/{incident_id}/tracks",
        response_model=IncidentTracks,
        tags=["incidents"],
        responses=_errors(401, 403, 404, 422),
    )
    async def incident_tracks(incident_id: int, party_id: Party) -> IncidentTracks:
        """Both aircraft's reports from 2 min before the incident to 1 min after its end
        (empty until that minute has passed: see the incident's status)."""
        row = await own_incident(incident_id, party_id)
        points = await run_in_threadpool(store.incident_tracks, incident_id)
        return IncidentTracks(
            incident=incident_view(row),
            tracks=[
                TrackPoint(
                    party=p["party_id"],
                    aircraft=p["aircraft"],
                    time=iso(p["time"]),
                    lat=p["lat_deg"],
                    lon=p["lon_deg"],
                    alt_ft=float(units.m_to_ft(p["alt_m"])),
                    gs_kt=None if p["gs_mps"] is None else float(units.mps_to_kt(p["gs_mps"])),
                    track_deg=p["track_deg"],
                    vs_fpm=None if p["vs_mps"] is None else float(units.mps_to_fpm(p["vs_mps"])),
                )
                for p in points
            ],
        )

    # -- WebSocket -------------------------------------------------------------------------

    @app.websocket("/v1/ws")
    async def ws(websocket: WebSocket) -> None:
        """Alerts (and, with ``?traffic=true``, the disclosed traffic every cycle) pushed to the
        party; report batches sent as ``{"type": "reports", "seq": n, "reports": [...]}`` are
        answered ``{"type": "ack", "seq": n, "accepted": k}`` once durable, or
        ``{"type": "error", "seq": n, "error": {...}}``. A bad token closes with 4401."""
        header = websocket.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        token = token or websocket.query_params.get("token")
        try:
            who = await authenticate(store, token)
        except ServiceError as exc:
            await websocket.close(code=4401 if exc.status == 401 else 4403, reason=str(exc))
            return
        if who.party_id is None:
            await websocket.close(code=4403, reason="party data needs a party's token")
            return
        party_id = who.party_id
        await websocket.accept()
        wants_traffic = websocket.query_params.get("traffic", "").lower() in ("1", "true", "yes")
        sub = live.hub.subscribe(party_id, traffic=wants_traffic)
        log.info("websocket open", extra={"party": party_id, "traffic": wants_traffic})

        async def send() -> None:
            while True:
                message = await sub.queue.get()
                if message is None:
                    reason = "too far behind" if sub.overflowed else "service stopping"
                    await websocket.close(code=1013 if sub.overflowed else 1001, reason=reason)
                    return
                await websocket.send_json(message)

        async def receive() -> None:
            while True:
                text = await websocket.receive_text()
                await sub.queue.put(await _ws_message(text))

        async def _ws_message(text: str) -> dict[str, Any]:
            seq: Any = None
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise ServiceError("a message must be a JSON object", 422)
                seq = data.get("seq")
                kind = data.get("type")
                if kind == "subscribe":
                    sub.traffic = bool(data.get("traffic", False))
                    return {"type": "subscribed", "seq": seq, "traffic": sub.traffic}
                if kind != "reports":
                    raise ServiceError(
                        f"message type {kind!r} is not valid, must be one of reports, subscribe",
                        422,
                    )
                accepted = await accept(party_id, data.get("reports"))
                return {"type": "ack", "seq": seq, **accepted.model_dump()}
            except json.JSONDecodeError as exc:
                return _ws_error(seq, 422, f"not JSON: {exc}", [])
            except ServiceError as exc:
                return _ws_error(seq, exc.status, str(exc), getattr(exc, "problems", []))

        tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = task.exception()
                if failure is not None and not isinstance(failure, WebSocketDisconnect):
                    log.warning(
                        "websocket error", extra={"party": party_id, "error": repr(failure)}
                    )
        finally:
            for task in tasks:
                task.cancel()
            live.hub.unsubscribe(sub)
            log.info("websocket closed", extra={"party": party_id})

    # -- administration --------------------------------------------------------------------

    @app.get(
        "/v1/admin/parties",
        response_model=list[PartyOut],
        tags=["admin"],
        responses=_errors(401, 403, 422),
    )
    async def list_parties(_: Admin) -> list[PartyOut]:
        """Every party."""
        records = await run_in_threadpool(store.parties)
        return [
            PartyOut(id=p.id, name=p.name, language=p.language, created_at=iso(p.created_at))
            for p in records
        ]

    @app.post(
        "/v1/admin/parties",
        response_model=TokenOut,
        status_code=201,
        tags=["admin"],
        responses=_errors(401, 403, 409, 422),
    )
    async def add_party(body: PartyIn, _: Admin) -> TokenOut:
        """Create a party; the reply holds its first token, shown this once."""
        token = await run_in_threadpool(store.add_party, body.id, body.name, body.language, clock())
        tokens = await run_in_threadpool(store.tokens, body.id)
        return TokenOut(token_id=tokens[-1].id, party=body.id, token=token)

    @app.get(
        "/v1/admin/parties/{party_id}/tokens",
        response_model=list[TokenInfo],
        tags=["admin"],
        responses=_errors(401, 403, 404, 422),
    )
    async def list_tokens(party_id: str, _: Admin) -> list[TokenInfo]:
        """A party's tokens (ids and dates; the tokens themselves are not kept)."""
        if await run_in_threadpool(store.party, party_id) is None:
            raise ServiceError(f"no party {party_id!r}", 404)
        records = await run_in_threadpool(store.tokens, party_id)
        return [
            TokenInfo(
                id=t.id,
                party=t.party_id,
                role=t.role,
                created_at=iso(t.created_at),
                revoked_at=iso(t.revoked_at),
            )
            for t in records
        ]

    @app.post(
        "/v1/admin/parties/{party_id}/tokens",
        response_model=TokenOut,
        status_code=201,
        tags=["admin"],
        responses=_errors(401, 403, 404, 422),
    )
    async def issue_token(
        party_id: str,
        _: Admin,
        rotate: Annotated[bool, Query(description="Revoke the party's other tokens.")] = False,
    ) -> TokenOut:
        """A new token for a party (``rotate=true``: and revoke its others)."""
        if await run_in_threadpool(store.party, party_id) is None:
            raise ServiceError(f"no party {party_id!r}", 404)
        token_id, token = await run_in_threadpool(
            lambda: store.issue_token(party_id, clock(), revoke_others=rotate)
        )
        return TokenOut(token_id=token_id, party=party_id, token=token)

    @app.delete(
        "/v1/admin/tokens/{token_id}",
        status_code=204,
        tags=["admin"],
        responses=_errors(401, 403, 404, 422),
    )
    async def revoke_token(token_id: int, _: Admin) -> None:
        """Revoke a token at once."""
        if not await run_in_threadpool(store.revoke_token, token_id, clock()):
            raise ServiceError(f"no live token {token_id}", 404)

    # -- the dashboard: static files; its data comes through the API above, as any client's --
    from pathlib import Path

    from starlette.staticfiles import StaticFiles

    dashboard = Path(__file__).parent / "static" / "dashboard"
    app.mount("/dashboard", StaticFiles(directory=dashboard, html=True), name="dashboard")

    return app


def _document_report_batch(app: FastAPI) -> None:
    """``POST /v1/reports`` reads its body itself (the ingest worker checks it): its
    schema, ``ReportBatch``, is added to the OpenAPI components by hand."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            schema = ReportBatch.model_json_schema(ref_template="#/components/schemas/{model}")
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["ReportBatch"] = schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _ws_error(seq: Any, status: int, message: str, problems: list[Problem]) -> dict[str, Any]:
    body = ErrorOut.model_validate(
        {"error": {"status": status, "message": message, "problems": problems}}
    )
    return {"type": "error", "seq": seq, **body.model_dump(mode="json")}


def _query_time(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_time(float(value) if _is_number(value) else value)
    except ValueError as exc:
        raise ServiceError(f"query parameter {name}: {exc}", 422) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


__all__ = ["MAX_FUTURE_S", "TRACK_AFTER_S", "TRACK_BEFORE_S", "create_app"]
