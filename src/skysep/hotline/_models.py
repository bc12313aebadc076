"""Hotline messages: one typed model per kind, told apart by ``kind``.

Quantities are SI inside (seconds, metres) with the unit in the name, except
where aviation states them otherwise in a request (``altitude_ft``,
``flight_level``); rendering converts them to NM, ft, FL, s and min.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from skysep.errors import HotlineError

__all__ = [
    "ACTIONS",
    "DIRECTIONS",
    "MESSAGE_KINDS",
    "REASONS",
    "REQUIRES_ACK",
    "Acknowledge",
    "Escalation",
    "FreeText",
    "IncidentReport",
    "Message",
    "NoticeOfOperations",
    "Request",
    "TrafficAlert",
    "Unable",
    "message_problems",
    "parse_message",
]

ACTIONS: Final = ("climb", "descend", "turn", "hold")
DIRECTIONS: Final = ("left", "right")
#: Reasons an ``unable`` may give (rendered from the catalogue; ``detail`` is free text).
REASONS: Final = ("traffic", "weather", "performance", "airspace", "operations", "other")

Id = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrafficAlert(_Message):
    """A conflict between two parties' aircraft, as the engine predicts it."""

    kind: Literal["traffic_alert"] = "traffic_alert"
    aircraft_a: Id
    party_a: Id
    aircraft_b: Id
    party_b: Id
    level: Literal["warning", "caution", "advisory"]
    #: Seconds until separation is lost (0: already lost).
    t_in_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    #: Seconds until the closest point of approach.
    t_cpa_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    #: Horizontal and vertical separation at the closest point of approach (m).
    h_cpa_m: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    v_cpa_m: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Request(_Message):
    """A request to the other party about one of its aircraft.

    ``climb``/``descend``: exactly one of ``altitude_ft`` and
    ``flight_level``; ``turn``: ``heading_deg``, optionally ``direction``;
    ``hold`` (at present position): optionally ``duration_s``. Other
    parameters are refused.
    """

    kind: Literal["request"] = "request"
    aircraft: Id
    action: Literal["climb", "descend", "turn", "hold"]
    altitude_ft: Annotated[float, Field(ge=-1500, le=100_000, allow_inf_nan=False)] | None = None
    flight_level: Annotated[int, Field(ge=0, le=999)] | None = None
    heading_deg: Annotated[float, Field(ge=0, lt=360, allow_inf_nan=False)] | None = None
    direction: Literal["left", "right"] | None = None
    duration_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _parameters_fit_the_action(self) -> Request:
        allowed = {
            "climb": {"altitude_ft", "flight_level"},
            "descend": {"altitude_ft", "flight_level"},
            "turn": {"heading_deg", "direction"},
            "hold": {"duration_s"},
        }[self.action]
        given = {
            name
            for name in ("altitude_ft", "flight_level", "heading_deg", "direction", "duration_s")
            if getattr(self, name) is not None
        }
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(
                f"action {self.action!r} takes no {', '.join(extra)} "
                f"(it takes {', '.join(sorted(allowed))})"
            )
        if self.action in ("climb", "descend") and len(given) != 1:
            raise ValueError(
                f"action {self.action!r} needs exactly one of altitude_ft and flight_level"
            )
        if self.action == "turn" and self.heading_deg is None:
            raise ValueError("action 'turn' needs heading_deg")
        return self


class Acknowledge(_Message):
    """Message ``refers_to`` received and understood (and, for a request, will be complied with)."""

    kind: Literal["acknowledge"] = "acknowledge"
    refers_to: Id


class Unable(_Message):
    """Message ``refers_to`` received, but cannot be complied with."""

    kind: Literal["unable"] = "unable"
    refers_to: Id
    reason: Literal["traffic", "weather", "performance", "airspace", "operations", "other"]
    #: Free text, shown as written (not translated).
    detail: Text | None = None


class NoticeOfOperations(_Message):
    """Operations (flights, exercises...) planned over a time window."""

    kind: Literal["notice_of_operations"] = "notice_of_operations"
    operation_id: Id
    start: AwareDatetime
    end: AwareDatetime
    #: Free text, shown as written.
    summary: Text

    @model_validator(mode="after")
    def _window(self) -> NoticeOfOperations:
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class IncidentReport(_Message):
    """A party's report of an incident."""

    kind: Literal["incident_report"] = "incident_report"
    incident_id: Id
    #: Free text, shown as written.
    summary: Text


class FreeText(_Message):
    """Free text, shown as written."""

    kind: Literal["free_text"] = "free_text"
    text: Text


class Escalation(_Message):
    """Written by the service: message ``refers_to`` was not acknowledged by its deadline."""

    kind: Literal["escalation"] = "escalation"
    refers_to: Id
    #: 1 for the first escalation, then 2, 3...
    attempt: Annotated[int, Field(ge=1)]
    #: Seconds past the deadline when escalated.
    overdue_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]


Message = Annotated[
    TrafficAlert
    | Request
    | Acknowledge
    | Unable
    | NoticeOfOperations
    | IncidentReport
    | FreeText
    | Escalation,
    Field(discriminator="kind"),
]

#: The message kinds, in the order above.
MESSAGE_KINDS: Final = (
    "traffic_alert",
    "request",
    "acknowledge",
    "unable",
    "notice_of_operations",
    "incident_report",
    "free_text",
    "escalation",
)
#: Kinds that require an acknowledgement by default (the sender may ask it of
#: a free text too).
REQUIRES_ACK: Final = frozenset(
    {"traffic_alert", "request", "notice_of_operations", "incident_report"}
)

_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def parse_message(data: Mapping[str, Any] | Message) -> Message:
    """A message from its JSON object; :class:`~skysep.errors.HotlineError`
    naming every bad field and its value (and the valid options) otherwise."""
    if isinstance(data, BaseModel):
        return data
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise HotlineError("; ".join(_describe(e) for e in exc.errors())) from None


def message_problems(data: Any) -> list[tuple[str, Any, str]]:
    """Every problem of a message's JSON object as ``(field, value, description)``; empty
    when it is valid.

    ``field`` is the field's path below the message (``action``, ``flight_level``), ``kind``
    for a missing or unknown kind, or ``message`` for a problem of the whole message (a
    request's parameters that do not fit its action: ``value`` is then None). The
    descriptions are those of :func:`parse_message`'s error.
    """
    try:
        _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = [str(p) for p in error["loc"][1:] if not isinstance(p, int)]
            value = error.get("input")
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                path, value = ["kind"], (error.get("ctx") or {}).get("tag")
            elif not path:
                value = None
            problems.append((".".join(path) or "message", value, _describe(error)))
        return problems
    return []


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"] if not isinstance(p, int)) or "message"
    value = error.get("input")
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "union_tag_invalid":
        return (
            f"kind {ctx.get('tag')!r} is not a valid option, must be one of "
            f"{', '.join(MESSAGE_KINDS)}"
        )
    if kind == "union_tag_not_found":
        return f"no kind given; it must be one of {', '.join(MESSAGE_KINDS)}"
    if kind == "literal_error":
        return f"{where} {value!r} is not a valid option, must be one of {ctx.get('expected')}"
    if kind == "missing":
        return f"{where} is missing"
    if kind == "extra_forbidden":
        return f"{where} is not a field of this kind of message (value {value!r})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{where} {value!r}: {error['msg']}"
