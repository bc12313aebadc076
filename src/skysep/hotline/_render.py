"""Rendering hotline messages in a reader's language, from gettext catalogues.

The catalogues are ``locale/<lang>/LC_MESSAGES/skysep.po``, read at run time
with babel (compiled in memory, once per language). Every user-facing
string below is a msgid passed to :func:`_` or :func:`_n` (the language
first), so that ``pybabel extract -k _:2 -k _n:2,3`` finds them all.
Numbers are formatted for the language with :mod:`babel.numbers`.
"""

from __future__ import annotations

import gettext
import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from skysep import units
from skysep.agreement import LANGUAGES
from skysep.errors import HotlineError
from skysep.hotline._models import (
    Acknowledge,
    Escalation,
    FreeText,
    IncidentReport,
    Message,
    NoticeOfOperations,
    Request,
    TrafficAlert,
    Unable,
    parse_message,
)

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "catalogue_path", "render", "translations"]

#: The gettext domain: the catalogues' file name without ``.po``.
DOMAIN: Final = "skysep"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
#: Below this many seconds a duration is shown in seconds, above in minutes.
SECONDS_SHOWN_BELOW_S: Final = 120.0


def _check(language: str) -> str:
    if language not in LANGUAGES:
        raise HotlineError(
            f"language {language!r} is not a valid option, must be one of {', '.join(LANGUAGES)}"
        )
    return language


def catalogue_path(language: str) -> Path:
    """The .po file of a language."""
    return LOCALE_DIR / _check(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The language's catalogue, read from its .po file and compiled in memory."""
    path = catalogue_path(language)
    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN)
    except OSError as exc:
        raise HotlineError(f"{path}: the catalogue cannot be read ({exc})") from None
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(language: str, msgid: str, **fields: Any) -> str:
    return translations(language).gettext(msgid).format(**fields)


def _n(language: str, singular: str, plural: str, n: int, **fields: Any) -> str:
    return translations(language).ngettext(singular, plural, n).format(n=n, **fields)


def _number(value: float, language: str, pattern: str) -> str:
    return format_decimal(value, format=pattern, locale=language)


def _nm(metres: float, language: str) -> str:
    return _(
        language, "{distance} NM", distance=_number(units.m_to_nm(metres), language, "#,##0.0")
    )


def _ft(feet: float, language: str) -> str:
    return _(language, "{height} ft", height=_number(round(feet), language, "#,##0"))


