"""Fan-out of live messages to each party's WebSocket and SSE subscribers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

#: Messages a subscriber may fall behind by before it is cut off (it can resume from REST).
QUEUE_LIMIT: Final = 10_000


@dataclass(eq=False)
class Subscriber:
    party_id: str
    traffic: bool = False
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )
    #: Set when the subscriber fell too far behind and was cut off.
    overflowed: bool = False


class Hub:
    """Per-party subscriber queues; publishing never blocks the detection cycle."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, party_id: str, *, traffic: bool = False) -> Subscriber:
        sub = Subscriber(party_id, traffic)
        self._subscribers[party_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers[sub.party_id].discard(sub)

    def parties_wanting_traffic(self) -> set[str]:
        return {p for p, subs in self._subscribers.items() if any(s.traffic for s in subs)}

    def publish(self, party_id: str, message: dict[str, Any], *, traffic: bool = False) -> None:
        for sub in list(self._subscribers.get(party_id, ())):
            if traffic and not sub.traffic:
                continue
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.overflowed = True
                self.unsubscribe(sub)
                _end(sub, discard=True)

    def close(self) -> None:
        for subs in self._subscribers.values():
            for sub in subs:
                _end(sub, discard=False)
        self._subscribers.clear()

    def count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())


def _end(sub: Subscriber, *, discard: bool) -> None:
    """Put the end-of-stream marker in a subscriber's queue, so its reader wakes and closes.

    ``discard``: drop what it has not read (it fell too far behind); otherwise
    only the oldest message, if that is what it takes to make room.
    """
    while not sub.queue.empty() and (discard or sub.queue.full()):
        sub.queue.get_nowait()
    sub.queue.put_nowait(None)
