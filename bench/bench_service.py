"""Benchmark of the SkySep service under load (issue #4): 10,000 aircraft at 1 Hz over the API.

The real server runs as a subprocess (``skysep serve``, on SQLite by default, on a fresh
PostgreSQL database with ``--postgres URL``) with two parties created by ``skysep party add``.
Two more processes, started with ``spawn``, talk to it over loopback:

* the load generator flies N aircraft (half per party) over a 1,500 km square at FL200-FL400
  and sends every aircraft's report once per second, stamped with the current time, as
  ``POST /v1/reports`` batches (per party, ``--batches-per-s`` batches a second, each holding
  the aircraft whose phase falls in that slot) over keep-alive httpx clients, paced on the
  wall clock; it records every request's latency and outcome;
* the alert receiver holds one WebSocket per party (``/v1/ws?token=...``) and records, for
  every alert, receive wall time minus the alert's ``report_received_at`` (set by the server
  when the newest report behind the event reached it): same machine, same clock.

The main process samples ``/health`` and the server's ``/proc`` entries every second. After a
warm-up (discarded) the measured window runs for ``--duration`` seconds.

    .venv/bin/python bench/bench_service.py                          # SQLite, 20 s + 60 s
    .venv/bin/python bench/bench_service.py --write docs/numbers-service.md
    .venv/bin/python bench/bench_service.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/bench_service.py --aircraft 2000 --duration 20 --warmup 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

F64 = npt.NDArray[np.float64]

ROOT: Final = Path(__file__).resolve().parent.parent
SKYSEP: Final = ROOT / ".venv" / "bin" / "skysep"
PARTIES: Final = ("alpha", "bravo")
SEED: Final = 1
#: Issue #4: alert latency (report received -> alert on the WebSocket), 99th percentile.
TARGET_P99_S: Final = 1.5
#: "Sustained": accepted reports at least this share of the offered ones.
SUSTAINED_SHARE: Final = 0.99
#: The region: a square of this side around this centre, flight levels 200-400.
REGION_KM: Final = 1_500.0
CENTRE_DEG: Final = (48.0, 10.0)
FL_LOW, FL_HIGH = 200, 400
EARTH_R_M: Final = 6_371_000.0
KT: Final = 1852.0 / 3600.0
FPM: Final = 0.3048 / 60.0
AGREEMENT_TOML: Final = """\
name = "bench: ICAO 5 NM / 1000 ft"
horizontal_nm = 5
vertical_ft = 1000
lookahead_s = 300
caution_s = 120
warning_s = 60
disclosure_radius_nm = 20
cycle_s = 1
stale_s = 15

[[parties]]
id = "alpha"
name = "Alpha ANSP"

