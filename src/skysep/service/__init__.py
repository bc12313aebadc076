"""The deconfliction service: FastAPI over the live picture, the engine and the storage.

``create_app(store, agreement)`` builds the ASGI app; ``skysep serve`` runs it
on uvicorn. See ``docs/service.md``.
"""

from skysep.service._app import MAX_FUTURE_S, create_app
from skysep.service._live import EVENTS, TRACK_AFTER_S, TRACK_BEFORE_S, Detector, LivePicture
from skysep.service._runner import LiveService

__all__ = [
    "EVENTS",
    "MAX_FUTURE_S",
    "TRACK_AFTER_S",
    "TRACK_BEFORE_S",
    "Detector",
    "LivePicture",
    "LiveService",
    "create_app",
]
