"""Feed simulated reports to the SkySep service, one HTTP client per party.

The contract (``docs/simulate.md``)::

    POST {URL}/v1/reports
    Authorization: Bearer <the party's token>
    {"reports": [{"time": "2026-11-27T12:00:00.000Z", "aircraft": "N1", "lat": 44.1,
                  "lon": 34.2, "alt_ft": 25000.0, "gs_kt": 450.0, "track_deg": 90.0,
                  "vs_fpm": 0.0}, ...]}

A 2xx answer means accepted and durable. A 4xx answer (422 with
``{"error": {"status", "message", "problems": [{"index", "field", "value",
"message"}]}}``) stops the feed with a :class:`~skysep.errors.FeedError`
quoting the service's message; connection errors, 429 and 5xx answers are
retried with exponential backoff. A report carries no party: the service
takes it from the token, so each party's reports go through its own client
with its own token, as any other client's would.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import httpx
import numpy as np

from skysep import units
from skysep.errors import FeedError
from skysep.replay._types import Tracks
from skysep.simulate._generate import Batch

TimeBase = Literal["now", "scenario"]
#: How report times are stamped: ``now``, scenario time shifted so that its
#: first tick is the (whole) second the feed starts; ``scenario``, as written.
TIME_BASES: Final[tuple[str, ...]] = ("now", "scenario")
#: Where reports are posted, below the service's URL.
REPORTS_PATH: Final = "/v1/reports"
#: Problems of a 422 answer quoted in the error message (the rest are counted).
PROBLEMS_QUOTED: Final = 5
#: Longest wait between two attempts of one request (s).
MAX_BACKOFF_S: Final = 30.0


@dataclass
class FeedStats:
    """What a feed sent: reports and requests per party, retries, and the offset
    added to scenario times (0 with ``time_base="scenario"``)."""

    time_offset_s: float = 0.0
    batches: int = 0
    reports: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    retries: int = 0


# --- tokens ---------------------------------------------------------------------------------------


def parse_tokens(options: Sequence[str]) -> dict[str, str]:
    """``PARTY=TOKEN`` options (``--token``) as a mapping of party to token."""
    tokens: dict[str, str] = {}
    for option in options:
        party, sep, token = option.partition("=")
        party, token = party.strip(), token.strip()
        if not sep or not party or not token:
            shown = party if sep else "..."
            raise FeedError(f"--token must be PARTY=TOKEN, got {shown!r}=<...>")
        if party in tokens:
            raise FeedError(f"--token: party {party!r} is given twice")
        tokens[party] = token
    return tokens


def load_tokens(path: str | Path) -> dict[str, str]:
    """A tokens file: a TOML or JSON table of party = token (``--tokens FILE``)."""
    path = Path(path)
    if path.suffix.lower() not in (".json", ".toml"):
        raise FeedError(f"{path}: a tokens file is .toml or .json, got {path.suffix!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedError(f"{path}: cannot be read: {exc}") from None
    data: Any
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FeedError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise FeedError(f"{path}: must be a table of party = token")
    for party, token in data.items():
        if not isinstance(token, str) or not token.strip():
            raise FeedError(f"{path}: the token of party {party!r} must be a non-empty string")
    return {str(party): token.strip() for party, token in data.items()}


# --- request bodies -------------------------------------------------------------------------------


def iso_time(time_s: float) -> str:
    """Seconds since the epoch as ISO-8601 UTC with milliseconds and ``Z``."""
    stamp = datetime.fromtimestamp(round(time_s, 3), tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def report_json(reports: Tracks, time_offset_s: float = 0.0) -> list[dict[str, Any]]:
    """Reports as the service's JSON objects (aviation units, party left out)."""
    alt_ft = units.m_to_ft(reports.alt_m)
    gs_kt = units.mps_to_kt(reports.gs_mps)
    vs_fpm = units.mps_to_fpm(reports.vs_mps)

    def number(value: float, digits: int) -> float | None:
        return None if math.isnan(value) else round(float(value), digits)

    return [
        {
            "time": iso_time(float(reports.time_s[k]) + time_offset_s),
            "aircraft": str(reports.aircraft[k]),
            "lat": number(reports.lat_deg[k], 7),
            "lon": number(reports.lon_deg[k], 7),
            "alt_ft": number(alt_ft[k], 1),
            "gs_kt": number(gs_kt[k], 2),
            "track_deg": number(reports.track_deg[k], 2),
            "vs_fpm": number(vs_fpm[k], 1),
        }
        for k in range(len(reports))
    ]


def _refusal(party: str, response: httpx.Response, sent: Sequence[Mapping[str, Any]]) -> str:
    """The service's 4xx answer as one message."""
    head = f"the service refused party {party!r}'s reports: HTTP {response.status_code}"
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        text = response.text.strip()[:200]
        return f"{head}: {text}" if text else head
    lines = [f"{head}: {error.get('message', '')}".rstrip(": ")]
    problems = error.get("problems") or []
    for problem in problems[:PROBLEMS_QUOTED]:
        if not isinstance(problem, dict):
            continue
        index = problem.get("index")
        report = sent[index] if isinstance(index, int) and 0 <= index < len(sent) else None
        which = (
            f"report {index} ({report.get('aircraft')} at {report.get('time')})"
            if report is not None
            else f"report {index}"
        )
        lines.append(
            f"  {which}, field {problem.get('field')!r}: {problem.get('value')!r}: "
            f"{problem.get('message')}"
        )
    if len(problems) > PROBLEMS_QUOTED:
        lines.append(f"  ... and {len(problems) - PROBLEMS_QUOTED} more problem(s)")
    return "\n".join(lines)


