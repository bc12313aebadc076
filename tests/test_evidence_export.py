"""``skysep evidence export`` and ``report`` over a service that saw an incident: the bundle
verifies offline; a tampered chain entry fails, naming that entry; the printable report."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from harness import Clock
from test_service_hotline import LANGUAGES, T0, Service, agreement, fly
from typer.testing import CliRunner

from skysep.cli import app
from skysep.errors import HotlineError, RecordError
from skysep.record import (
    key_fingerprint,
    load_or_create_key,
    read_bundle,
    verify_bundle,
)
from skysep.record.export import export_incident
from skysep.record.report import write_incident_report
from skysep.service import TRACK_AFTER_S, create_app
from skysep.storage import Store

#: The head-on encounter's loss of separation ends at T0 + 82.5 s; its tracks are recorded
#: a minute later.
RECORDED_AT = T0 + 82.5 + TRACK_AFTER_S + 1.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    db = tmp_path / "service.sqlite3"
    store = Store.open(str(db))
    tokens = {p: store.add_party(p, p.title(), lang, T0) for p, lang in LANGUAGES.items()}
    clock = Clock(T0)
    key = load_or_create_key(tmp_path / "skysep-key.pem")  # where `serve` puts it by default
    app_ = create_app(store, agreement(), clock=clock, run_cycles=False, key=key)
    with TestClient(app_) as client:
        yield Service(client, store, clock, tokens, key)
    store.close()


@pytest.fixture
def incident(service: Service) -> int:
    """An incident, with a request and its acknowledgement on the pair's thread."""
    fly(service, T0, T0 + 30.0)
    [thread] = service.get("/v1/threads", "north")
    climb = {"kind": "request", "aircraft": "S1", "action": "climb", "flight_level": 350}
    sent = service.send(thread["id"], "north", climb)
    assert sent.status_code == 201
    acked = service.post(f"/v1/threads/{thread['id']}/messages/{sent.json()['id']}/ack", "south")
    assert acked.status_code == 201
    # A third party's exchange in between: redacted in the bundle.
    other = service.post("/v1/threads", "east", {"party": "north", "subject": "Exercise"}).json()
    service.send(other["id"], "east", {"kind": "free_text", "text": "private"})
    fly(service, T0 + 31.0, RECORDED_AT)
    [row] = service.get("/v1/incidents", "north")
    assert row["status"] == "recorded"
    return int(row["id"])


