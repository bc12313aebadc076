"""What goes over the wire: request and response bodies (pydantic v2).

At this edge quantities are in aviation units with the unit in the name
(``alt_ft``, ``gs_kt``, ``vs_fpm``, ``h_nm``); times are ISO-8601 UTC. The
storage and the live picture below are SI; :mod:`skysep.units` converts.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator
from pydantic_core import PydanticCustomError

from skysep import units
from skysep.agreement import LANGUAGES

PARTY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: An aircraft id: 1-64 printable characters, no spaces.
AIRCRAFT_PATTERN = r"^[!-~]{1,64}$"
MAX_BATCH = 10_000
#: Error type of a report that gives its altitude in no unit or in both (fields alt_ft, alt_m).
ALTITUDE_ERROR = "altitude_once"


@lru_cache(maxsize=1 << 16)
def iso(time_s: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC with a ``Z`` (None stays None). Cached: a cycle's
    alerts repeat its time and their aircraft's report times many times over."""
    if time_s is None:
        return None
    return datetime.fromtimestamp(time_s, UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> float:
    """ISO-8601 (naive = UTC) or epoch seconds, as epoch seconds."""
    if isinstance(value, bool):
        raise ValueError(f"time must be ISO-8601 UTC or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"time must be finite, got {value!r}")
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"time {value!r} is not ISO-8601 (e.g. 2026-11-27T12:00:00Z) nor epoch seconds"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise ValueError(f"time must be ISO-8601 UTC or epoch seconds, got {value!r}")


class ReportIn(BaseModel):
    """One position report, with the fields and units of the track files."""

    model_config = ConfigDict(extra="forbid")

    # Parsed by pydantic-core (no Python validator: this runs 10,000 times a second).
    time: Annotated[
        datetime | FiniteFloat,
        Field(description="ISO-8601 UTC (naive is taken as UTC) or epoch seconds."),
    ]
    aircraft: Annotated[str, Field(pattern=AIRCRAFT_PATTERN, description="The aircraft's id.")]
    party: Annotated[
        str | None,
        Field(description="Optional; when given it must be the caller's own party."),
    ] = None
    lat: Annotated[float, Field(ge=-90.0, le=90.0, description="Latitude, degrees WGS84.")]
    lon: Annotated[float, Field(ge=-180.0, le=180.0, description="Longitude, degrees WGS84.")]
    alt_ft: Annotated[float | None, Field(ge=-6_500.0, le=328_000.0)] = None
    alt_m: Annotated[float | None, Field(ge=-2_000.0, le=100_000.0)] = None
    gs_kt: Annotated[float | None, Field(ge=0.0, le=3_800.0, description="Ground speed.")] = None
    track_deg: Annotated[
        float | None, Field(ge=0.0, le=360.0, description="True track, clockwise from north.")
    ] = None
    vs_fpm: Annotated[
        float | None, Field(ge=-98_000.0, le=98_000.0, description="Vertical rate.")
    ] = None

    @model_validator(mode="after")
    def _one_altitude(self) -> ReportIn:
        if (self.alt_ft is None) == (self.alt_m is None):
            # A model-level error has no field in its location: its type names the fields.
            raise PydanticCustomError(
                ALTITUDE_ERROR,
                "give the altitude once: exactly one of alt_ft, alt_m (got {alt_ft}, {alt_m})",
                {"alt_ft": self.alt_ft, "alt_m": self.alt_m},
            )
        return self

    @property
    def time_s(self) -> float:
        """Epoch seconds (a naive time is UTC)."""
        t = self.time
        if isinstance(t, datetime):
            return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp()
        return t

    @property
    def alt_si(self) -> float:
        if self.alt_m is not None:
            return self.alt_m
        assert self.alt_ft is not None
        return float(units.ft_to_m(self.alt_ft))


class ReportBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: Annotated[list[ReportIn], Field(min_length=1, max_length=MAX_BATCH)]


class Accepted(BaseModel):
    accepted: int = Field(description="Reports of the batch, all durably stored.")
    duplicates: int = Field(
        0, description="Of them, reports of an aircraft at a time already stored (kept once)."
    )


class Problem(BaseModel):
    index: int | None = Field(None, description="Index of the offending report in the batch.")
    field: str | None = Field(None, description="The offending field.")
    value: Any = Field(None, description="The value found.")
    message: str


def problem_value(value: Any) -> Any:
    """``value`` as a :class:`Problem` shows it: itself when JSON carries it as it is (no
    NaN or infinity, which a JSON response refuses), else its repr."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


class ErrorBody(BaseModel):
    status: int
    message: str
    problems: list[Problem] = Field(default_factory=list)


class ErrorOut(BaseModel):
    """Every error the service returns has this shape."""

    error: ErrorBody


class AircraftState(BaseModel):
    """An aircraft as the live picture holds it, moved to ``time``."""

    party: str
    aircraft: str
    time: str | None
    report_time: str | None
    lat: float
    lon: float
    alt_ft: float
    gs_kt: float
    track_deg: float
    vs_fpm: float

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> AircraftState:
        return cls(
            party=s["party"],
            aircraft=s["aircraft"],
            time=iso(s["time"]),
            report_time=iso(s["report_time"]),
            lat=s["lat_deg"],
            lon=s["lon_deg"],
            alt_ft=float(units.m_to_ft(s["alt_m"])),
            gs_kt=float(units.mps_to_kt(s["gs_mps"])),
            track_deg=s["track_deg"],
            vs_fpm=float(units.mps_to_fpm(s["vs_mps"])),
        )


class ClosestPoint(BaseModel):
    time: str | None
    t_s: float | None = Field(description="Seconds from the alert's time to the CPA.")
    h_nm: float | None = Field(description="Horizontal separation at the CPA.")
    v_ft: float | None = Field(description="Vertical separation at the CPA.")
    lat: float | None = Field(description="Midpoint of the two aircraft at the CPA.")
    lon: float | None
    alt_ft: float | None


class AlertOut(BaseModel):
    """An alert event as one party sees it: its own aircraft first."""

    id: int
    time: str | None
    event: Literal["new", "level", "resolved"]
    level: Literal["warning", "caution", "advisory"]
    previous_level: str | None
    own_aircraft: str
    own_party: str
    other_aircraft: str
    other_party: str
    own: AircraftState | None
    other: AircraftState | None = Field(description="The other aircraft's state at the time.")
    t_in_s: float | None = Field(description="Seconds to the loss of separation (0: now).")
    t_out_s: float | None = Field(description="Seconds to its end (null: never, in lookahead).")
    h_now_nm: float | None
    v_now_ft: float | None
    cpa: ClosestPoint
    horizontal_nm: float = Field(description="The minima that apply to the pair.")
    vertical_ft: float
    first_alert: str | None = Field(description="When the pair's current alert episode began.")
    report_received_at: str | None = Field(
        description="When the newest report behind this event reached the service."
    )


class IncidentOut(BaseModel):
    """A loss of separation recorded live (the fields of the replay's incidents.csv)."""

    id: int
    status: Literal["open", "closed", "recorded"] = Field(
        description="open: going on; closed: ended, track segment pending; recorded: complete."
    )
    aircraft_a: str
    aircraft_b: str
    party_a: str
    party_b: str
    start: str | None
    end: str | None
    duration_s: float | None
    min_h_m: float
    min_v_m: float
    time_of_min: str | None
    lat: float
    lon: float
    alt_m: float
    first_alert: str | None
    lead_time_s: float | None
    level_at_start: str | None


class TrackPoint(BaseModel):
    party: str
    aircraft: str
    time: str | None
    lat: float
    lon: float
    alt_ft: float
    gs_kt: float | None
    track_deg: float | None
    vs_fpm: float | None


class IncidentTracks(BaseModel):
    incident: IncidentOut
    tracks: list[TrackPoint]


class Traffic(BaseModel):
    """The party's own aircraft and what is disclosed of the others, at the last cycle."""

    time: str | None
    aircraft: list[AircraftState]


class Me(BaseModel):
    party: str
    name: str
    language: str


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=PARTY_ID_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    language: Literal["en", "fr", "ru"] = "en"


class PartyOut(BaseModel):
    id: str
    name: str
    language: str
    created_at: str | None


class TokenOut(BaseModel):
    token_id: int
    party: str | None
    token: str = Field(description="The bearer token. Shown once: only its hash is stored.")


class TokenInfo(BaseModel):
    id: int
    party: str | None
    role: str
    created_at: str | None
    revoked_at: str | None


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    aircraft: int
    cycle_time: str | None
    cycle_ms: float | None = Field(
        description="How long the last cycle took, from its start to its last step."
    )
    alerts_ms: float | None = Field(
        description="The last cycle's start to its alerts handed to the WebSockets and "
        "event streams (detected, stored, published)."
    )


assert set(LANGUAGES) == {"en", "fr", "ru"}, "PartyIn.language must list the agreement's languages"
