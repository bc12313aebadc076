"""The hub ends every subscriber's stream, however full its queue."""

from __future__ import annotations

import asyncio

from skysep.service._hub import QUEUE_LIMIT, Hub


def test_closing_ends_a_full_queue_and_keeps_what_fits() -> None:
    async def run() -> tuple[int, int]:
        hub = Hub()
        full, light = hub.subscribe("north"), hub.subscribe("north")
        for i in range(QUEUE_LIMIT):
            hub.publish("north", {"i": i})
        hub.close()

        async def read(sub_queue: asyncio.Queue[dict[str, int] | None]) -> int:
            count = 0
            while await asyncio.wait_for(sub_queue.get(), timeout=1.0) is not None:
                count += 1
            return count

        return await read(full.queue), await read(light.queue)

    # Both were full: each loses its oldest message to the end marker, none hangs.
    assert asyncio.run(run()) == (QUEUE_LIMIT - 1, QUEUE_LIMIT - 1)


def test_a_subscriber_that_falls_behind_is_cut_off() -> None:
    async def run() -> tuple[bool, list[object], int]:
        hub = Hub()
        sub = hub.subscribe("north")
        for i in range(QUEUE_LIMIT + 1):
            hub.publish("north", {"i": i})
        return sub.overflowed, [await sub.queue.get()], hub.count()

    assert asyncio.run(run()) == (True, [None], 0)
