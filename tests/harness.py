"""The service in process for tests: a settable clock, and the app with its parties'
tokens behind a TestClient, with the calls every test file makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from skysep.storage import Store


class Clock:
    """The service's clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Service:
    """A running app (``create_app(..., clock=clock, run_cycles=False)``) and each party's
    token; the test runs the cycles (:meth:`cycle`)."""

    client: TestClient
    store: Store
    clock: Clock
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str, **params: Any) -> Any:
        response = self.client.get(path, headers=self.headers(who), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, who: str, body: Any = None) -> Any:
        return self.client.post(path, headers=self.headers(who), json=body)

    def cycle(self, now: float) -> None:
        """Set the clock to ``now`` and run one cycle then (its follow-up work included)."""
        self.clock.now = now
        assert self.client.portal is not None
        self.client.portal.call(self.client.app.state.live.run_cycle, now)  # type: ignore[attr-defined]

    def ws(self, who: str) -> Any:
        return self.client.websocket_connect("/v1/ws", headers=self.headers(who))
