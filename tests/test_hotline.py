"""Hotline messages: validation, rendering from the catalogues, acknowledgement deadlines."""

# Russian text in Cyrillic is the point here, not a look-alike of Latin letters.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

import skysep.hotline as hotline
from skysep.agreement import LANGUAGES
from skysep.errors import HotlineError, SkySepError
from skysep.hotline import (
    Acknowledge,
    AckState,
    FreeText,
    Request,
    Unable,
    answered,
    catalogue_path,
    due_escalations,
    next_due,
    parse_message,
    render,
)

SOURCES = sorted(Path(hotline.__file__).parent.glob("*.py"))
KEYWORDS = {"_": (2,), "_n": (2, 3)}

ALERT: dict[str, Any] = {
    "kind": "traffic_alert",
    "aircraft_a": "AFR12",
    "party_a": "blue",
    "aircraft_b": "RFF3",
    "party_b": "red",
    "level": "caution",
    "t_in_s": 95.0,
    "t_cpa_s": 160.0,
    "h_cpa_m": 2500.0,
    "v_cpa_m": 150.0,
}

#: One message of each kind and variant, and what it reads as in each language.
EXPECTED: list[tuple[dict[str, Any], dict[str, str]]] = [
    (
        ALERT,
        {
            "en": "Traffic CAUTION: AFR12 (blue) and RFF3 (red) lose separation in 95 s. "
            "Closest approach in 2.7 min: 1.3 NM horizontally, 492 ft vertically.",
            "fr": "Trafic ATTENTION\u00a0: AFR12 (blue) et RFF3 (red) perdent la séparation "
            "dans 95 s. Rapprochement maximal dans 2,7 min\u00a0: 1,3 NM horizontalement, "
            "492 ft verticalement.",
            "ru": "Трафик, ВНИМАНИЕ: AFR12 (blue) и RFF3 (red) нарушат интервал "
            "эшелонирования через 95 с. Наибольшее сближение через 2,7 мин: 1,3 м. миль "
            "по горизонтали, 492 фт по вертикали.",
        },
    ),
    (
        {**ALERT, "level": "warning", "t_in_s": 0, "t_cpa_s": 20, "h_cpa_m": 926},
        {
            "en": "Traffic WARNING: AFR12 (blue) and RFF3 (red) have lost separation. "
            "Closest approach in 20 s: 0.5 NM horizontally, 492 ft vertically.",
            "fr": "Trafic ALERTE\u00a0: AFR12 (blue) et RFF3 (red) ont perdu la séparation. "
            "Rapprochement maximal dans 20 s\u00a0: 0,5 NM horizontalement, 492 ft "
            "verticalement.",
            "ru": "Трафик, ОПАСНОСТЬ: AFR12 (blue) и RFF3 (red) нарушили интервал "
            "эшелонирования. Наибольшее сближение через 20 с: 0,5 м. миль по горизонтали, "
            "492 фт по вертикали.",
        },
    ),
    (
        {"kind": "request", "aircraft": "RFF3", "action": "climb", "flight_level": 90},
        {
            "en": "Request: RFF3, climb to FL090.",
            "fr": "Demande\u00a0: RFF3, montez niveau 090.",
            "ru": "Просьба: RFF3, набирайте эшелон 090.",
        },
    ),
    (
        {"kind": "request", "aircraft": "RFF3", "action": "descend", "flight_level": 310},
        {
            "en": "Request: RFF3, descend to FL310.",
            "fr": "Demande\u00a0: RFF3, descendez niveau 310.",
            "ru": "Просьба: RFF3, снижайтесь до эшелона 310.",
        },
    ),
    (
        {"kind": "request", "aircraft": "N12", "action": "climb", "altitude_ft": 4500},
        {
            "en": "Request: N12, climb to 4,500 ft.",
            "fr": "Demande\u00a0: N12, montez à 4\u202f500 ft.",
            "ru": "Просьба: N12, набирайте 4\u00a0500 фт.",
        },
    ),
    (
        {"kind": "request", "aircraft": "N12", "action": "descend", "altitude_ft": 12500},
        {
            "en": "Request: N12, descend to 12,500 ft.",
            "fr": "Demande\u00a0: N12, descendez à 12\u202f500 ft.",
            "ru": "Просьба: N12, снижайтесь до 12\u00a0500 фт.",
        },
    ),
    (
        {
            "kind": "request",
            "aircraft": "N12",
            "action": "turn",
            "heading_deg": 90,
            "direction": "left",
        },
        {
            "en": "Request: N12, turn left heading 090.",
            "fr": "Demande\u00a0: N12, virez à gauche cap 090.",
            "ru": "Просьба: N12, левым разворотом на курс 090.",
        },
    ),
    (
        {
            "kind": "request",
            "aircraft": "N12",
            "action": "turn",
            "heading_deg": 0.2,
            "direction": "right",
        },
        {
            "en": "Request: N12, turn right heading 360.",
            "fr": "Demande\u00a0: N12, virez à droite cap 360.",
            "ru": "Просьба: N12, правым разворотом на курс 360.",
        },
    ),
    (
        {"kind": "request", "aircraft": "N12", "action": "turn", "heading_deg": 275.4},
        {
            "en": "Request: N12, fly heading 275.",
            "fr": "Demande\u00a0: N12, prenez le cap 275.",
            "ru": "Просьба: N12, следуйте курсом 275.",
        },
    ),
    (
        {"kind": "request", "aircraft": "N12", "action": "hold"},
        {
            "en": "Request: N12, hold at present position.",
            "fr": "Demande\u00a0: N12, attendez à la position actuelle.",
            "ru": "Просьба: N12, выполняйте ожидание над текущим местом.",
        },
    ),
    (
        {"kind": "request", "aircraft": "N12", "action": "hold", "duration_s": 450},
        {
            "en": "Request: N12, hold at present position for 7.5 min.",
            "fr": "Demande\u00a0: N12, attendez à la position actuelle pendant 7,5 min.",
            "ru": "Просьба: N12, выполняйте ожидание над текущим местом в течение 7,5 мин.",
        },
    ),
    (
        {"kind": "acknowledge", "refers_to": "m-12"},
        {
            "en": "Acknowledged: message m-12.",
            "fr": "Reçu\u00a0: message m-12.",
            "ru": "Принято: сообщение m-12.",
        },
    ),
    (
        {"kind": "unable", "refers_to": "m-12", "reason": "traffic"},
        {
            "en": "Unable to comply with message m-12: traffic.",
            "fr": "Impossible de se conformer au message m-12\u00a0: trafic.",
            "ru": "Не могу выполнить сообщение m-12: воздушное движение.",
        },
    ),
    (
        {"kind": "unable", "refers_to": "m-12", "reason": "performance", "detail": "ceiling"},
        {
            "en": "Unable to comply with message m-12: aircraft performance (ceiling).",
            "fr": "Impossible de se conformer au message m-12\u00a0: performances de "
            "l'aéronef (ceiling).",
            "ru": "Не могу выполнить сообщение m-12: лётно-технические характеристики "
            "воздушного судна (ceiling).",
        },
    ),
    (
        {
            "kind": "notice_of_operations",
            "operation_id": "OP-4",
            "start": "2025-03-01T10:00:00Z",
            "end": "2025-03-01T13:30:00+01:00",
            "summary": "Exercise NORTH, FL100-FL200",
        },
        {
            "en": "Notice of operations OP-4, from 2025-03-01 10:00Z to 2025-03-01 12:30Z: "
            "Exercise NORTH, FL100-FL200",
            "fr": "Avis d'opérations OP-4, du 2025-03-01 10:00Z au 2025-03-01 12:30Z\u00a0: "
            "Exercise NORTH, FL100-FL200",
            "ru": "Уведомление о полётах OP-4, с 2025-03-01 10:00Z до 2025-03-01 12:30Z: "
            "Exercise NORTH, FL100-FL200",
        },
    ),
    (
        {"kind": "incident_report", "incident_id": "inc-7", "summary": "Near miss at FL240"},
        {
            "en": "Incident report inc-7: Near miss at FL240",
            "fr": "Compte rendu d'incident inc-7\u00a0: Near miss at FL240",
            "ru": "Донесение об инциденте inc-7: Near miss at FL240",
        },
    ),
    (
        {"kind": "free_text", "text": "Bonjour, здравствуйте"},
        {lang: "Bonjour, здравствуйте" for lang in ("en", "fr", "ru")},
    ),
]


