"""The printable incident report over the API: ``GET /v1/incidents/{id}/report``.

The same code as ``skysep evidence export ID --html``: the incident's evidence bundle is
exported to a temporary folder with the server's key (the one that signs the record's
heads), verified against that key's fingerprint, and rendered as one self-contained HTML
page, the messages in the calling party's language. Only a party involved in the incident
gets it; for any other it does not exist (404).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from skysep.errors import RecordError, ServiceError
from skysep.service._access import Party, error_responses
from skysep.storage import Store

__all__ = ["incident_report_html", "router"]


_ERRORS: Final = {
    401: "No token, or an unknown or revoked one.",
    403: "An admin token: the report needs a party's token.",
    404: "No such incident for this party (another party's is never shown).",
    409: "The record does not cover the incident yet (no signed head after its last "
    "entry: try again after a cycle), or holds no entry of it.",
    422: "Invalid parameters.",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # The route answers HTML: its errors are JSON (ErrorOut), stated as such.
    return error_responses(_ERRORS, *statuses, json_content=True)


def incident_report_html(
    store: Store, incident_id: int, key: Ed25519PrivateKey, language: str
) -> tuple[str, bool]:
    """Incident ``incident_id``'s printable report (HTML) and whether its bundle verified
    against ``key``'s fingerprint. Blocking: run it in a thread."""
    from skysep.record import key_fingerprint
    from skysep.record.export import export_incident
    from skysep.record.report import write_incident_report

    with tempfile.TemporaryDirectory(prefix="skysep-report-") as folder:
        bundle = Path(folder) / f"incident-{incident_id}.zip"
        page = Path(folder) / f"incident-{incident_id}.html"
        export_incident(store, incident_id, bundle, key)
        result = write_incident_report(
            bundle, page, language=language, fingerprint=key_fingerprint(key)
        )
        return page.read_text(encoding="utf-8"), result.ok


router = APIRouter(tags=["incidents"])


@router.get(
    "/v1/incidents/{incident_id}/report",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The printable incident report (self-contained HTML): the "
            "incident, both tracks and their separation, the alerts, the messages in the "
            "party's language, and the result of verifying the evidence bundle it was made "
            "from (header `X-SkySep-Verified`: `true` or `false`).",
            "content": {"text/html": {}},
        },
        **_errors(401, 403, 404, 409, 422),
    },
)
async def incident_report(incident_id: int, party: Party, request: Request) -> HTMLResponse:
    """The printable report of one of the party's incidents, as ``skysep evidence export
    ID --html`` writes it: its evidence bundle is exported and verified with the server's
    key first."""
    store: Store = request.app.state.store
    row = await run_in_threadpool(store.incident, incident_id)
    if row is None or party not in (row["party_a"], row["party_b"]):
        raise ServiceError(f"no incident {incident_id} for party {party!r}", 404)
    record = await run_in_threadpool(store.party, party)
    language = record.language if record is not None else "en"
    key: Ed25519PrivateKey = request.app.state.hotline.key
    try:
        page, ok = await run_in_threadpool(incident_report_html, store, incident_id, key, language)
    except RecordError as exc:
        raise ServiceError(str(exc), 409) from None
    return HTMLResponse(
        page,
        headers={
            "X-SkySep-Verified": "true" if ok else "false",
            "Content-Disposition": f'inline; filename="incident-{incident_id}.html"',
            "Cache-Control": "no-store",
        },
    )
