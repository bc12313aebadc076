"""The hotline's pure parts: typed messages, their rendering in each reader's
language from gettext catalogues, and acknowledgement deadlines. No clock,
no storage, no network: the service (``skysep.service``) wires them in. See
``docs/hotline.md``.
"""

from skysep.errors import HotlineError
from skysep.hotline._acks import AckState, DueEscalation, answered, due_escalations, next_due
from skysep.hotline._models import (
    ACTIONS,
    DIRECTIONS,
    MESSAGE_KINDS,
    REASONS,
    REQUIRES_ACK,
    Acknowledge,
    Escalation,
    FreeText,
    IncidentReport,
    Message,
    NoticeOfOperations,
    Request,
    TrafficAlert,
    Unable,
    message_problems,
    parse_message,
)
from skysep.hotline._render import LANGUAGES, catalogue_path, render, translations

__all__ = [
    "ACTIONS",
    "DIRECTIONS",
    "LANGUAGES",
    "MESSAGE_KINDS",
    "REASONS",
    "REQUIRES_ACK",
    "AckState",
    "Acknowledge",
    "DueEscalation",
    "Escalation",
    "FreeText",
    "HotlineError",
    "IncidentReport",
    "Message",
    "NoticeOfOperations",
    "Request",
    "TrafficAlert",
    "Unable",
    "answered",
    "catalogue_path",
    "due_escalations",
    "message_problems",
    "next_due",
    "parse_message",
    "render",
    "translations",
]