# --- the feed -------------------------------------------------------------------------------------


class PartyClient:
    """One party's connection to the service: its own :class:`httpx.Client` and token."""

    def __init__(
        self,
        url: str,
        party: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 5,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.party = party
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "skysep-simulate"},
            timeout=timeout_s,
        )

    def post(self, reports: Sequence[Mapping[str, Any]]) -> int:
        """Post reports until the service accepts them; returns the retries it took."""
        body = {"reports": list(reports)}
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempt - 1)))
            try:
                response = self.client.post(REPORTS_PATH, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return attempt
            status = response.status_code
            if 400 <= status < 500 and status != 429:
                raise FeedError(_refusal(self.party, response, reports))
            last = f"HTTP {status}"
        raise FeedError(
            f"could not send party {self.party!r}'s reports to {self.client.base_url}"
            f"{REPORTS_PATH} after {self.retries + 1} attempt(s): {last}"
        )

    def close(self) -> None:
        self.client.close()


def feed(
    batches: Iterable[Batch],
    url: str,
    tokens: Mapping[str, str],
    *,
    parties: Sequence[str] | None = None,
    speed: float = 1.0,
    time_base: TimeBase = "now",
    max_reports_per_request: int = 500,
    retries: int = 5,
    backoff_s: float = 0.5,
    timeout_s: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], float] = time.time,
    progress: Callable[[Batch, FeedStats], None] | None = None,
) -> FeedStats:
    """Post each batch's reports to ``{url}/v1/reports``, each party with its own client.

    Batches are paced at ``speed`` scenario seconds per wall-clock second
    (``math.inf``: as fast as the service takes them), measured from the
    first batch; a tick's reports of one party go in one request (or several
    of at most ``max_reports_per_request``). ``parties``: the parties that will
    report (the scenario's); each needs a token, and a token for any other
    party is refused as a likely typo. With ``time_base="now"`` report times
    are shifted so that the first tick is the whole second the feed starts:
    at a ``speed`` above 1 they run ahead of the wall clock, as the scenario's
    time does.
    """
    if not speed > 0:
        raise FeedError(f"speed must be a positive number (or inf), got {speed!r}")
    if time_base not in TIME_BASES:
        raise FeedError(
            f"time base {time_base!r} is not a valid option, must be one of {', '.join(TIME_BASES)}"
        )
    if max_reports_per_request < 1:
        raise FeedError(
            f"max_reports_per_request must be at least 1, got {max_reports_per_request}"
        )
    if not url.startswith(("http://", "https://")):
        raise FeedError(f"{url!r} is not an http:// or https:// URL")
    if parties is not None:
        missing = [p for p in parties if p not in tokens]
        if missing:
            raise FeedError(
                f"no token for part{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(repr(p) for p in missing)}: give --token PARTY=TOKEN or --tokens FILE"
            )
        unknown = [p for p in tokens if p not in parties]
        if unknown:
            raise FeedError(
                f"a token for {', '.join(repr(p) for p in unknown)}, which the scenario does not "
                f"have; its parties: {', '.join(parties)}"
            )
    clients = {
        party: PartyClient(
            url,
            party,
            token,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
        for party, token in tokens.items()
    }
    stats = FeedStats()
    started: tuple[float, float] | None = None  # (first tick, clock then)
    try:
        for batch in batches:
            if started is None:
                started = (batch.time_s, clock())
                if time_base == "now":
                    stats.time_offset_s = math.floor(wall_clock()) - batch.time_s
            elif math.isfinite(speed):
                wait_s = started[1] + (batch.time_s - started[0]) / speed - clock()
                if wait_s > 0:
                    sleep(wait_s)
            _send(batch, clients, stats, max_reports_per_request)
            stats.batches += 1
            if progress is not None:
                progress(batch, stats)
    finally:
        for client in clients.values():
            client.close()
    return stats


def _send(batch: Batch, clients: Mapping[str, PartyClient], stats: FeedStats, most: int) -> None:
    reports = batch.reports
    if len(reports) == 0:
        return
    party_of = reports.party if reports.party is not None else np.full(len(reports), None)
    for party in sorted({str(p) for p in party_of}):
        client = clients.get(party)
        if client is None:
            raise FeedError(f"no token for party {party!r}: give --token {party}=TOKEN")
        rows = np.flatnonzero(party_of == party)
        body = report_json(_take(reports, rows), stats.time_offset_s)
        for first in range(0, len(body), most):
            chunk = body[first : first + most]
            stats.retries += client.post(chunk)
            stats.requests[party] = stats.requests.get(party, 0) + 1
            stats.reports[party] = stats.reports.get(party, 0) + len(chunk)


def _take(reports: Tracks, rows: np.ndarray[Any, Any]) -> Tracks:
    return Tracks(
        aircraft=reports.aircraft[rows],
        time_s=reports.time_s[rows],
        lat_deg=reports.lat_deg[rows],
        lon_deg=reports.lon_deg[rows],
        alt_m=reports.alt_m[rows],
        gs_mps=reports.gs_mps[rows],
        track_deg=reports.track_deg[rows],
        vs_mps=reports.vs_mps[rows],
        party=None if reports.party is None else reports.party[rows],
    )
