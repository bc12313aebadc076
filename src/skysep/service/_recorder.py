"""The record's work after each cycle, on a process of its own under ``skysep serve``.

Chaining a busy cycle's alerts and incidents, posting its traffic alerts
(each rendered in both parties' languages and receipted for each) and
escalating overdue messages is the service's heaviest work after the
detection itself. On a thread of the server it competes with the event
loop and the next cycle for Python's one interpreter lock; here it runs
on another core. The recorder writes to the same database (the chain is
appended under the database's own lock, whichever process appends) and
hands the pushes it wrote back to the server, which sends them.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skysep.agreement import Agreement
from skysep.service._hotline import CycleWork, HotlineService
from skysep.service._processes import WorkerProcess, leave_with_parent
from skysep.storage import Store

#: The recorder process's hotline service (set by its initializer).
_hotline: HotlineService | None = None


def _start_recorder(url: str, key: bytes, agreement: Agreement) -> None:
    global _hotline
    leave_with_parent()
    store = Store.open(url, migrate=False)
    store.checkpoint_in_background(run=False)  # the server's store checkpoints
    _hotline = HotlineService(
        store, agreement, Ed25519PrivateKey.from_private_bytes(key), time.time
    )
    # Alerts a recorder that died left unchained (none when the server has just started:
    # it chained them itself).
    _hotline.recover()
    gc.freeze()  # what start-up loaded stays: the collector need not walk it again


def record_in_recorder(work: CycleWork) -> list[tuple[str, dict[str, Any]]]:
    """The cycle's record and hotline work, in the recorder; the pushes it wrote."""
    assert _hotline is not None, "the recorder was not started"
    _hotline.record_cycle(work)
    return _hotline.take_outbox()


def recorder_process(store: Store, key: Ed25519PrivateKey, agreement: Agreement) -> WorkerProcess:
    url = store.engine.url.render_as_string(hide_password=False)
    return WorkerProcess("record", _start_recorder, (url, key.private_bytes_raw(), agreement))
