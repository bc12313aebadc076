"""Acknowledgement deadlines: which messages are overdue and must be escalated.

Pure: the time is an argument (``now``), the state of each message (when it
was sent, when it was escalated before) is handed in, and the answer says
what to do; the service re-sends, flags the thread and records the
escalation (an ``escalation`` message and a chain entry).

A message that requires acknowledgement and has no answer (an
``acknowledge`` or an ``unable`` referring to it) is escalated a first time
at ``sent_at + deadline_s``, then again every ``resend_interval_s`` after
its previous escalation (default: ``deadline_s``), at most
``max_escalations`` times (default: no limit). One call never escalates a
message twice: after an outage the next escalation comes one interval after
the one made now, not in a burst.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from skysep.errors import HotlineError
from skysep.hotline._models import Acknowledge, Message, Unable

__all__ = ["AckState", "DueEscalation", "answered", "due_escalations", "next_due"]


@dataclass(frozen=True)
class AckState:
    """What the deadline logic needs to know of one sent message."""

    message_id: str
    #: When it was sent (timezone-aware).
    sent_at: datetime
    requires_ack: bool = True
    #: When it was escalated before, oldest first (empty if never).
    escalated_at: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class DueEscalation:
    """A message to escalate now."""

    message_id: str
    #: ``sent_at + deadline_s``.
    deadline: datetime
    #: Seconds between the deadline and ``now``.
    overdue_s: float
    #: Escalations already made (``len(escalated_at)``); this one is ``previous + 1``.
    previous: int

    @property
    def attempt(self) -> int:
        """The number of this escalation: 1 for the first."""
        return self.previous + 1


def answered(replies: Iterable[Message]) -> set[str]:
    """The ids of the messages that an ``acknowledge`` or an ``unable`` refers to."""
    return {m.refers_to for m in replies if isinstance(m, Acknowledge | Unable)}


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise HotlineError(f"{what} {moment.isoformat()!r} has no timezone (give UTC)")
    return moment


def _positive(value: float, what: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise HotlineError(f"{what} {value!r} is not a positive number of seconds")
    return value


def _next(
    state: AckState, deadline_s: float, interval_s: float, max_escalations: int | None
) -> tuple[datetime, datetime] | None:
    """(deadline, when the next escalation is due), or None if none will be."""
    deadline = _aware(state.sent_at, "sent_at") + timedelta(seconds=deadline_s)
    done = len(state.escalated_at)
    if max_escalations is not None and done >= max_escalations:
        return None
    if not done:
        return deadline, deadline
    last = _aware(max(state.escalated_at), "escalated_at")
    return deadline, last + timedelta(seconds=interval_s)


def _checked(
    deadline_s: float, resend_interval_s: float | None, max_escalations: int | None
) -> float:
    _positive(deadline_s, "deadline_s")
    if max_escalations is not None and max_escalations < 0:
        raise HotlineError(f"max_escalations {max_escalations!r} is negative")
    return _positive(
        deadline_s if resend_interval_s is None else resend_interval_s, "resend_interval_s"
    )


def due_escalations(
    messages: Iterable[AckState],
    answered_ids: Collection[str],
    now: datetime,
    *,
    deadline_s: float,
    resend_interval_s: float | None = None,
    max_escalations: int | None = None,
) -> list[DueEscalation]:
    """The messages to escalate at ``now``, by deadline then id.

    ``answered_ids``: ids of messages acknowledged or answered unable (see
    :func:`answered`). ``deadline_s`` is the agreement's ``ack_deadline_s``.
    """
    interval_s = _checked(deadline_s, resend_interval_s, max_escalations)
    _aware(now, "now")
    due: list[DueEscalation] = []
    for state in messages:
        if not state.requires_ack or state.message_id in answered_ids:
            continue
        upcoming = _next(state, deadline_s, interval_s, max_escalations)
        if upcoming is None or now < upcoming[1]:
            continue
        deadline = upcoming[0]
        due.append(
            DueEscalation(
                state.message_id,
                deadline,
                (now - deadline).total_seconds(),
                len(state.escalated_at),
            )
        )
    return sorted(due, key=lambda d: (d.deadline, d.message_id))


def next_due(
    messages: Iterable[AckState],
    answered_ids: Collection[str],
    *,
    deadline_s: float,
    resend_interval_s: float | None = None,
    max_escalations: int | None = None,
) -> datetime | None:
    """When the next escalation falls due (maybe already past), or None if none
    will: for the service to schedule its next check."""
    interval_s = _checked(deadline_s, resend_interval_s, max_escalations)
    times = [
        upcoming[1]
        for state in messages
        if state.requires_ack and state.message_id not in answered_ids
        for upcoming in [_next(state, deadline_s, interval_s, max_escalations)]
        if upcoming is not None
    ]
    return min(times, default=None)