@pytest.mark.parametrize(("message", "expected"), EXPECTED)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_renders_in_every_language(
    message: dict[str, Any], expected: dict[str, str], language: str
) -> None:
    assert render(message, language) == expected[language]
    assert render(parse_message(message), language) == expected[language]


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        (1, "отправлено повторно 1 раз."),
        (2, "отправлено повторно 2 раза."),
        (4, "отправлено повторно 4 раза."),
        (5, "отправлено повторно 5 раз."),
        (11, "отправлено повторно 11 раз."),
        (21, "отправлено повторно 21 раз."),
        (22, "отправлено повторно 22 раза."),
    ],
)
def test_russian_plurals(attempt: int, expected: str) -> None:
    message = {"kind": "escalation", "refers_to": "m-1", "attempt": attempt, "overdue_s": 30}
    text = render(message, "ru")
    assert text.startswith("Сообщение m-1 не подтверждено через 30 с после срока")
    assert text.endswith(expected)


@pytest.mark.parametrize(
    ("attempt", "en", "fr"),
    [(1, "re-sent 1 time.", "renvoyé 1 fois."), (3, "re-sent 3 times.", "renvoyé 3 fois.")],
)
def test_english_and_french_plurals(attempt: int, en: str, fr: str) -> None:
    message = {"kind": "escalation", "refers_to": "m-1", "attempt": attempt, "overdue_s": 200}
    assert render(message, "en") == (
        f"Message m-1 not acknowledged 3.3 min after its deadline: {en}"
    )
    assert render(message, "fr").endswith(fr)


