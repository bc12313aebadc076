"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

``skysep serve`` runs as a separate process on SQLite; North and South feed it
over HTTP, each with its own token, every second (the wall clock is the
clock). North's N1 and South's S1 fly head-on 12 NM apart at 250 kt each: an
alert at once (caution), a warning about 5 s later, a loss of separation
after about 65 s. North's N2 and South's S9 fly far from everything: North's
page must never show S9 and South's never N2. The pages are opened as each
party would: North by its URL with the token in the fragment, South through
the sign-in form.

Chromium comes from Debian (``apt-get install chromium``), never from a
browser download. Without it (or without the ``playwright`` package) these
tests are skipped, unless ``SKYSEP_REQUIRE_BROWSER=1`` (set by ``make test``):
then they fail, saying what is missing. Screenshots go to ``out/artifacts/``.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from skysep.storage import Store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "out" / "artifacts"
NM_M = 1852.0
LAT0 = 43.0
LON0 = 34.0
SPEED_KT = 250.0
GAP0_NM = 12.0
TIMEOUT_MS = 45_000


def _chromium() -> str | None:
    given = os.environ.get("SKYSEP_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def _unavailable(reason: str) -> None:
    if os.environ.get("SKYSEP_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"browser tests required (SKYSEP_REQUIRE_BROWSER=1) but {reason}; "
            "`make test` installs both (apt-get install chromium; pip install playwright)",
            pytrace=False,
        )
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the traffic: positions as functions of time ---------------------------------------------


def offset(lat: float, lon: float, east_nm: float, north_nm: float) -> tuple[float, float]:
    """A point ``east_nm`` east and ``north_nm`` north of another (flat Earth: a few NM)."""
    dlat = north_nm / 60.0
    dlon = east_nm / (60.0 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


@dataclass(frozen=True)
class Flight:
    party: str
    aircraft: str
    lat: float
    lon: float
    track_deg: float
    alt_ft: float

    def report(self, elapsed_s: float, now: float) -> dict[str, Any]:
        run_nm = SPEED_KT * elapsed_s / 3600.0
        east = run_nm * math.sin(math.radians(self.track_deg))
        north = run_nm * math.cos(math.radians(self.track_deg))
        lat, lon = offset(self.lat, self.lon, east, north)
        return {
            "time": now,
            "aircraft": self.aircraft,
            "lat": lat,
            "lon": lon,
            "alt_ft": self.alt_ft,
            "gs_kt": SPEED_KT,
            "track_deg": self.track_deg,
            "vs_fpm": 0.0,
        }


_W = offset(LAT0, LON0, -GAP0_NM / 2, 0.0)
_E = offset(LAT0, LON0, GAP0_NM / 2, 0.0)
FLIGHTS = (
    Flight("north", "N1", _W[0], _W[1], 90.0, 30_000.0),  # head-on with S1
    Flight("south", "S1", _E[0], _E[1], 270.0, 30_000.0),
    Flight("north", "N2", *offset(LAT0, LON0, 0.0, 150.0), 0.0, 25_000.0),  # far north
    Flight("south", "S9", *offset(LAT0, LON0, 0.0, -200.0), 180.0, 25_000.0),  # far south
)


@dataclass
class Service:
    url: str
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]


class Feeder(threading.Thread):
    """Each party posts its aircraft's positions every second with its own client."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        super().__init__(name="dashboard-test-feeder", daemon=True)
        self.url = url
        self.tokens = tokens
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.started_at = time.time()

    def run(self) -> None:
        clients = {
            party: httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
            )
            for party, token in self.tokens.items()
        }
        try:
            while not self.stop.is_set():
                now = time.time()
                for party, client in clients.items():
                    reports = [
                        f.report(now - self.started_at, now) for f in FLIGHTS if f.party == party
                    ]
                    response = client.post("/v1/reports", json={"reports": reports})
                    if response.status_code != 200:
                        self.failures.append(f"{party}: {response.status_code} {response.text}")
                self.stop.wait(1.0)
        except httpx.HTTPError as exc:
            self.failures.append(repr(exc))
        finally:
            for client in clients.values():
                client.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "skysep.sqlite3"
    store = Store.open(str(db))
    try:
        tokens = {
            "north": store.add_party("north", "North air operations centre", "en", time.time()),
            "south": store.add_party("south", "South air operations centre", "en", time.time()),
        }
    finally:
        store.close()
    port = free_port()
    log = (folder / "serve.log").open("wb")
    command = [sys.executable, "-c", "from skysep.cli import main; main()", "serve"]
    command += ["--db", str(db), "--preset", "rule-of-threes", "--port", str(port)]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90.0
    while True:
        if process.poll() is not None:
            log.close()
            pytest.fail(
                f"skysep serve exited {process.returncode}:\n{(folder / 'serve.log').read_text()}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("skysep serve did not answer /health within 90 s")
        time.sleep(0.2)
    feeder = Feeder(url, tokens)
    feeder.start()
    try:
        yield Service(url, tokens, process)
    finally:
        feeder.stop.set()
        feeder.join(15.0)
        process.terminate()
        try:
            process.wait(15.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5.0)
        log.close()
    assert not feeder.failures, feeder.failures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    if executable is None:
        _unavailable("Chromium is not installed (no /usr/bin/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    assert executable is not None
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield launched
        finally:
            launched.close()


#: Uncaught JavaScript errors of each page (by id): there must be none.
PAGE_ERRORS: dict[int, list[str]] = {}


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 850})
    errors = PAGE_ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page


@pytest.fixture(scope="module")
def north(browser: Browser, service: Service) -> Iterator[Page]:
    page = _open(browser, f"{service.url}/dashboard/#token={service.tokens['north']}")
    page.wait_for_selector('[data-aircraft="N1"]', timeout=TIMEOUT_MS)
    yield page
    assert PAGE_ERRORS[id(page)] == []
    page.close()


def _markers(page: Page) -> list[dict[str, str]]:
    result: list[dict[str, str]] = page.eval_on_selector_all(
        "[data-aircraft]",
        "els => els.map(e => ({aircraft: e.dataset.aircraft, party: e.dataset.party,"
        " own: e.dataset.own, lat: e.dataset.lat, lon: e.dataset.lon}))",
    )
    return result


def _traffic_ids(page: Page) -> list[str]:
    ids: list[str] = page.evaluate(
        "window.skysepDashboard.traffic.map(s => s.party + '/' + s.aircraft)"
    )
    return ids


def test_north_signs_in_by_url_and_the_token_leaves_the_address(north: Page) -> None:
    assert "token" not in north.url
    assert north.text_content("#party") == "North air operations centre (north)"
    north.wait_for_selector("#status.live", timeout=TIMEOUT_MS)
    assert north.evaluate("sessionStorage.getItem('skysep.token')").startswith("sks_")


def test_own_aircraft_move(north: Page) -> None:
    before = {m["aircraft"]: m for m in _markers(north)}
    assert before["N1"]["own"] == "true"
    assert before["N1"]["party"] == "north"
    lon0 = float(before["N1"]["lon"])
    north.wait_for_function(
        f"() => parseFloat(document.querySelector('[data-aircraft=\"N1\"]').dataset.lon) > {lon0}",
        timeout=TIMEOUT_MS,
    )
    after = {m["aircraft"]: m for m in _markers(north)}
    assert float(after["N1"]["lon"]) > lon0  # eastbound
    assert float(after["N1"]["lat"]) == pytest.approx(float(before["N1"]["lat"]), abs=1e-4)
    label = north.text_content(".leaflet-tooltip.ac-label.own")
    assert label is not None
    assert "FL" in label
    assert "kt" in label


def test_alert_appears_with_conflict_line_and_warning_cue(north: Page) -> None:
    item = north.wait_for_selector('li.alert[data-own="N1"][data-other="S1"]', timeout=TIMEOUT_MS)
    assert item is not None
    assert "N1 and S1 (south)" in (item.text_content() or "")
    # The other party's aircraft in the conflict is disclosed, in the other colour.
    north.wait_for_selector('[data-aircraft="S1"][data-own="false"]', timeout=TIMEOUT_MS)
    label = north.wait_for_selector(".leaflet-tooltip.conflict-label", timeout=TIMEOUT_MS)
    assert label is not None
    assert (label.text_content() or "").startswith("LoS")
    # 12 NM apart closing at 500 kt: a warning (LoS within 60 s) after about 5 s.
    north.wait_for_selector('li.alert.warning[data-own="N1"]', timeout=TIMEOUT_MS)
    north.wait_for_function("Number(document.body.dataset.warningCues || 0) >= 1")
    cue = north.text_content("#cue")
    assert cue == "New warning: N1 and S1"
    assert north.is_visible("#cue")
    assert north.text_content("#alerts .alert-group.warning h3") == "Warning (1)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    north.screenshot(path=str(ARTIFACTS / "dashboard-north.png"))


def test_north_never_sees_souths_distant_aircraft(north: Page) -> None:
    for _ in range(6):
        markers = _markers(north)
        assert {m["aircraft"] for m in markers if m["own"] == "true"} == {"N1", "N2"}
        assert "S9" not in {m["aircraft"] for m in markers}
        assert "south/S9" not in _traffic_ids(north)
        assert "S9" not in (north.text_content("body") or "")
        north.wait_for_timeout(1000)


def test_hotline_acknowledge(north: Page, service: Service) -> None:
    threads = httpx.get(
        f"{service.url}/v1/threads",
        headers={"Authorization": f"Bearer {service.tokens['north']}"},
    )
    if threads.status_code == 404:
        pytest.skip("this service has no hotline endpoints (/v1/threads)")
    button = north.wait_for_selector(
        '#hotline li.message[data-kind="traffic_alert"] button.ack', timeout=TIMEOUT_MS
    )
    assert button is not None
    message = button.evaluate("b => b.closest('li.message').dataset.messageId")
    thread = button.evaluate("b => b.closest('section.thread').dataset.threadId")
    button.click()
    north.wait_for_selector(
        f'#hotline li.message[data-message-id="{message}"] .acked', timeout=TIMEOUT_MS
    )
    detail = httpx.get(
        f"{service.url}/v1/threads/{thread}",
        headers={"Authorization": f"Bearer {service.tokens['north']}"},
    ).json()
    acked = next(m for m in detail["messages"] if str(m["id"]) == message)
    assert "north" in [a["party"] for a in acked["acks"]]
    assert "north" not in acked["awaiting"]


def test_language_switch(north: Page) -> None:
    north.select_option("#language", "fr")
    assert north.text_content("#alerts h2") == "Alertes"
    assert north.text_content("#logout") == "Se déconnecter"
    assert "Nos aéronefs" in (north.text_content(".legend") or "")
    north.select_option("#language", "ru")
    assert north.text_content("#alerts h2") == "Предупреждения"
    assert north.text_content("#incidents h2") == "Инциденты"
    assert north.evaluate("document.documentElement.lang") == "ru"
    north.wait_for_selector(".leaflet-tooltip.ac-label.own:has-text('ЭШ')", timeout=TIMEOUT_MS)
    # The choice is kept for the next visit.
    north.reload()
    north.wait_for_selector("#alerts h2:has-text('Предупреждения')", timeout=TIMEOUT_MS)
    north.select_option("#language", "en")
    assert north.text_content("#alerts h2") == "Alerts"


def test_south_signs_in_with_the_form(browser: Browser, service: Service) -> None:
    page = _open(browser, f"{service.url}/dashboard/")
    try:
        page.wait_for_selector("#login-form", timeout=TIMEOUT_MS)
        page.fill("#login-token", "sks_not_a_token")
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#login-error:has-text('refused')", timeout=TIMEOUT_MS)
        page.fill("#login-token", service.tokens["south"])
        page.click("#login-form button[type=submit]")
        page.wait_for_selector('[data-aircraft="S9"][data-own="true"]', timeout=TIMEOUT_MS)
        page.wait_for_selector('[data-aircraft="N1"][data-own="false"]', timeout=TIMEOUT_MS)
        page.wait_for_selector('li.alert[data-own="S1"][data-other="N1"]', timeout=TIMEOUT_MS)
        for _ in range(3):
            assert "N2" not in {m["aircraft"] for m in _markers(page)}
            assert "north/N2" not in _traffic_ids(page)
            page.wait_for_timeout(1000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-south.png"))
        assert PAGE_ERRORS[id(page)] == []
    finally:
        page.close()


def test_incident_listed_after_the_loss_of_separation(north: Page) -> None:
    # LoS about 65 s after the feed starts: the incident appears in the list.
    row = north.wait_for_selector('li.incident:has-text("N1")', timeout=90_000)
    assert row is not None
    text = row.text_content() or ""
    assert "S1" in text
    assert north.is_visible('li.incident button:has-text("Show tracks")')


# -- the operations layer and the incident reports ----------------------------------------------

#: North's survey box, 40 NM east of the encounter, below every aircraft (no volume alert).
OPS_LAT = LAT0
OPS_LON = LON0 + 40.0 / (60.0 * math.cos(math.radians(LAT0)))


def _box(west_nm: float, east_nm: float, south_nm: float, north_nm: float) -> list[list[float]]:
    corners = [(west_nm, south_nm), (east_nm, south_nm), (east_nm, north_nm), (west_nm, north_nm)]
    ring = [list(reversed(offset(OPS_LAT, OPS_LON, e, n))) for e, n in corners]  # [lon, lat]
    return [*ring, ring[0]]


def _operation(operation_id: str, ring: list[list[float]], *, circle: bool = False) -> Any:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
    band = {"lower_ft": 0, "upper_ft": 3000, "start": start, "end": end}
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": "box",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": band,
        }
    ]
    if circle:
        lat, lon = offset(OPS_LAT, OPS_LON, 0.0, -20.0)
        features.append(
            {
                "type": "Feature",
                "id": "pad",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {**band, "radius_nm": 2.0},
            }
        )
    return {
        "type": "FeatureCollection",
        "operation": {"id": operation_id, "name": operation_id.title()},
        "features": features,
    }


def _api(service: Service, party: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.url,
        headers={"Authorization": f"Bearer {service.tokens[party]}"},
        timeout=60.0,
    )


NORTH_BOX = _box(-5.0, 5.0, -5.0, 5.0)
#: South's box overlaps north's east half, and reaches 10 NM further east and north.
SOUTH_BOX = _box(0.0, 15.0, -3.0, 15.0)


def _coordinates(geometry: Any) -> list[tuple[float, float]]:
    if isinstance(geometry, dict):
        if "coordinates" in geometry:
            return _coordinates(geometry["coordinates"])
        return [c for value in geometry.values() for c in _coordinates(value)]
    if isinstance(geometry, list):
        if len(geometry) == 2 and all(isinstance(v, int | float) for v in geometry):
            return [(float(geometry[0]), float(geometry[1]))]
        return [c for item in geometry for c in _coordinates(item)]
    return []


def test_operations_layer_shows_own_volumes_and_only_the_overlap(
    north: Page, service: Service
) -> None:
    with _api(service, "north") as api:
        filed = api.post("/v1/operations", json=_operation("survey", NORTH_BOX, circle=True))
        assert filed.status_code == 201, filed.text
        active = api.post("/v1/operations/survey/state", json={"state": "active"})
        assert active.status_code == 200, active.text
    with _api(service, "south") as api:
        filed = api.post("/v1/operations", json=_operation("southern-drill", SOUTH_BOX))
        assert filed.status_code == 201, filed.text
        assert filed.json()["notices"], "the overlap is notified to south"
    # The notice reaches north's page over the WebSocket; its operation is fetched then.
    north.wait_for_selector("path.op-overlap", timeout=TIMEOUT_MS)
    north.wait_for_selector('path.op-volume.active[data-volume="box"]', timeout=TIMEOUT_MS)
    north.wait_for_selector('path.op-volume.active[data-volume="pad"]', timeout=TIMEOUT_MS)
    drawn = north.evaluate("window.skysepDashboard.map.drawn")
    assert {(v["operation"], v["volume"], v["state"]) for v in drawn["volumes"]} == {
        ("survey", "box", "active"),
        ("survey", "pad", "active"),
    }
    [overlap] = drawn["overlaps"]
    # Only the overlap: inside north's box, never south's corners beyond it.
    lons = [p[0] for p in NORTH_BOX]
    lats = [p[1] for p in NORTH_BOX]
    points = _coordinates(overlap["region"])
    assert points
    for lon, lat in points:
        assert min(lons) - 1e-6 <= lon <= max(lons) + 1e-6
        assert min(lats) - 1e-6 <= lat <= max(lats) + 1e-6
    south_only = [p for p in SOUTH_BOX if not (p[0] <= max(lons) and p[1] <= max(lats))]
    assert south_only
    every = _coordinates(drawn)
    for corner in south_only:
        assert all(
            abs(corner[0] - lon) > 1e-6 or abs(corner[1] - lat) > 1e-6 for lon, lat in every
        ), corner
    # The DOM: north's two volumes and one overlap, nothing named after south's operation.
    assert north.locator("path.op-volume").count() == 2
    assert north.locator("path.op-overlap").count() == 1
    html = north.content()
    assert "southern-drill" not in html
    assert "Southern-Drill" not in html
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    north.screenshot(path=str(ARTIFACTS / "dashboard-north-operations.png"))
    # The layer toggle hides and shows it.
    north.uncheck("#ops-toggle")
    assert north.locator("path.op-volume").count() == 0
    north.check("#ops-toggle")
    north.wait_for_selector("path.op-overlap", timeout=TIMEOUT_MS)
    # South cancels: the notice is withdrawn and the overlap leaves north's map.
    with _api(service, "south") as api:
        cancelled = api.post("/v1/operations/southern-drill/state", json={"state": "cancelled"})
        assert cancelled.status_code == 200, cancelled.text
    north.wait_for_selector("path.op-overlap", state="detached", timeout=TIMEOUT_MS)
    assert north.locator("path.op-volume").count() == 2


def test_incident_report_link_opens_the_report(north: Page, service: Service) -> None:
    row = north.wait_for_selector('li.incident:has-text("N1")', timeout=90_000)
    assert row is not None
    incident_id = row.get_attribute("data-incident-id")
    # The report needs a signed head after the incident's entries: at most a cycle or two.
    with _api(service, "north") as api:
        deadline = time.monotonic() + 60.0
        while True:
            response = api.get(f"/v1/incidents/{incident_id}/report")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert response.status_code == 200, response.text
    with north.expect_popup(timeout=TIMEOUT_MS) as popup_info:
        north.click(f'li.incident[data-incident-id="{incident_id}"] a.incident-report')
    report = popup_info.value
    try:
        report.wait_for_url(lambda url: url.startswith("blob:"), timeout=TIMEOUT_MS)
        report.wait_for_selector("h1", timeout=TIMEOUT_MS)
        title = report.text_content("h1") or ""
        assert f"incident {incident_id}" in title
        text = report.text_content("body") or ""
        assert "N1" in text
        assert "S1" in text
        assert "Verified." in text
    finally:
        report.close()