[[parties]]
id = "bravo"
name = "Bravo Air Force"
"""


# --------------------------------------------------------------------------------------------
# The traffic: a fleet flying over the region
# --------------------------------------------------------------------------------------------


class Fleet:
    """N aircraft flying straight and turning legs, cruising at flight levels or changing level.

    Kinematics on a sphere (great-circle steps along the track), vectorised. Each aircraft
    redraws its turn rate now and then (60 % straight, else 0.3-1.5 deg/s either way), starts
    a climb or descent to another flight level now and then (1,000-3,000 ft/min), and turns
    back towards the centre when it leaves the square.
    """

    def __init__(self, n: int, seed: int, region_km: float = REGION_KM) -> None:
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.n = n
        self.half_km = region_km / 2.0
        lat0, lon0 = CENTRE_DEG
        self.lat0, self.lon0 = lat0, lon0
        x = rng.uniform(-self.half_km, self.half_km, n)
        y = rng.uniform(-self.half_km, self.half_km, n)
        self.lat = lat0 + y / 111.195
        self.lon = lon0 + x / (111.195 * math.cos(math.radians(lat0)))
        self.gs_kt = rng.uniform(250.0, 500.0, n)
        self.track = rng.uniform(0.0, 360.0, n)
        self.turn = np.zeros(n)
        self._redraw_turns(np.ones(n, dtype=bool))
        levels = self._levels(self.track)
        self.alt_ft = levels.copy()
        self.target_ft = levels.copy()
        self.vs_fpm = np.zeros(n)
        changing = rng.random(n) < 0.25
        self.alt_ft[changing] = rng.uniform(FL_LOW * 100.0, FL_HIGH * 100.0, int(changing.sum()))
        self._set_rates(changing)

    def _levels(self, track: F64) -> F64:
        """Random cruise levels by the semicircular rule: odd thousands of feet eastbound."""
        k = track.shape[0]
        thousands = self.rng.integers(FL_LOW // 10, FL_HIGH // 10 + 1, k)
        east = track < 180.0
        thousands += np.where(east == (thousands % 2 == 1), 0, np.where(thousands > 30, -1, 1))
        return thousands * 1000.0

    def _redraw_turns(self, which: npt.NDArray[np.bool_]) -> None:
        k = int(which.sum())
        rate = self.rng.uniform(0.3, 1.5, k) * self.rng.choice([-1.0, 1.0], k)
        self.turn[which] = np.where(self.rng.random(k) < 0.6, 0.0, rate)

    def _set_rates(self, which: npt.NDArray[np.bool_]) -> None:
        k = int(which.sum())
        rate = self.rng.uniform(1_000.0, 3_000.0, k)
        self.vs_fpm[which] = np.sign(self.target_ft[which] - self.alt_ft[which]) * rate

    def step(self, dt_s: float) -> None:
        """Move every aircraft ``dt_s`` seconds on."""
        if dt_s <= 0.0:
            return
        rng = self.rng
        # Outside the square: turn back towards the centre.
        x = (self.lon - self.lon0) * 111.195 * math.cos(math.radians(self.lat0))
        y = (self.lat - self.lat0) * 111.195
        outside = (np.abs(x) > self.half_km) | (np.abs(y) > self.half_km)
        home = np.degrees(np.arctan2(-x, -y)) % 360.0
        off = (home - self.track + 540.0) % 360.0 - 180.0
        turning_home = outside & (np.abs(off) > 30.0)
        self.turn[turning_home] = np.sign(off[turning_home]) * 1.5
        self.turn[outside & ~turning_home] = 0.0
        self._redraw_turns(~outside & (rng.random(self.n) < dt_s / 120.0))
        self.track = (self.track + self.turn * dt_s) % 360.0
        # Great-circle step along the track.
        d = self.gs_kt * KT * dt_s / EARTH_R_M
        lat1, lon1, brg = np.radians(self.lat), np.radians(self.lon), np.radians(self.track)
        lat2 = np.arcsin(np.sin(lat1) * np.cos(d) + np.cos(lat1) * np.sin(d) * np.cos(brg))
        lon2 = lon1 + np.arctan2(
            np.sin(brg) * np.sin(d) * np.cos(lat1), np.cos(d) - np.sin(lat1) * np.sin(lat2)
        )
        self.lat, self.lon = np.degrees(lat2), np.degrees(lon2)
        # Level changes: level off at the target; now and then start a new one.
        moving = self.vs_fpm != 0.0
        new_alt = self.alt_ft + self.vs_fpm * dt_s / 60.0
        reached = moving & (np.sign(self.target_ft - new_alt) != np.sign(self.vs_fpm))
        self.alt_ft = np.where(reached, self.target_ft, new_alt)
        self.vs_fpm[reached] = 0.0
        start = (self.vs_fpm == 0.0) & (rng.random(self.n) < dt_s / 600.0)
        k = int(start.sum())
        if k:
            self.target_ft[start] = self._levels(self.track[start])
            self._set_rates(start)

    def reports(
        self, idx: npt.NDArray[np.int64], ids: list[str], when: str
    ) -> list[dict[str, Any]]:
        """Reports of aircraft ``idx``, stamped ``when`` (ISO-8601 UTC)."""
        lat = np.round(self.lat[idx], 6).tolist()
        lon = np.round(self.lon[idx], 6).tolist()
        alt = np.round(self.alt_ft[idx], 1).tolist()
        gs = np.round(self.gs_kt[idx], 1).tolist()
        trk = np.round(self.track[idx], 2).tolist()
        vs = np.round(self.vs_fpm[idx], 0).tolist()
        return [
            {
                "time": when,
                "aircraft": ids[k],
                "lat": lat[k],
                "lon": lon[k],
                "alt_ft": alt[k],
                "gs_kt": gs[k],
                "track_deg": trk[k],
                "vs_fpm": vs[k],
            }
            for k in range(len(ids))
        ]


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


# --------------------------------------------------------------------------------------------
# Child processes: the load generator and the alert receiver
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What the children need: where, who, how much and when (wall-clock epoch seconds)."""

    base_url: str
    tokens: dict[str, str]
    aircraft: int
    seed: int
    batches_per_s: int
    start: float
    stop: float


