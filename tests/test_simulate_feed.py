"""The feed client (``skysep simulate --to``) against a real HTTP server on a local socket.

The server is the standard library's, started on port 0 in a thread; it
checks the bearer token, records every request and answers as each test
scripts it. The lead replaces it with the SkySep service in the end-to-end
test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from skysep.cli import app
from skysep.io.tracks import read_tracks
from skysep.simulate import FeedError, Scenario, loads_scenario, simulate, simulate_tracks
from skysep.simulate.feed import (
    REPORTS_PATH,
    FeedStats,
    feed,
    iso_time,
    load_tokens,
    parse_tokens,
    report_json,
)

TOKENS = {"north": "north-secret", "south": "south-secret"}

SCENARIO = """
name = "feed test"
start = 2026-11-27T12:00:00Z
duration_s = 40
report_interval_s = 2

[area]
lat = 45.0
lon = 10.0
radius_nm = 100

[[parties]]
id = "north"

[[parties]]
id = "south"

[[aircraft]]
id = "N1"
party = "north"
pattern = "orbit"
centre = { lat = 45.2, lon = 10.1 }
radius_nm = 10
alt_ft = 25000
speed_kt = 300

[[aircraft]]
id = "S1"
party = "south"
pattern = "transit"
from = { lat = 44.5, lon = 9.5 }
to = { lat = 45.5, lon = 10.5 }
alt_ft = 12000
speed_kt = 350
to_alt_ft = 20000
vs_fpm = 1500

[[aircraft]]
id = "S2"
party = "south"
pattern = "tanker"
anchor = { lat = 44.8, lon = 10.4 }
heading_deg = 0
length_nm = 30
alt_ft = 21000
speed_kt = 280
"""


@dataclass
class Received:
    party: str
    body: dict[str, Any]


@dataclass
class Server:
    """A local HTTP server; ``script`` answers successive POSTs: ``"ok"`` (202),
    ``"drop"`` (close the connection without answering), or an HTTP status with
    the error shape of the contract."""

    script: list[Any] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.attempts += 1
            action = self.script.pop(0) if self.script else "ok"
        length = int(handler.headers.get("Content-Length", "0"))
        data = handler.rfile.read(length)
        if action == "drop":
            handler.close_connection = True
            return
        parties = {f"Bearer {token}": party for party, token in TOKENS.items()}
        party = parties.get(handler.headers.get("Authorization", ""))
        if handler.path != REPORTS_PATH:
            self.reply(handler, 404, {"error": {"status": 404, "message": "not found"}})
        elif party is None:
            self.reply(handler, 401, {"error": {"status": 401, "message": "unknown token"}})
        elif action == "ok":
            body = json.loads(data)
            with self.lock:
                self.received.append(Received(party, body))
            self.reply(handler, 202, {"accepted": len(body["reports"])})
        elif action == 422:
            problems = [
                {"index": 1, "field": "lat", "value": 95, "message": "out of range [-90, 90]"},
                {"index": 0, "field": "time", "value": "x", "message": "not a time"},
            ]
            self.reply(
                handler,
                422,
                {"error": {"status": 422, "message": "invalid reports", "problems": problems}},
            )
        else:
            self.reply(handler, int(action), {"error": {"status": action, "message": "busy"}})

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def reports(self, party: str) -> list[dict[str, Any]]:
        return [r for got in self.received if got.party == party for r in got.body["reports"]]


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return loads_scenario(SCENARIO, "feed.toml")


class FakeClock:
    """A clock that moves only when slept on: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(scenario: Scenario, server: Server, **options: Any) -> tuple[FeedStats, FakeClock]:
    clock = FakeClock()
    options = {"speed": float("inf"), "time_base": "scenario", **options}
    stats = feed(
        simulate(scenario),
        server.url,
        options.pop("tokens", TOKENS),
        parties=scenario.party_ids,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=lambda: 2_000_000_000.7,
        **options,
    )
    return stats, clock