def test_an_unknown_language_lists_the_valid_ones() -> None:
    with pytest.raises(
        HotlineError, match=r"language 'de' is not a valid option, must be one of en, fr, ru"
    ):
        render(ALERT, "de")


# --- the catalogues ---------------------------------------------------------------------------


def _msgids_in_code() -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for path in SOURCES:
        for _, message, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(message if isinstance(message, tuple) else (message,))
    return found


def _catalogue(language: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    with catalogue_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    out = {}
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, (language, ids)
        out[ids] = strs
    return out


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_code_uses_msgids() -> None:
    used = _msgids_in_code()
    assert len(used) >= 25  # the extraction finds the calls (a renamed helper would hide them)
    assert ("Request: {aircraft}, climb to FL{level}.",) in used


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_msgid_is_translated_with_the_same_placeholders(language: str) -> None:
    catalogue = _catalogue(language)
    used = _msgids_in_code()
    assert set(catalogue) == used, "msgids missing from / unused in the catalogue"
    for ids, strs in catalogue.items():
        assert all(s.strip() for s in strs), (language, ids)
        expected = set().union(*(_fields(i) for i in ids))
        for s in strs:
            assert _fields(s) == expected, (language, ids, s)


@pytest.mark.parametrize(("language", "script"), [("fr", "[a-zàâçéèêëîïôûùüÿœ]"), ("ru", "[а-яё]")])
def test_translations_are_in_the_language(language: str, script: str) -> None:
    for ids, strs in _catalogue(language).items():
        words = re.sub(r"\{[a-z_]+\}", "", " ".join(strs))
        letters = re.findall(r"[^\W\d_]", words.lower())
        if language == "ru":
            assert any(re.fullmatch(script, c) for c in letters), ids
            assert not re.search(r"[a-z]{3,}", words), (ids, words)  # no English left over
        elif ids[0] not in ("{distance} NM", "{height} ft", "{seconds} s", "{minutes} min"):
            assert strs[0] != ids[0], ids  # French differs from the English (units aside)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"kind": "request", "aircraft": "A", "action": "jump"},
            r"action 'jump' is not a valid option, must be one of 'climb', 'descend', "
            r"'turn' or 'hold'",
        ),
        (
            {"kind": "shout"},
            r"kind 'shout' is not a valid option, must be one of traffic_alert, request",
        ),
        ({}, "no kind given"),
        (
            {"kind": "request", "aircraft": "A", "action": "climb"},
            "exactly one of altitude_ft and flight_level",
        ),
        (
            {
                "kind": "request",
                "aircraft": "A",
                "action": "climb",
                "flight_level": 350,
                "altitude_ft": 1000,
            },
            "exactly one",
        ),
        (
            {"kind": "request", "aircraft": "A", "action": "hold", "heading_deg": 10},
            "action 'hold' takes no heading_deg",
        ),
        ({"kind": "request", "aircraft": "A", "action": "turn"}, "needs heading_deg"),
        (
            {"kind": "request", "aircraft": "A", "action": "turn", "heading_deg": 360},
            r"heading_deg 360",
        ),
        (
            {
                "kind": "request",
                "aircraft": "A",
                "action": "turn",
                "heading_deg": 10,
                "direction": "up",
            },
            r"direction 'up' is not a valid option, must be one of 'left' or 'right'",
        ),
        ({**ALERT, "level": "red"}, r"level 'red' is not a valid option"),
        ({**ALERT, "t_in_s": -1}, r"t_in_s -1"),
        ({**ALERT, "h_cpa_m": float("nan")}, r"h_cpa_m nan"),
        ({**ALERT, "colour": "red"}, r"colour is not a field"),
        (
            {"kind": "unable", "refers_to": "m", "reason": "lazy"},
            r"reason 'lazy' is not a valid option",
        ),
        (
            {
                "kind": "notice_of_operations",
                "operation_id": "o",
                "start": "2025-03-01T10:00:00",
                "end": "2025-03-01T11:00:00Z",
                "summary": "x",
            },
            r"start",
        ),
        (
            {
                "kind": "notice_of_operations",
                "operation_id": "o",
                "start": "2025-03-01T10:00:00Z",
                "end": "2025-03-01T10:00:00Z",
                "summary": "x",
            },
            r"is not after start",
        ),
        ({"kind": "free_text", "text": ""}, r"text ''"),
    ],
)
def test_validation_errors_name_the_field_and_value(data: dict[str, Any], message: str) -> None:
    with pytest.raises(HotlineError, match=message):
        parse_message(data)