def export(service: Service, incident_id: int, out: Path, *extra: str) -> str:
    db = service.store.engine.url.database
    result = CliRunner().invoke(
        app, ["evidence", "export", str(incident_id), "--db", str(db), "--out", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def rewrite(src: Path, dst: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    """A copy of the bundle with chain.jsonl's lines edited (everything else unchanged)."""
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    lines = members["chain.jsonl"].decode().splitlines()
    members["chain.jsonl"] = ("\n".join(edit(lines)) + "\n").encode()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def test_export_verifies_offline(service: Service, incident: int, tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    output = export(service, incident, out)
    assert "OK:" in output
    assert key_fingerprint(service.key) in output
    result = verify_bundle(out, fingerprint=key_fingerprint(service.key))
    assert result.ok, result.summary()
    bundle = read_bundle(out)
    assert bundle.incident["id"] == incident
    assert bundle.incident["status"] == "closed"
    # Both aircraft's track segments, from the start to a minute after the end.
    lines = bundle.tracks_csv.splitlines()
    assert lines[0] == "time,aircraft,party,lat,lon,alt_m,gs_mps,track_deg,vs_mps"
    assert {line.split(",")[1] for line in lines[1:]} == {"N1", "S1"}
    assert len(lines) - 1 == 2 * 143
    # The pair's alerts (caution, warning, resolved) and messages (the caution's traffic
    # alert, the request, its acknowledgement, the warning's traffic alert, and the
    # escalation of the caution's, unanswered after 120 s); the third party's exchange is
    # redacted.
    assert [a["payload"]["level"] for a in bundle.alerts] == ["caution", "warning", "warning"]
    kinds = [(m["kind"], m["payload"]["kind"]) for m in bundle.messages]
    assert kinds == [
        ("message", "traffic_alert"),
        ("message", "request"),
        ("ack", "acknowledge"),
        ("message", "traffic_alert"),
        ("escalation", "escalation"),
    ]
    redacted = [e for e in bundle.entries if e.redacted]
    assert [e.parties for e in redacted] == [("east", "north")]
    assert all(r.party in ("north", "south") for r in bundle.receipts)
    assert {r.party for r in bundle.receipts} == {"north", "south"}
    assert bundle.heads[-1].seq == bundle.entries[-1].seq
    assert bundle.entries[0].kind == "alert"  # the run starts at the pair's first alert


def test_a_tampered_chain_entry_fails_naming_it(
    service: Service, incident: int, tmp_path: Path
) -> None:
    out = tmp_path / "bundle.zip"
    export_incident(service.store, incident, out, service.key)
    entries = read_bundle(out).entries
    target = next(i for i, e in enumerate(entries) if e.kind == "ack")

    def edit(lines: list[str]) -> list[str]:
        data = json.loads(lines[target])
        data["payload"]["sender"] = "east"
        return [*lines[:target], json.dumps(data, ensure_ascii=False), *lines[target + 1 :]]

    bad = rewrite(out, tmp_path / "bad.zip", edit)
    result = verify_bundle(bad)
    assert result.failure is not None
    assert result.failure.seq == entries[target].seq
    assert result.failure.reason == "payload_mismatch"
    assert result.failure.file == "chain.jsonl"
    dropped = rewrite(out, tmp_path / "dropped.zip", lambda ls: ls[:target] + ls[target + 1 :])
    failure = verify_bundle(dropped).failure
    assert failure is not None
    assert (failure.reason, failure.seq) == ("missing", entries[target].seq)
    verified = CliRunner().invoke(app, ["evidence", "verify", str(bad)])
    assert verified.exit_code == 1
    assert f"entry {entries[target].seq}" in verified.output


def test_the_incident_report(service: Service, incident: int, tmp_path: Path) -> None:
    out = tmp_path / "bundle.zip"
    html = tmp_path / "report.html"
    export(service, incident, out, "--html", str(html), "--language", "ru")
    page = html.read_text(encoding="utf-8")
    assert "<img alt='plan view and separation of the incident' src='data:image/png;base64," in page
    assert "Просьба: S1, набирайте эшелон 350." in page
    assert "Трафик, ВНИМАНИЕ" in page
    assert "Verified." in page
    assert "http://" not in page
    assert "https://" not in page  # offline: nothing fetched
    bad = rewrite(out, tmp_path / "bad.zip", lambda ls: [ls[1], ls[0], *ls[2:]])
    result = CliRunner().invoke(
        app, ["evidence", "report", str(bad), "--out", str(tmp_path / "bad.html")]
    )
    assert result.exit_code == 1
    bad_page = (tmp_path / "bad.html").read_text(encoding="utf-8")
    assert "NOT VERIFIED" in bad_page
    assert "reordered" in bad_page
    assert "Request: S1, climb to FL350." in bad_page  # English by default
    with pytest.raises(HotlineError, match="language 'de' is not a valid option"):
        write_incident_report(out, tmp_path / "x.html", language="de")


def test_export_refuses_an_unknown_incident_or_a_missing_key(
    service: Service, incident: int, tmp_path: Path
) -> None:
    with pytest.raises(RecordError, match="no incident 999"):
        export_incident(service.store, 999, tmp_path / "x.zip", service.key)
    db = service.store.engine.url.database
    missing = CliRunner().invoke(
        app,
        ["evidence", "export", str(incident), "--db", str(db), "--out", str(tmp_path / "x.zip"),
         "--key", str(tmp_path / "nope.pem")],
    )  # fmt: skip
    assert missing.exit_code == 2
    assert "no signing key" in missing.output
    assert not (tmp_path / "x.zip").exists()
    other = load_or_create_key(tmp_path / "other.pem")
    with pytest.raises(RecordError, match="would not verify"):
        export_incident(service.store, incident, tmp_path / "x.zip", other)