def _duration(seconds: float, language: str) -> str:
    if seconds < SECONDS_SHOWN_BELOW_S:
        return _(language, "{seconds} s", seconds=_number(round(seconds), language, "#,##0"))
    return _(language, "{minutes} min", minutes=_number(seconds / 60, language, "#,##0.#"))


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def render(message: Message | dict[str, Any], language: str) -> str:
    """A message as its reader reads it, in ``language`` (one of :data:`LANGUAGES`).

    Free text (a free-text message, summaries, an unable's detail) is shown
    as written; everything else comes from the language's catalogue.
    """
    _check(language)
    m = parse_message(message)
    if isinstance(m, TrafficAlert):
        level = {
            "warning": _(language, "WARNING"),
            "caution": _(language, "CAUTION"),
            "advisory": _(language, "ADVISORY"),
        }[m.level]
        fields = {
            "level": level,
            "aircraft_a": m.aircraft_a,
            "party_a": m.party_a,
            "aircraft_b": m.aircraft_b,
            "party_b": m.party_b,
            "t_in": _duration(m.t_in_s, language),
            "t_cpa": _duration(m.t_cpa_s, language),
            "h_cpa": _nm(m.h_cpa_m, language),
            "v_cpa": _ft(units.m_to_ft(m.v_cpa_m), language),
        }
        if m.t_in_s > 0:
            return _(
                language,
                "Traffic {level}: {aircraft_a} ({party_a}) and {aircraft_b} ({party_b}) lose "
                "separation in {t_in}. Closest approach in {t_cpa}: {h_cpa} horizontally, "
                "{v_cpa} vertically.",
                **fields,
            )
        return _(
            language,
            "Traffic {level}: {aircraft_a} ({party_a}) and {aircraft_b} ({party_b}) have lost "
            "separation. Closest approach in {t_cpa}: {h_cpa} horizontally, {v_cpa} vertically.",
            **fields,
        )
    if isinstance(m, Request):
        return _request(m, language)
    if isinstance(m, Acknowledge):
        return _(language, "Acknowledged: message {refers_to}.", refers_to=m.refers_to)
    if isinstance(m, Unable):
        reason = {
            "traffic": _(language, "traffic"),
            "weather": _(language, "weather"),
            "performance": _(language, "aircraft performance"),
            "airspace": _(language, "airspace restriction"),
            "operations": _(language, "operational reasons"),
            "other": _(language, "other reasons"),
        }[m.reason]
        if m.detail is None:
            return _(
                language,
                "Unable to comply with message {refers_to}: {reason}.",
                refers_to=m.refers_to,
                reason=reason,
            )
        return _(
            language,
            "Unable to comply with message {refers_to}: {reason} ({detail}).",
            refers_to=m.refers_to,
            reason=reason,
            detail=m.detail,
        )
    if isinstance(m, NoticeOfOperations):
        return _(
            language,
            "Notice of operations {operation_id}, from {start} to {end}: {summary}",
            operation_id=m.operation_id,
            start=_utc(m.start),
            end=_utc(m.end),
            summary=m.summary,
        )
    if isinstance(m, IncidentReport):
        return _(
            language,
            "Incident report {incident_id}: {summary}",
            incident_id=m.incident_id,
            summary=m.summary,
        )
    if isinstance(m, FreeText):
        return m.text
    assert isinstance(m, Escalation)
    return _n(
        language,
        "Message {refers_to} not acknowledged {overdue} after its deadline: re-sent {n} time.",
        "Message {refers_to} not acknowledged {overdue} after its deadline: re-sent {n} times.",
        m.attempt,
        refers_to=m.refers_to,
        overdue=_duration(m.overdue_s, language),
    )


def _request(m: Request, language: str) -> str:
    a = m.aircraft
    if m.action in ("climb", "descend") and m.flight_level is not None:
        level = f"{m.flight_level:03d}"
        if m.action == "climb":
            return _(language, "Request: {aircraft}, climb to FL{level}.", aircraft=a, level=level)
        return _(language, "Request: {aircraft}, descend to FL{level}.", aircraft=a, level=level)
    if m.action in ("climb", "descend"):
        assert m.altitude_ft is not None
        altitude = _ft(m.altitude_ft, language)
        if m.action == "climb":
            return _(
                language, "Request: {aircraft}, climb to {altitude}.", aircraft=a, altitude=altitude
            )
        return _(
            language, "Request: {aircraft}, descend to {altitude}.", aircraft=a, altitude=altitude
        )
    if m.action == "turn":
        assert m.heading_deg is not None
        heading = f"{round(m.heading_deg) % 360 or 360:03d}"
        if m.direction == "left":
            return _(
                language,
                "Request: {aircraft}, turn left heading {heading}.",
                aircraft=a,
                heading=heading,
            )
        if m.direction == "right":
            return _(
                language,
                "Request: {aircraft}, turn right heading {heading}.",
                aircraft=a,
                heading=heading,
            )
        return _(
            language, "Request: {aircraft}, fly heading {heading}.", aircraft=a, heading=heading
        )
    if m.duration_s is None:
        return _(language, "Request: {aircraft}, hold at present position.", aircraft=a)
    return _(
        language,
        "Request: {aircraft}, hold at present position for {duration}.",
        aircraft=a,
        duration=_duration(m.duration_s, language),
    )