def test_every_report_reaches_the_service_through_its_party_s_client(
    scenario: Scenario, server: Server
) -> None:
    stats, _ = run(scenario, server)
    tracks = simulate_tracks(scenario)
    expected = report_json(tracks)
    for party in ("north", "south"):
        mine = [r for r, p in zip(expected, tracks.party, strict=True) if p == party]
        assert server.reports(party) == mine
        assert stats.reports[party] == len(mine)
    assert {r["aircraft"] for r in server.reports("north")} == {"N1"}
    assert {r["aircraft"] for r in server.reports("south")} == {"S1", "S2"}
    # One request per tick and party (21 ticks; every aircraft flies all along).
    assert stats.requests == {"north": 21, "south": 21}
    assert len(server.received) == 42
    assert stats.batches == 21
    assert stats.retries == 0
    first = server.reports("south")[0]
    assert set(first) == {
        "time",
        "aircraft",
        "lat",
        "lon",
        "alt_ft",
        "gs_kt",
        "track_deg",
        "vs_fpm",
    }
    assert first["time"] == "2026-11-27T12:00:00.000Z"
    assert first["alt_ft"] == 12000.0
    assert first["gs_kt"] == pytest.approx(350.0)


def test_time_base_now_shifts_the_first_tick_to_the_whole_second_the_feed_starts(
    scenario: Scenario, server: Server
) -> None:
    stats, _ = run(scenario, server, time_base="now")
    assert stats.time_offset_s == 2_000_000_000 - scenario.start_s
    times = [r["time"] for r in server.reports("north")]
    assert times[0] == iso_time(2_000_000_000.0) == "2033-05-18T03:33:20.000Z"
    assert times[1] == "2033-05-18T03:33:22.000Z"


def test_batches_are_paced_at_the_speed(scenario: Scenario, server: Server) -> None:
    _, clock = run(scenario, server, speed=4.0)
    # 2 s ticks at 4 scenario seconds per wall second: half a second between batches.
    assert clock.sleeps == pytest.approx([0.5] * 20)


def test_large_ticks_are_split_into_requests_of_at_most_the_limit(
    scenario: Scenario, server: Server
) -> None:
    stats, _ = run(scenario, server, max_reports_per_request=1)
    assert stats.requests == {"north": 21, "south": 42}
    assert all(len(got.body["reports"]) == 1 for got in server.received)


def test_a_422_stops_the_feed_with_the_service_s_problems(
    scenario: Scenario, server: Server
) -> None:
    server.script = [422]
    with pytest.raises(FeedError) as error:
        run(scenario, server)
    message = str(error.value)
    assert message.startswith("the service refused party 'north''s reports: HTTP 422: invalid")
    # North's first request holds one report (N1): index 1 is the service's own mistake.
    assert "  report 1, field 'lat': 95: out of range [-90, 90]" in message
    assert "report 0 (N1 at 2026-11-27T12:00:00.000Z), field 'time': 'x': not a time" in message
    assert server.attempts == 1  # not retried
    assert "north-secret" not in message


def test_an_unknown_token_is_refused_without_retrying(scenario: Scenario, server: Server) -> None:
    tokens = {"north": "wrong", "south": "south-secret"}
    with pytest.raises(FeedError, match="party 'north''s reports: HTTP 401: unknown token"):
        run(scenario, server, tokens=tokens)
    assert server.attempts == 1


def test_dropped_connections_and_5xx_are_retried_with_backoff(
    scenario: Scenario, server: Server
) -> None:
    server.script = ["drop", 503, "drop"]
    stats, clock = run(scenario, server, backoff_s=0.25)
    assert stats.retries == 3
    assert clock.sleeps == [0.25, 0.5, 1.0]
    assert len(server.reports("north")) + len(server.reports("south")) == len(
        simulate_tracks(scenario)
    )


def test_the_feed_gives_up_after_its_retries(scenario: Scenario, server: Server) -> None:
    server.script = [503] * 10
    with pytest.raises(FeedError) as error:
        run(scenario, server, retries=2)
    assert str(error.value) == (
        f"could not send party 'north''s reports to {server.url}{REPORTS_PATH} after 3 "
        "attempt(s): HTTP 503"
    )
    assert server.attempts == 3


