"""Worker processes of the service: one process for one kind of work, beside the server.

The server's event loop, its detection cycle and Python's one interpreter
lock go together; work that would compete with them for that lock runs in
a process of its own, on another core: the checking and storing of report
batches (:mod:`skysep.service._ingest`) and the record's work after each
cycle (:mod:`skysep.service._recorder`). Each is a single-process
:class:`~concurrent.futures.ProcessPoolExecutor` (calls run one at a time,
in order), started with ``spawn``. A worker leaves when the server dies,
however it dies; a worker that dies is replaced by the next call.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from skysep.errors import ServiceError

log = logging.getLogger("skysep.service")

T = TypeVar("T")


class WorkerDiedError(ServiceError):
    """A worker process died while it had work (killed, out of memory)."""


def leave_with_parent() -> None:
    """Set up a worker process: Ctrl-C is the server's to handle (it stops its workers after
    the work under way), and the worker exits when its parent is gone: a server killed
    outright (SIGKILL, out of memory) cannot stop it, and its call queue never closes (the
    worker holds both ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with, args=(parent.sentinel,), name="skysep-parent-watch", daemon=True
        ).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)  # an open transaction is rolled back by the database


def _ready() -> None:
    """A call that does nothing: the worker has started once it returns."""


class WorkerProcess:
    """One worker process, started by :meth:`start` (or the first call)."""

    def __init__(
        self, name: str, initializer: Callable[..., object], initargs: tuple[Any, ...]
    ) -> None:
        self.name = name
        self._initializer = initializer
        self._initargs = initargs
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id, once it runs."""
        if self._pool is None:
            return None
        pids = [p.pid for p in self._pool._processes.values()]
        return pids[0] if pids else None

    def start(self) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=self._initializer,
                initargs=self._initargs,
            )
            # Start it now (imports, connection), not on the first call.
            self._pool.submit(_ready).result()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the worker; :class:`WorkerDiedError` if the worker dies first."""
        if self._pool is None:
            await asyncio.to_thread(self.start)
        assert self._pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:
            log.error(
                "worker process died; the next call starts a new one", extra={"worker": self.name}
            )
            self._pool = None
            raise WorkerDiedError(f"the {self.name} worker process stopped", 503) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