def generator_main(plan: Plan, conn: Connection) -> None:
    """Load generator (a spawned process): sends every aircraft's report once a second."""
    records = asyncio.run(_generate(plan))
    conn.send(records)
    conn.close()


async def _generate(plan: Plan) -> dict[str, Any]:
    fleet = Fleet(plan.aircraft, plan.seed)
    n, slots = plan.aircraft, plan.batches_per_s
    index = np.arange(n)
    party_of = np.where(index < n // 2, 0, 1)
    ids = [f"{PARTIES[int(p)][0].upper()}{i:05d}" for i, p in zip(index, party_of, strict=True)]
    # (slot, party) -> aircraft indices and their ids.
    groups: dict[tuple[int, int], tuple[npt.NDArray[np.int64], list[str]]] = {}
    for s in range(slots):
        for p in range(len(PARTIES)):
            idx = np.flatnonzero((index % slots == s) & (party_of == p))
            groups[(s, p)] = (idx, [ids[i] for i in idx])
    sent: list[tuple[float, float, int, int, int]] = []  # (t_send, latency, status, n, accepted)
    #: Every batch due, when it was due: those still unanswered at the end count as failed.
    offered: list[tuple[float, int]] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    timeout = httpx.Timeout(30.0)
    clients = [
        httpx.AsyncClient(
            base_url=plan.base_url,
            headers={
                "Authorization": f"Bearer {plan.tokens[party]}",
                "Content-Type": "application/json",
            },
            limits=limits,
            timeout=timeout,
        )
        for party in PARTIES
    ]

    async def post(client: httpx.AsyncClient, body: bytes, count: int) -> None:
        t0 = time.time()
        status, accepted = 0, 0
        try:
            response = await client.post("/v1/reports", content=body)
            status = response.status_code
            if status == 200:
                accepted = int(response.json()["accepted"])
            elif len(errors) < 20:
                errors.append(f"{status}: {response.text[:300]}")
        except httpx.HTTPError as exc:
            if len(errors) < 20:
                errors.append(repr(exc))
        sent.append((t0, time.time() - t0, status, count, accepted))

    tasks: set[asyncio.Task[None]] = set()
    await asyncio.sleep(max(0.0, plan.start - time.time()))
    tick = 1.0 / slots
    k = 0
    last = time.time()
    behind_max = 0.0
    while True:
        due = plan.start + k * tick
        if due >= plan.stop:
            break
        wait = due - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        behind_max = max(behind_max, -wait)
        now = time.time()
        fleet.step(now - last)
        last = now
        when = _iso(now)
        for p, client in enumerate(clients):
            idx, group_ids = groups[(k % slots, p)]
            body = json.dumps({"reports": fleet.reports(idx, group_ids, when)}).encode()
            offered.append((due, len(group_ids)))
            task = asyncio.create_task(post(client, body, len(group_ids)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        k += 1
    if tasks:
        await asyncio.wait(tasks, timeout=35.0)
    for client in clients:
        await client.aclose()
    return {
        "sent": np.array(sent, dtype=float).reshape(-1, 5),
        "offered": np.array(offered, dtype=float).reshape(-1, 2),
        "errors": errors,
        "behind_max_s": behind_max,
        "pid": os.getpid(),
    }


def receiver_main(plan: Plan, ready: EventType, conn: Connection) -> None:
    """Alert receiver (a spawned process): one WebSocket per party, every alert timed."""
    records = asyncio.run(_receive(plan, ready))
    conn.send(records)
    conn.close()


async def _receive(plan: Plan, ready: EventType) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    # (t_recv, latency from report_received_at, latency from the cycle time, id, party, kind)
    got: list[tuple[float, float, float, int, int, int]] = []
    kinds = {"new": 0, "level": 1, "resolved": 2}
    missing = 0
    closes: list[str] = []
    ws_url = plan.base_url.replace("http://", "ws://")
    end = plan.stop + 3.0  # alerts of the last reports arrive up to a cycle later

    async def listen(p: int, party: str, connected: asyncio.Event) -> None:
        nonlocal missing
        url = f"{ws_url}/v1/ws?token={plan.tokens[party]}"
        async with connect(url, max_size=2**24, ping_interval=None) as ws:
            connected.set()
            while True:
                left = end - time.time()
                if left <= 0:
                    return
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=left)
                except TimeoutError:
                    return
                now = time.time()
                message = json.loads(text)
                if message.get("type") != "alert":
                    continue
                alert = message["alert"]
                received = alert.get("report_received_at")
                if received is None:
                    missing += 1
                    continue
                t_rep = dt.datetime.fromisoformat(received).timestamp()
                t_cycle = dt.datetime.fromisoformat(alert["time"]).timestamp()
                got.append(
                    (now, now - t_rep, now - t_cycle, int(alert["id"]), p, kinds[alert["event"]])
                )

    events = [asyncio.Event() for _ in PARTIES]
    tasks = [asyncio.create_task(listen(p, party, events[p])) for p, party in enumerate(PARTIES)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=30.0)
    ready.set()
    for task in tasks:
        try:
            await task
        except Exception as exc:  # a closed socket is a result, not a crash of the bench
            closes.append(repr(exc))
    return {
        "alerts": np.array(got, dtype=float).reshape(-1, 6),
        "missing_received_at": missing,
        "closes": closes,
        "pid": os.getpid(),
    }


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(postgres: str | None, folder: Path) -> Iterator[str]:
    """The --db URL: a SQLite file in ``folder``, or a fresh PostgreSQL database (dropped after)."""
    if postgres is None:
        yield str(folder / "skysep.sqlite3")
        return
    from sqlalchemy import create_engine, text

    from skysep.storage import normalise_url

    engine = create_engine(normalise_url(postgres), isolation_level="AUTOCOMMIT")
    name = f"skysep_bench_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres.rsplit('/', 1)[0]}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    tokens: dict[str, str]
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def server(db: str, folder: Path, log_level: str) -> Iterator[Server]:
    """``skysep serve`` on a free port, with one token per party; stopped on exit."""
    agreement = folder / "agreement.toml"
    agreement.write_text(AGREEMENT_TOML, encoding="utf-8")
    tokens: dict[str, str] = {}
    for party in PARTIES:
        done = subprocess.run(
            [str(SKYSEP), "party", "add", party, "--name", party.title(), "--db", db],
            capture_output=True,
            text=True,
            check=True,
        )
        tokens[party] = done.stdout.strip().splitlines()[-1].strip()
    port = _free_port()
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(SKYSEP),
                "serve",
                "--agreement",
                str(agreement),
                "--db",
                db,
                "--port",
                str(port),
                "--log-level",
                log_level,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    srv = Server(process, f"http://127.0.0.1:{port}", tokens, log_path)
    try:
        deadline = time.time() + 120.0
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {process.returncode}:\n{srv.log_tail()}"
                )
            try:
                if httpx.get(f"{srv.base_url}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"the server did not answer /health:\n{srv.log_tail()}")
            time.sleep(0.2)
        yield srv
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --------------------------------------------------------------------------------------------
# Sampling the server
# --------------------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """The process and its descendants (the server's ingest worker)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of a process and its descendants (all their threads), seconds."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{p}/stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _proc_mem_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process and its descendants, summed, KiB."""
    rss = hwm = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
    return rss, hwm


def _machine_busy_s() -> float:
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _load_avg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class HealthSample:
    t: float
    latency_s: float
    aircraft: int
    cycle_ms: float
    alerts_ms: float
    cycle_time: str | None
    rss_kib: int
    hwm_kib: int


@dataclass
class CpuMark:
    wall: float
    server_s: float
    ours_s: float
    machine_s: float


def _cpu_mark(pids: Sequence[int]) -> CpuMark:
    server_s = _proc_cpu_s(pids[0])
    ours = server_s
    for pid in pids[1:]:
        with contextlib.suppress(OSError):
            ours += _proc_cpu_s(pid)
    ours += sum(os.times()[:2])
    return CpuMark(time.time(), server_s, ours, _machine_busy_s())


# --------------------------------------------------------------------------------------------
# A run
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    aircraft: int
    batches_per_s: int
    warmup_s: float
    duration_s: float
    offered_per_s: float = 0.0
    accepted_per_s: float = 0.0
    requests: int = 0
    failed: int = 0
    post_ms: dict[str, float] = field(default_factory=dict)
    alerts: int = 0
    deliveries: int = 0
    events_per_s: float = 0.0
    event_kinds: dict[str, int] = field(default_factory=dict)
    latency_s: dict[str, float] = field(default_factory=dict)
    cycle_to_ws_ms: dict[str, float] = field(default_factory=dict)
    missing_received_at: int = 0
    rss_end_mib: float = 0.0
    rss_peak_mib: float = 0.0
    server_cpu_pct: float = 0.0
    others_cores: float = 0.0
    cycle_ms: dict[str, float] = field(default_factory=dict)
    alerts_ms: dict[str, float] = field(default_factory=dict)
    cycles_sampled: int = 0
    health_ms: dict[str, float] = field(default_factory=dict)
    aircraft_min: int = 0
    aircraft_max: int = 0
    generator_behind_max_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""
    when: str = ""

    @property
    def sustained(self) -> bool:
        return (
            self.offered_per_s > 0
            and self.accepted_per_s >= SUSTAINED_SHARE * self.offered_per_s
            and self.failed == 0
            and abs(self.aircraft_min - self.aircraft) <= 0.01 * self.aircraft
            and abs(self.aircraft_max - self.aircraft) <= 0.01 * self.aircraft
            and self.cycle_ms.get("max", math.inf) < 1000.0
            and not self.closes
        )

    @property
    def met(self) -> bool:
        return self.sustained and self.latency_s.get("p99", math.inf) <= TARGET_P99_S


def _pcts(values: npt.ArrayLike, scale: float = 1.0) -> dict[str, float]:
    a = np.asarray(values, dtype=float) * scale
    if a.size == 0:
        return {}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": p50, "p95": p95, "p99": p99, "max": float(a.max()), "n": float(a.size)}


def run(args: argparse.Namespace, console: Console) -> Result:
    backend = "postgresql" if args.postgres else "sqlite"
    result = Result(backend, args.aircraft, args.batches_per_s, args.warmup, args.duration)
    result.load_before = _load_avg()
    result.when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    ctx = mp.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="skysep-bench-") as tmp,
        database(args.postgres, Path(tmp)) as db,
        server(db, Path(tmp), args.log_level) as srv,
    ):
        pid = srv.process.pid
        console.print(f"[dim]server pid {pid} at {srv.base_url} on {backend}[/dim]")
        # The children start at `start`; a few seconds for them to import and connect.
        start = time.time() + 8.0
        window = (start + args.warmup, start + args.warmup + args.duration)
        plan = Plan(
            srv.base_url, srv.tokens, args.aircraft, args.seed, args.batches_per_s, start, window[1]
        )
        ready = ctx.Event()
        gen_rx, gen_tx = ctx.Pipe(duplex=False)
        rec_rx, rec_tx = ctx.Pipe(duplex=False)
        receiver = ctx.Process(target=receiver_main, args=(plan, ready, rec_tx), daemon=True)
        generator = ctx.Process(target=generator_main, args=(plan, gen_tx), daemon=True)
        receiver.start()
        generator.start()
        if not ready.wait(30.0):
            raise RuntimeError(f"the WebSocket clients did not connect:\n{srv.log_tail()}")
        console.print(
            f"[dim]load from {_iso(start)}: {args.warmup:.0f} s warm-up, "
            f"{args.duration:.0f} s measured[/dim]"
        )
        samples: list[HealthSample] = []
        marks: list[CpuMark] = []
        pids = [pid, int(generator.pid or 0), int(receiver.pid or 0)]
        with httpx.Client(base_url=srv.base_url, timeout=10.0) as client:
            next_sample = math.ceil(time.time()) + 0.5
            while time.time() < window[1] + 1.0:
                time.sleep(max(0.0, next_sample - time.time()))
                next_sample += 1.0
                if not marks and time.time() >= window[0]:
                    marks.append(_cpu_mark(pids))
                if len(marks) == 1 and time.time() >= window[1]:
                    marks.append(_cpu_mark(pids))
                t0 = time.time()
                try:
                    body = client.get("/health").json()
                except httpx.HTTPError as exc:
                    result.errors.append(f"/health: {exc!r}")
                    continue
                rss, hwm = _proc_mem_kib(pid)
                samples.append(
                    HealthSample(
                        t0,
                        time.time() - t0,
                        int(body["aircraft"]),
                        float(body["cycle_ms"] or math.nan),
                        float(body.get("alerts_ms") or math.nan),
                        body["cycle_time"],
                        rss,
                        hwm,
                    )
                )
                if srv.process.poll() is not None:
                    raise RuntimeError(f"the server died:\n{srv.log_tail()}")
        rss, hwm = _proc_mem_kib(pid)
        if args.server_log is not None:
            shutil.copyfile(srv.log_path, args.server_log)
        gen = gen_rx.recv()
        rec = rec_rx.recv()
        generator.join(10.0)
        receiver.join(10.0)
    result.load_after = _load_avg()

    # Reports: batches due inside the window (sent or not: a generator may fall behind).
    due = gen["offered"]
    due = due[(due[:, 0] >= window[0]) & (due[:, 0] < window[1])]
    sent = gen["sent"]
    w = sent[(sent[:, 0] >= window[0]) & (sent[:, 0] < window[1])]
    result.requests = int(due.shape[0])
    result.failed = result.requests - int(np.count_nonzero(w[:, 2] == 200))
    result.offered_per_s = float(due[:, 1].sum()) / args.duration
    result.accepted_per_s = float(w[:, 4].sum()) / args.duration
    result.post_ms = _pcts(w[:, 1], 1e3)
    result.errors += gen["errors"]
    result.generator_behind_max_s = float(gen["behind_max_s"])
    # Alerts: received inside the window.
    alerts = rec["alerts"]
    a = alerts[(alerts[:, 0] >= window[0]) & (alerts[:, 0] < window[1])]
    result.deliveries = int(a.shape[0])
    ids, first = np.unique(a[:, 3], return_index=True)
    result.alerts = int(ids.size)
    result.events_per_s = result.alerts / args.duration
    result.event_kinds = {
        name: int(np.count_nonzero(a[first, 5] == code))
        for code, name in enumerate(("new", "level", "resolved"))
    }
    result.latency_s = _pcts(a[:, 1])
    result.cycle_to_ws_ms = _pcts(a[:, 2], 1e3)
    result.missing_received_at = int(rec["missing_received_at"])
    result.closes = list(rec["closes"])
    # Server: memory, CPU, cycles, health.
    s = [x for x in samples if window[0] <= x.t < window[1]]
    result.rss_end_mib = rss / 1024
    result.rss_peak_mib = max([hwm, *(x.hwm_kib for x in samples)]) / 1024
    if len(marks) == 2:
        wall = marks[1].wall - marks[0].wall
        result.server_cpu_pct = 100.0 * (marks[1].server_s - marks[0].server_s) / wall
        others = (marks[1].machine_s - marks[0].machine_s) - (marks[1].ours_s - marks[0].ours_s)
        result.others_cores = max(others, 0.0) / wall
    by_cycle = {x.cycle_time: x.cycle_ms for x in s if x.cycle_time is not None}
    result.cycle_ms = _pcts(list(by_cycle.values()))
    result.alerts_ms = _pcts(
        list({x.cycle_time: x.alerts_ms for x in s if x.cycle_time is not None}.values())
    )
    result.cycles_sampled = len(by_cycle)
    result.health_ms = _pcts([x.latency_s for x in s], 1e3)
    counts = [x.aircraft for x in s] or [0]
    result.aircraft_min, result.aircraft_max = min(counts), max(counts)
    return result


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _ms(d: dict[str, float], key: str) -> str:
    return f"{d[key]:,.0f} ms" if key in d else "-"


