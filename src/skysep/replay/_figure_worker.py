"""The process that draws report.html's figures, started before they are needed.

This module imports nothing heavy (the figure process imports matplotlib and
:mod:`skysep.replay.report` itself), so that ``skysep replay`` can fork it
first thing, before its options are even parsed.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import shutil
import tempfile
import traceback
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from skysep.errors import SkySepError

if TYPE_CHECKING:
    from skysep.replay._select import UsedReports
    from skysep.replay._types import Incidents
    from skysep.replay.report import Group

__all__ = ["FigureWorker", "ReportError"]


class ReportError(SkySepError):
    """The figures of report.html could not be drawn."""


class FigureWorker:
    """A process that draws report.html's figures, started before the tracks are read.

    Forked at the start of the command, it imports matplotlib, draws the
    figures' shared pixels and renders the glyphs most figures need while
    this process imports the replay's modules and reads the tracks. It gets
    the reports the replay uses through a file (:meth:`send_reports`, written
    once and read when it is ready, so that neither process waits on the
    other) and indexes them, and forks
    ``processes`` drawing processes (see :class:`~skysep.replay.report.Drawers`;
    it draws alone with one, or with few figures); :meth:`start` sends it
    the incidents as soon as they are known, and :meth:`figures` collects the
    figures as batches are drawn.
    Only where the platform forks (:meth:`available`); fork it while this
    process runs no other thread.
    """

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, processes), name="skysep-figures"
        )  # not a daemon: it forks processes of its own; it ends when the pipe closes
        self._process.start()
        child.close()
        self._folder: str | None = None
        self._job: tuple[Incidents, list[Group], float] | None = None
        self._max_gap_s: float | None = None
        self._answered = False

    @staticmethod
    def available() -> bool:
        return "fork" in multiprocessing.get_all_start_methods()

    def send_reports(self, used: UsedReports) -> None:
        """Hand over the reports the replay uses (the replay's ``on_reports``), once, in a
        private temporary file."""
        if self._folder is not None:
            raise ReportError("report.html: the reports were already handed over")
        self._folder = tempfile.mkdtemp(prefix="skysep-figures-")
        path = os.path.join(self._folder, "reports.pickle")
        with open(path, "wb") as file:
            pickle.dump(used, file, protocol=pickle.HIGHEST_PROTOCOL)
        self._max_gap_s = used.max_gap_s
        self._send(("reports", path))

    def start(self, inc: Incidents, plotted: list[Group], max_gap_s: float) -> None:
        """Start drawing the figures of ``plotted`` (groups of incidents; once)."""
        if self._job is not None:
            raise ReportError("report.html: the figures were already asked for")
        if self._max_gap_s is not None and self._max_gap_s != max_gap_s:
            raise ReportError(
                f"report.html: the reports were handed over for a maximum gap of "
                f"{self._max_gap_s:g} s, the figures asked for with {max_gap_s:g} s"
            )
        self._job = (inc, plotted, max_gap_s)
        self._send(("draw", inc, plotted, max_gap_s))

    def figures(self, inc: Incidents, plotted: list[Group], max_gap_s: float) -> dict[Group, str]:
        """The figures of ``plotted``, base64 PNG by group (started if need be)."""
        if self._job is None:
            self.start(inc, plotted, max_gap_s)
        elif self._job[0] is not inc or self._job[1] != plotted or self._job[2] != max_gap_s:
            raise ReportError("report.html: the figures drawn are not those of this report")
        figures: dict[Group, str] = {}
        while True:
            try:
                status, value = self._conn.recv()
            except (EOFError, OSError):
                raise self._ended() from None
            if status == "batch":
                figures.update(value)
                continue
            self._answered = True
            if status != "ok":
                raise ReportError(f"report.html: drawing the figures failed:\n{value}")
            return figures

    def close(self) -> None:
        """Stop the process: it ends by itself once it has answered, else it is terminated."""
        self._conn.close()
        if not self._answered:
            self._process.terminate()
        self._process.join()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except OSError:
            raise self._ended() from None

    def _ended(self) -> ReportError:
        return ReportError(
            "report.html: the process drawing the figures ended "
            f"(exit code {self._process.exitcode})"
        )


def _serve(conn: Connection, processes: int) -> None:
    """The worker's process: get ready, take the reports and fork the drawing processes, then
    draw one job's figures, passing them on a batch at a time."""
    try:
        from skysep.replay.report import Drawers, _canvas, _TrackIndex

        _canvas().warm_up()
        tag, path = conn.recv()
        if tag != "reports":
            raise ReportError(f"report.html: the figure process got {tag!r} before the reports")
        with open(path, "rb") as file:
            index = _TrackIndex(pickle.load(file))
        os.unlink(path)
        # What is loaded now lives as long as the process: the cyclic garbage collector
        # need not go over it (nor write to the pages this process shares with the others).
        gc.freeze()
        drawers = Drawers(index, processes, inherited=[conn])
    except EOFError:  # the command ended (or failed) before the figures were wanted
        return
    try:
        _, inc, plotted, max_gap_s = conn.recv()
    except EOFError:
        drawers.close()
        return
    try:
        drawers.draw(inc, plotted, max_gap_s, lambda figures: conn.send(("batch", figures)))
        conn.send(("ok", None))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()
        drawers.close()
