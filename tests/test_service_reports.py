"""``GET /v1/incidents/{id}/report``, in process: the printable incident report, made as
``skysep evidence export ID --html`` makes it (a bundle exported and verified with the
server's key), for a party of the incident only, in that party's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from harness import Clock
from test_service_hotline import LANGUAGES, T0, Service, agreement, fly

from skysep.service import TRACK_AFTER_S, create_app
from skysep.storage import Store

#: The head-on loss of separation ends at T0 + 82.5 s; its tracks are recorded a minute later.
RECORDED_AT = T0 + 82.5 + TRACK_AFTER_S + 1.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    store = Store.open(str(tmp_path / "service.sqlite3"))
    tokens = {p: store.add_party(p, p.title(), lang, T0) for p, lang in LANGUAGES.items()}
    clock = Clock(T0)
    key = Ed25519PrivateKey.generate()
    app = create_app(store, agreement(), clock=clock, run_cycles=False, key=key)
    with TestClient(app) as client:
        yield Service(client, store, clock, tokens, key)
    store.close()


@pytest.fixture
def incident(service: Service) -> int:
    fly(service, T0, RECORDED_AT)
    [row] = service.get("/v1/incidents", "north")
    return int(row["id"])


def test_own_incident_report_is_verified_html(service: Service, incident: int) -> None:
    response = service.client.get(
        f"/v1/incidents/{incident}/report", headers=service.headers("north")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-skysep-verified"] == "true"
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    assert f"incident {incident}" in page
    assert "<strong>Verified.</strong>" in page
    assert "N1" in page
    assert "S1" in page
    assert "<html lang='en'>" in page
    assert "data:image/png;base64," in page  # the plots


def test_the_other_party_of_the_incident_gets_it_in_its_language(
    service: Service, incident: int
) -> None:
    response = service.client.get(
        f"/v1/incidents/{incident}/report", headers=service.headers("south")
    )
    assert response.status_code == 200, response.text
    assert "<html lang='ru'>" in response.text
    assert "<strong>Verified.</strong>" in response.text


def test_a_third_party_and_unknown_ids_get_404(service: Service, incident: int) -> None:
    for who, incident_id in (("east", incident), ("north", incident + 100)):
        response = service.client.get(
            f"/v1/incidents/{incident_id}/report", headers=service.headers(who)
        )
        assert response.status_code == 404, (who, response.text)
        body = response.json()
        assert body["error"]["status"] == 404
        assert "N1" not in response.text
    assert service.client.get(f"/v1/incidents/{incident}/report").status_code == 401


def test_openapi_documents_the_report_route(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/incidents/{incident_id}/report"]["get"]
    assert "text/html" in operation["responses"]["200"]["content"]
    for code in ("401", "403", "404", "409", "422"):
        schema = operation["responses"][code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}, code