def _s(d: dict[str, float], key: str) -> str:
    return f"{d[key]:.2f} s" if key in d else "-"


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def main_rows(r: Result) -> list[tuple[str, str]]:
    kinds = ", ".join(f"{v:,} {k}" for k, v in r.event_kinds.items())
    return [
        ("Reports offered (due on the wall clock)", f"{r.offered_per_s:,.0f} /s"),
        ("Load generator: furthest behind its schedule", f"{r.generator_behind_max_s:.2f} s"),
        ("Reports accepted (200, stored)", f"{r.accepted_per_s:,.0f} /s"),
        (
            "POST /v1/reports batches due (failed or unanswered at the end)",
            f"{r.requests:,} ({r.failed:,})",
        ),
        (
            "POST latency p50 / p95 / p99 / max",
            " / ".join(_ms(r.post_ms, k) for k in ("p50", "p95", "p99", "max")),
        ),
        ("Alert events (distinct ids)", f"{r.alerts:,} ({kinds})"),
        ("Alert events per second", f"{r.events_per_s:,.1f}"),
        ("Alert deliveries on the WebSockets", f"{r.deliveries:,}"),
        (
            "Alert latency p50 / p95 / p99 / max (report received -> alert on the WebSocket)",
            " / ".join(_s(r.latency_s, k) for k in ("p50", "p95", "p99", "max")),
        ),
        (
            "Cycle time -> alert on the WebSocket p50 / p99 / max",
            " / ".join(_ms(r.cycle_to_ws_ms, k) for k in ("p50", "p99", "max")),
        ),
        (
            f"Cycle duration p50 / p99 / max (/health cycle_ms, {r.cycles_sampled} cycles)",
            " / ".join(_ms(r.cycle_ms, k) for k in ("p50", "p99", "max")),
        ),
        (
            "Cycle start -> alerts handed to the WebSockets p50 / p99 / max (/health alerts_ms)",
            " / ".join(_ms(r.alerts_ms, k) for k in ("p50", "p99", "max")),
        ),
        (
            "/health latency p50 / p99 / max",
            " / ".join(_ms(r.health_ms, k) for k in ("p50", "p99", "max")),
        ),
        ("Aircraft in the live picture (min - max)", f"{r.aircraft_min:,} - {r.aircraft_max:,}"),
        ("Server CPU, its processes together (100 % = one core)", f"{r.server_cpu_pct:.0f} %"),
        (
            "Server RSS at the end / peak (VmHWM), its processes summed",
            f"{r.rss_end_mib:,.0f} / {r.rss_peak_mib:,.0f} MiB",
        ),
    ]