def test_an_unreachable_service_is_an_error_after_the_retries(scenario: Scenario) -> None:
    closed = Server(url="http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(FeedError, match=r"after 2 attempt\(s\): ConnectError"):
        run(scenario, closed, retries=1)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ({"north": "north-secret"}, "no token for party 'south': give --token PARTY=TOKEN"),
        (
            {**TOKENS, "west": "w"},
            "a token for 'west', which the scenario does not have; its parties: north, south",
        ),
    ],
)
def test_tokens_must_match_the_scenario_s_parties(
    scenario: Scenario, server: Server, tokens: dict[str, str], message: str
) -> None:
    with pytest.raises(FeedError, match=message):
        run(scenario, server, tokens=tokens)
    assert server.attempts == 0


def test_token_options_and_files(tmp_path: Path) -> None:
    assert parse_tokens(["north=a", "south = b=c"]) == {"north": "a", "south": "b=c"}
    with pytest.raises(FeedError, match="--token must be PARTY=TOKEN"):
        parse_tokens(["north"])
    with pytest.raises(FeedError, match="party 'north' is given twice"):
        parse_tokens(["north=a", "north=b"])
    (tmp_path / "t.toml").write_text('north = "a"\nsouth = "b"\n', encoding="utf-8")
    (tmp_path / "t.json").write_text('{"north": "a", "south": "b"}', encoding="utf-8")
    assert (
        load_tokens(tmp_path / "t.toml")
        == load_tokens(tmp_path / "t.json")
        == {
            "north": "a",
            "south": "b",
        }
    )
    (tmp_path / "bad.json").write_text('{"north": 5}', encoding="utf-8")
    with pytest.raises(FeedError, match="the token of party 'north' must be a non-empty string"):
        load_tokens(tmp_path / "bad.json")
    with pytest.raises(FeedError, match=r"a tokens file is \.toml or \.json"):
        load_tokens(tmp_path / "t.txt")


# --- the command ---------------------------------------------------------------------------------


def test_skysep_simulate_feeds_the_service(tmp_path: Path, server: Server) -> None:
    path = tmp_path / "feed.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "tokens.json").write_text(json.dumps({"south": "south-secret"}), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--scenario",
            str(path),
            "--to",
            server.url,
            "--token",
            "north=north-secret",
            "--tokens",
            str(tmp_path / "tokens.json"),
            "--speed",
            "inf",
            "--duration",
            "10",
            "--time-base",
            "scenario",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fed 6 ticks" in result.output
    assert len(server.reports("north")) == 6
    assert len(server.reports("south")) == 12


def test_skysep_simulate_writes_a_track_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "tracks.csv"
    result = CliRunner().invoke(
        app, ["simulate", "--scenario", str(path), "--out", str(out), "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert f"63 reports of 3 aircraft (north, south) over 40 s, written to {out}" in result.output
    read = read_tracks(out)
    assert sorted(set(read.tracks.aircraft)) == ["N1", "S1", "S2"]
    np.testing.assert_allclose(
        read.tracks.lat_deg, simulate_tracks(loads_scenario(SCENARIO)).lat_deg
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give exactly one of --out FILE or --to URL"),
        (["--out", "a.csv", "--to", "http://x"], "give exactly one of --out FILE or --to URL"),
        (
            ["--out", "a.csv", "--token", "north=a"],
            "--token, --tokens and --time-base go with --to",
        ),
        (["--to", "http://127.0.0.1:9", "--speed", "0"], "--speed must be a positive number"),
        (["--out", "a.csv", "--duration", "-1"], "duration_s must be a positive finite number"),
        (["--to", "http://127.0.0.1:9", "--time-base", "later"], "--time-base 'later' is not"),
    ],
)
def test_skysep_simulate_refuses_bad_options(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "two-party-drill", *arguments])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
