"""``skysep demo``: a two-party drill on this machine, with each party's dashboard.

What it does, in order:

1. a temporary folder with a SQLite database;
2. the scenario's parties (North and South in the built-in drill) created on
   that database, as the admin of the machine would with ``skysep party add``;
3. the service (FastAPI on uvicorn) in this process, on ``--port``;
4. each party's dashboard URL printed with its token in the URL's fragment
   (``/dashboard/#token=...``: a browser never sends the fragment to a server);
5. the traffic simulator feeding the API over HTTP, each party through its own
   client with its own token: the real API, no back door;
6. after the scenario (or ``--duration``), the service stays up until Ctrl-C
   (with ``--duration`` the demo stops there).

``--speed X`` runs the drill X times faster than real time: the service's clock
runs X times faster too (it starts at the wall clock's time), so reports stamped
in scenario time are neither from the future nor stale for it, and every time
the dashboards show is scenario time.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, NoReturn

import typer
from rich.console import Console

from skysep.agreement import LANGUAGES, PRESETS

if TYPE_CHECKING:
    import uvicorn

    from skysep.simulate import Batch, Scenario
    from skysep.simulate.feed import FeedStats

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

#: The duty officers' language of each party of the built-in drill (others: English).
DRILL_LANGUAGES: Final = {"north": "en", "south": "ru"}
#: How long the service may take to start listening (s).
START_TIMEOUT_S: Final = 60.0


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


def scaled_clock(speed: float, start: float | None = None) -> Callable[[], float]:
    """A clock that agrees with ``time.time()`` at ``start`` and runs ``speed`` times faster."""
    origin = time.time() if start is None else start

    def clock() -> float:
        return origin + (time.time() - origin) * speed

    return clock


def dashboard_url(base: str, token: str) -> str:
    """A party's dashboard, signed in by the token in the URL's fragment."""
    return f"{base}/dashboard/#token={token}"


class ServerThread:
    """uvicorn serving ``app`` on a thread of this process, stopped with :meth:`stop`."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, name="skysep-demo-server", daemon=True)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> int:
        """Start serving; returns the port it listens on."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the service stopped while starting (is the port taken?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start within {timeout_s:g} s")
            time.sleep(0.05)
        sockets = [s for server in self.server.servers for s in server.sockets]
        return int(sockets[0].getsockname()[1])

    def stop(self, timeout_s: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)


def demo(
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            help="Scenario seconds per wall-clock second: the drill runs this many times "
            "faster than real time.",
        ),
    ] = 5.0,
    duration_s: Annotated[
        float | None,
        typer.Option(
            "--duration-s",
            "--duration",
            help="Stop after this many scenario seconds (default: run the whole scenario, "
            "then keep serving until Ctrl-C).",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the simulator's noise (default: the scenario's)."),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port).")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="Scenario file (TOML, docs/simulate.md) or a built-in one's name.",
        ),
    ] = "two-party-drill",
    preset_name: Annotated[
        str,
        typer.Option("--preset", help=f"Built-in agreement: {', '.join(PRESETS)}."),
    ] = "rule-of-threes",
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the temporary folder with the database at the end."),
    ] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="The service's log: debug, info, warning or error.")
    ] = "warning",
) -> None:
    """A two-party drill: the service, two parties and the traffic simulator, until Ctrl-C."""
    if not speed > 0 or not math.isfinite(speed):
        _fail(f"--speed must be a positive finite number, got {speed!r}")
    if duration_s is not None and not duration_s > 0:
        _fail(f"--duration must be a positive number of seconds, got {duration_s!r}")
    if not 0 <= port <= 65535:
        _fail(f"--port must be 0-65535, got {port}")
    if log_level not in ("debug", "info", "warning", "error"):
        _fail(f"--log-level {log_level!r} is not valid, must be one of debug, info, warning, error")
    import uvicorn
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from skysep.agreement import preset
    from skysep.errors import SkySepError
    from skysep.service import create_app
    from skysep.service._logging import configure
    from skysep.simulate import load_scenario
    from skysep.storage import Store

    try:
        agreement = preset(preset_name)
        drill = load_scenario(Path(scenario) if "\n" not in scenario else scenario)
    except SkySepError as exc:
        _fail(str(exc))

    folder = Path(tempfile.mkdtemp(prefix="skysep-demo-"))
    database = folder / "skysep.sqlite3"
    store = Store.open(str(database))
    server: ServerThread | None = None
    try:
        tokens: dict[str, str] = {}
        for party in drill.parties:
            language = DRILL_LANGUAGES.get(party.id, "en")
            assert language in LANGUAGES
            tokens[party.id] = store.add_party(party.id, party.name, language, time.time())
        configure(log_level)
        clock = scaled_clock(speed)
        # The record's signing key lives as long as the drill's database: both are temporary.
        app = create_app(store, agreement, clock=clock, key=Ed25519PrivateKey.generate())
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            log_level=log_level,
            ws="websockets-sansio",
        )
        server = ServerThread(uvicorn.Server(config))
        try:
            bound = server.start()
        except RuntimeError as exc:
            _fail(f"{exc}; try another --port")
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        base = f"http://{shown_host}:{bound}"
        _announce(drill.name, agreement.name, base, tokens, folder, speed)
        _run(drill, base, tokens, clock, speed=speed, seed=seed, duration_s=duration_s)
        if duration_s is None:
            out.print("The scenario has ended; the service keeps running. Ctrl-C to stop.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        err.print("stopping...")
    finally:
        if server is not None:
            server.stop()
        store.close()
        if keep:
            out.print(f"database kept: {database}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    out.print("demo stopped")


def _announce(
    name: str,
    agreement: str,
    base: str,
    tokens: dict[str, str],
    folder: Path,
    speed: float,
) -> None:
    out.print(
        f"[bold]SkySep demo[/]: {name}, agreement {agreement}, x{speed:g} real time",
        soft_wrap=True,
    )
    out.print(f"database: {folder / 'skysep.sqlite3'} (deleted at the end; --keep keeps it)")
    for party, token in tokens.items():
        out.print(f"\n[bold]{party}[/] dashboard: {dashboard_url(base, token)}", soft_wrap=True)
        out.print(f"  token (for the API, or the sign-in form): {token}", soft_wrap=True)
    out.print(f"\nAPI docs: {base}/docs  (OpenAPI: {base}/openapi.json)")
    out.print("Ctrl-C stops the demo.\n")


def _run(
    drill: Scenario,
    base: str,
    tokens: dict[str, str],
    clock: Callable[[], float],
    *,
    speed: float,
    seed: int | None,
    duration_s: float | None,
) -> None:
    """Feed the scenario to the service, each party with its own client and token."""
    from skysep.errors import FeedError
    from skysep.simulate import simulate
    from skysep.simulate.feed import feed

    total_s = drill.duration_s if duration_s is None else duration_s
    with err.status("feeding the service...") as status:

        def progress(batch: Batch, stats: FeedStats) -> None:
            elapsed = batch.time_s - drill.start_s
            status.update(
                f"scenario {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d} of "
                f"{int(total_s) // 60:02d}:{int(total_s) % 60:02d}, "
                f"{sum(stats.reports.values())} reports sent"
            )

        try:
            stats = feed(
                simulate(drill, seed=seed, duration_s=duration_s),
                base,
                tokens,
                parties=drill.party_ids,
                speed=speed,
                time_base="now",
                wall_clock=clock,
                progress=progress,
            )
        except FeedError as exc:
            _fail(str(exc))
    sent = ", ".join(f"{p} {stats.reports.get(p, 0)}" for p in drill.party_ids)
    out.print(f"fed {stats.batches} ticks ({sent} reports)")