def verdict_rows(r: Result) -> list[tuple[str, str, str]]:
    share = r.accepted_per_s / r.offered_per_s if r.offered_per_s else 0.0
    return [
        (
            f"Sustained: accepted >= {SUSTAINED_SHARE:.0%} of offered, no failures",
            f"{share:.2%}, {r.failed} failed",
            _yes(share >= SUSTAINED_SHARE and r.failed == 0),
        ),
        (
            f"Sustained: live picture stays at {r.aircraft:,} aircraft (+-1 %)",
            f"{r.aircraft_min:,} - {r.aircraft_max:,}",
            _yes(
                abs(r.aircraft_min - r.aircraft) <= 0.01 * r.aircraft
                and abs(r.aircraft_max - r.aircraft) <= 0.01 * r.aircraft
            ),
        ),
        (
            "Sustained: every sampled cycle shorter than cycle_s (1 s)",
            f"max {_ms(r.cycle_ms, 'max')}",
            _yes(r.cycle_ms.get("max", math.inf) < 1000.0),
        ),
        (
            "Alert events keep coming",
            f"{r.events_per_s:,.1f} /s",
            _yes(r.events_per_s >= 1.0),
        ),
        (
            f"Alert latency p99 <= {TARGET_P99_S} s",
            _s(r.latency_s, "p99"),
            _yes(r.latency_s.get("p99", math.inf) <= TARGET_P99_S),
        ),
    ]