def test_models_are_usable_directly() -> None:
    request = Request(aircraft="A", action="climb", flight_level=350)
    assert request.kind == "request"
    assert parse_message(request.model_dump(mode="json")) == request
    assert issubclass(HotlineError, SkySepError)
    assert {"request", "traffic_alert"} <= hotline.REQUIRES_ACK
    assert not {"acknowledge", "unable", "free_text"} & hotline.REQUIRES_ACK


# --- acknowledgement deadlines ------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_nothing_is_due_before_the_deadline() -> None:
    states = [AckState("m1", at(0))]
    assert due_escalations(states, set(), at(59.9), deadline_s=60) == []
    assert next_due(states, set(), deadline_s=60) == at(60)


def test_an_unanswered_message_is_escalated_at_its_deadline() -> None:
    (due,) = due_escalations([AckState("m1", at(0))], set(), at(75), deadline_s=60)
    assert (due.message_id, due.deadline, due.overdue_s, due.previous, due.attempt) == (
        "m1",
        at(60),
        15.0,
        0,
        1,
    )


def test_answered_and_not_requiring_ack_are_never_escalated() -> None:
    states = [
        AckState("m1", at(0)),
        AckState("m2", at(0)),
        AckState("m3", at(0), requires_ack=False),
    ]
    replies = [
        Acknowledge(refers_to="m1"),
        Unable(refers_to="m2", reason="weather"),
        FreeText(text="hi"),
    ]
    assert answered(replies) == {"m1", "m2"}
    assert due_escalations(states, answered(replies), at(1000), deadline_s=60) == []
    assert next_due(states, answered(replies), deadline_s=60) is None


def test_re_escalation_comes_one_interval_after_the_previous_one() -> None:
    state = AckState("m1", at(0), escalated_at=(at(65),))
    assert due_escalations([state], set(), at(65 + 29), deadline_s=60, resend_interval_s=30) == []
    (due,) = due_escalations([state], set(), at(65 + 30), deadline_s=60, resend_interval_s=30)
    assert (due.previous, due.attempt, due.overdue_s) == (1, 2, 35.0)
    # Default interval: the deadline itself.
    assert due_escalations([state], set(), at(65 + 59), deadline_s=60) == []
    assert len(due_escalations([state], set(), at(65 + 60), deadline_s=60)) == 1
    assert next_due([state], set(), deadline_s=60, resend_interval_s=30) == at(95)


def test_after_an_outage_one_escalation_not_a_burst() -> None:
    state = AckState("m1", at(0), escalated_at=(at(60),))
    dues = due_escalations([state], set(), at(10_000), deadline_s=60, resend_interval_s=30)
    assert [d.attempt for d in dues] == [2]


def test_escalations_stop_at_the_limit() -> None:
    state = AckState("m1", at(0), escalated_at=(at(60), at(120), at(180)))
    assert due_escalations([state], set(), at(10_000), deadline_s=60, max_escalations=3) == []
    assert len(due_escalations([state], set(), at(10_000), deadline_s=60, max_escalations=4)) == 1
    assert next_due([state], set(), deadline_s=60, max_escalations=3) is None


def test_due_escalations_are_ordered_by_deadline() -> None:
    states = [AckState("b", at(10)), AckState("a", at(10)), AckState("c", at(0))]
    assert [d.message_id for d in due_escalations(states, set(), at(500), deadline_s=60)] == [
        "c",
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deadline_s": 0}, "deadline_s 0"),
        ({"deadline_s": float("inf")}, "deadline_s inf"),
        ({"deadline_s": 60, "resend_interval_s": -1}, "resend_interval_s -1"),
        ({"deadline_s": 60, "max_escalations": -1}, "max_escalations -1"),
    ],
)
def test_bad_deadline_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(HotlineError, match=message):
        due_escalations([AckState("m", at(0))], set(), at(0), **kwargs)


def test_naive_times_are_refused() -> None:
    with pytest.raises(HotlineError, match=r"now .* has no timezone"):
        due_escalations([], set(), datetime(2025, 3, 1), deadline_s=60)
    with pytest.raises(HotlineError, match="sent_at"):
        due_escalations([AckState("m", datetime(2025, 3, 1))], set(), at(0), deadline_s=60)


def test_public_names() -> None:
    assert set(hotline.__all__) == {n for n in dir(hotline) if not n.startswith("_")}