def _machine_rows(r: Result) -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        head += " (working tree modified)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        head = "unknown"
    busy = f"{r.others_cores:.2f} cores busy on average"
    if r.others_cores > 0.2:
        busy += " (the machine was shared: numbers disturbed)"
    return [
        ("CPU", cpu),
        ("Cores", f"{os.cpu_count()}"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        (
            "Server stack",
            f"uvicorn {version('uvicorn')} (uvloop {version('uvloop')}, httptools), "
            f"FastAPI {version('fastapi')}, pydantic {version('pydantic')}, "
            f"SQLAlchemy {version('sqlalchemy')}",
        ),
        ("SkySep", f"{version('skysep')}, commit {head}"),
        ("Database", r.backend),
        ("Load average before / after", f"{r.load_before} / {r.load_after}"),
        ("Other processes during the window", busy),
    ]


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    align = ["---"] + ["---:"] * (len(head) - 1)
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def workload_text(r: Result) -> str:
    per_batch = r.aircraft / r.batches_per_s / len(PARTIES)
    return (
        f"{r.aircraft:,} aircraft, half of party `alpha` and half of `bravo`, fly over a "
        f"{REGION_KM:,.0f} km square centred on {CENTRE_DEG[0]:.0f} N {CENTRE_DEG[1]:.0f} E: "
        f"250-500 kt, 75 % cruising at flight levels FL{FL_LOW}-FL{FL_HIGH} (semicircular "
        "rule: odd thousands of feet eastbound, even westbound) and 25 % climbing "
        "or descending at 1,000-3,000 ft/min (cruising aircraft start a level change every "
        "10 min on average), straight legs and turns of 0.3-1.5 deg/s (turn rate redrawn "
        "every 2 min on average), turning back at the edges. Every aircraft reports once a "
        "second, stamped with the current time, through `POST /v1/reports`: each party sends "
        f"{r.batches_per_s} batches a second of about {per_batch:,.0f} reports over keep-alive "
        "httpx connections from a separate process, paced on the wall clock. Another process "
        "holds one WebSocket per party (`/v1/ws`). Agreement: 5 NM / 1,000 ft, lookahead "
        "300 s, caution 120 s, warning 60 s, disclosure radius 20 NM, cycle 1 s. "
        f"Warm-up {r.warmup_s:.0f} s (discarded), then {r.duration_s:.0f} s measured."
    )


def markdown(r: Result, command: str, notes: str) -> str:
    parts = [
        "# Numbers: the service under load",
        "",
        f"Measured {r.when} on a {os.cpu_count()}-core machine "
        + (
            "shared with other work (see the machine table)."
            if r.others_cores > 0.2
            else "that was otherwise quiet."
        )
        + " The server, the load generator and the alert receiver all ran on it, talking "
        "over loopback. Reproduce:",
        "",
        "```console",
        command,
        "```",
        "",
        "## Workload",
        "",
        workload_text(r),
        "",
        "Alert latency is the receive time on the WebSocket minus the alert's "
        "`report_received_at` (when the newest report behind the event reached the service); "
        "both are read from the same machine's clock. An alert is only computed at the next "
        "cycle, so up to one `cycle_s` of it is waiting for the cycle. *Cycle time -> alert* "
        "is the receive time minus the alert's `time` (the cycle's time).",
        "",
        "## Results",
        "",
        _md_table(["", "measured"], main_rows(r)),
        "",
        "## Against the target",
        "",
        _md_table(["", "measured", "met"], verdict_rows(r)),
        "",
    ]
    if notes:
        parts += [notes.strip(), ""]
    if r.errors or r.closes:
        parts += ["## Errors", ""]
        parts += [f"- `{e}`" for e in [*r.errors, *r.closes][:20]]
        parts.append("")
    parts += ["## Machine", "", _md_table(["", ""], _machine_rows(r)), ""]
    return "\n".join(parts)


def _print(console: Console, r: Result) -> None:
    table = Table(title=f"Service under load ({r.backend})", title_justify="left")
    table.add_column("")
    table.add_column("measured", justify="right")
    for row in main_rows(r):
        table.add_row(*row)
    console.print(table)
    verdict = Table(title="Against the target", title_justify="left")
    for name in ("", "measured", "met"):
        verdict.add_column(name, justify="left" if not name else "right")
    for vrow in verdict_rows(r):
        verdict.add_row(*vrow)
    console.print(verdict)
    machine = Table(title="Machine", title_justify="left", show_header=False)
    for mrow in _machine_rows(r):
        machine.add_row(*mrow)
    console.print(machine)
    for line in [*r.errors, *r.closes][:20]:
        console.print(f"[red]{line}[/red]")


def _command() -> str:
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(Path.cwd())
    return shlex.join([str(exe), *sys.argv])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the SkySep service: N aircraft at 1 Hz through the API."
    )
    parser.add_argument("--aircraft", type=int, default=10_000, help="aircraft (default 10,000)")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="measured window, s (default 60)"
    )
    parser.add_argument("--warmup", type=float, default=20.0, help="warm-up, s (default 20)")
    parser.add_argument(
        "--batches-per-s",
        type=int,
        default=10,
        help="POST batches per party per second (default 10)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on a fresh database of this PostgreSQL server (dropped after), "
        "e.g. postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument(
        "--log-level", default="info", help="the server's --log-level (default info)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument("--write", type=Path, metavar="PATH", help="write a Markdown report")
    parser.add_argument(
        "--notes",
        type=Path,
        metavar="PATH",
        help="Markdown appended after the verdict in --write (e.g. a profile)",
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        metavar="PATH",
        help="keep a copy of the server's log (JSON lines) here",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    result = run(args, console)
    _print(console, result)
    command = _command()
    console.print(f"Date: {result.when}\nReproduce: {command}")
    if args.write is not None:
        notes = args.notes.read_text(encoding="utf-8") if args.notes else ""
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(markdown(result, command, notes), encoding="utf-8")
        console.print(f"Wrote {args.write}")
    return 0 if result.met else 1


if __name__ == "__main__":
    sys.exit(main())
