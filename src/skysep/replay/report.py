"""``report.html`` of ``skysep replay``: one self-contained page, readable offline.

The page holds the summary, a table of every incident and, for each
incident, a plan view of both tracks around it and their separation against
time (one figure for one pair's incidents close in time: :func:`figure_groups`),
drawn with matplotlib (:mod:`skysep.replay._plots`) and inlined as
base64 PNG (no external file, stylesheet, script, font or network access).

Incidents whose vertical separation at closest approach is within
:data:`~skysep.replay.outputs.QUANTISATION_BAND_FT` of the vertical minimum
are listed apart: recorded altitudes come in 25 ft steps, so aircraft level on
adjacent flight levels (1000 ft apart) can read 925-975 ft apart. They remain
losses of separation under the strict definition and are counted as such.

The separations plotted are recomputed for the picture on a 1 s grid, with
the replay's own geometry (surface points interpolated along their chords,
the horizontal distance of docs/definition.md), so the curve crosses the
minimum where the shaded loss begins; the numbers in the tables are the
replay's. The plan view is the plane tangent to the WGS84 ellipsoid at the
closest approach.

This module does not import matplotlib: the figures are drawn by
:func:`draw_figures`, in this process or in a
:class:`~skysep.replay._figure_worker.FigureWorker` started first thing, so
that matplotlib loads on another core while the command reads and replays.
"""

from __future__ import annotations

import base64
import html
import math
import multiprocessing
import multiprocessing.connection
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np
import numpy.typing as npt

from skysep import units
from skysep.agreement import Agreement
from skysep.engine._geometry import east_north, horizontal_distance_m, surface_ecef
from skysep.replay._figure_worker import FigureWorker, ReportError
from skysep.replay._select import UsedReports, used_reports
from skysep.replay._types import F64, Incidents, ReplayResult, Tracks
from skysep.replay.outputs import QUANTISATION_BAND_FT, iso_utc

if TYPE_CHECKING:
    from skysep.replay._plots import Canvas

__all__ = [
    "FigureWorker",
    "ReportError",
    "draw_figures",
    "figure_groups",
    "plotted_figures",
    "write_report",
]

I64 = npt.NDArray[np.int64]
#: The incidents one figure shows (one pair's), sorted by start.
Group = tuple[int, ...]
Bool = npt.NDArray[np.bool_]

#: Reports plotted before the start and after the end of an incident.
BEFORE_S: Final = 120.0
AFTER_S: Final = 60.0
#: The plotted window reaches back to the first alert, but never further than this.
MAX_BEFORE_S: Final = 600.0
#: The plan view is zoomed on the loss: from this before the start to this after the end.
CORE_BEFORE_S: Final = 60.0
CORE_AFTER_S: Final = 30.0
#: Step of the grid the plotted separations are computed on.
GRID_STEP_S: Final = 1.0
FIGURE_SIZE_IN: Final = (10.0, 3.7)
FIGURE_DPI: Final = 96
#: Longest time one figure of several incidents covers (see figure_groups).
MAX_FIGURE_SPAN_S: Final = 900.0
#: Processes are forked for the plots only when each gets at least this many.
MIN_PLOTS_PER_PROCESS: Final = 4
#: Plots handed to a process at a time.
PLOTS_PER_BATCH: Final = 6

_CIRCLE_SIN: Final = np.sin(np.linspace(0.0, 2.0 * np.pi, 73))
_CIRCLE_COS: Final = np.cos(np.linspace(0.0, 2.0 * np.pi, 73))

_TABLE_NOTE: Final = (
    "<p class='note'>Most severe first (smallest horizontal separation). #: the incident's "
    "row in incidents.csv; min H: the smallest horizontal separation, V then: the vertical "
    "separation at that time (both rounded down); min at: seconds from the start to then; "
    "lead: seconds from the first alert to the start (negative: alerted after the start; "
    "never: not alerted); times in UTC.</p>"
)

#: Shown where there is no value.
_DASH: Final = "\N{EN DASH}"

_CSS: Final = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1040px; color: #222;
       line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 1.8em;
     border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; margin: 1.4em 0 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.id { font-family: monospace; word-break: break-all; }
div.wide { overflow-x: auto; }
th { background: #f2f2f2; }
table.facts th { font-weight: normal; background: #fafafa; }
.note { color: #555; font-size: 0.9em; }
.quant { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; }
figure { margin: 0.3em 0 1em; } img { max-width: 100%; height: auto; }
a { color: #0645ad; }
h3.group { background: #eee; padding: 0.3em 0.6em; font-size: 1.1em; margin-top: 2em; }
"""


def write_report(
    path: Path,
    result: ReplayResult,
    tracks: Tracks,
    agreement: Agreement,
    summary: dict[str, Any],
    *,
    max_plotted: int | None = None,
    processes: int = 1,
    worker: FigureWorker | None = None,
) -> None:
    """Write ``report.html``: the summary, every incident and its plots.

    ``tracks`` are the reports the replay ran on; ``summary`` is what
    :func:`skysep.replay.outputs.summary` returned for ``result``. Incidents
    are ranked most severe first: those not within 100 ft of the vertical
    minimum before those that are (probably adjacent flight levels), then by
    smallest minimum horizontal separation. Every incident is plotted, or
    the first ``max_plotted`` when given (the page says how many were not).

    The figures are drawn by ``worker`` when given (started with the same
    ``tracks``), else in this process and ``processes - 1`` forked ones
    (where the platform forks). The page is the same.
    """
    inc = result.incidents
    band = _quantisation_band(inc)
    ranked = _ranked(inc)
    limit = len(inc) if max_plotted is None else max(0, max_plotted)
    plotted = plotted_figures(inc, max_plotted)
    # Every figure asked for is drawn (or drawing raises): the page's text before the
    # plots is written first, while a worker draws them.
    shown = {k for group in plotted for k in group}
    head = _page_head(result, agreement, summary, band, ranked, shown)
    plots = _plots_section(inc, band, plotted, limit)
    figures: dict[Group, str] = {}
    if plotted and worker is not None:
        figures = worker.figures(inc, plotted, result.options.max_gap_s)
    elif plotted:
        opt = result.options
        index = _TrackIndex.build(tracks, opt.max_gap_s, opt.spike_vertical_rate_mps)
        figures = draw_figures(index, inc, plotted, opt.max_gap_s, processes)
    page = [head, *(part if isinstance(part, str) else figures[part] for part in plots)]
    Path(path).write_text("".join([*page, "\n</body></html>\n"]), encoding="utf-8")


def plotted_figures(inc: Incidents, max_plotted: int | None = None) -> list[Group]:
    """The figures :func:`write_report` draws, in the page's order (most severe first):
    each the incidents it shows (see :func:`figure_groups`), at most ``max_plotted``."""
    groups = figure_groups(inc)
    return groups if max_plotted is None else groups[: max(0, max_plotted)]


def figure_groups(inc: Incidents) -> list[Group]:
    """The incidents plotted together: one pair's, whose plotted windows overlap.

    A pair whose separation hovers at a minimum loses and regains it again and
    again (seven incidents in 27 s is seen in real data); their figures would
    show the same minutes of flight. Such incidents share one figure, which
    shades each loss and marks the closest approach of the most severe. A
    group spans at most :data:`MAX_FIGURE_SPAN_S`. Groups are sorted by their
    most severe incident in the page's order; each group by start.
    """
    ranked = _ranked(inc)
    rank = np.empty(len(inc), dtype=np.int64)
    rank[ranked] = np.arange(len(inc))
    by_pair: dict[tuple[str, str], list[int]] = {}
    for k in np.argsort(inc.start_s, kind="stable").tolist():
        by_pair.setdefault((str(inc.aircraft_a[k]), str(inc.aircraft_b[k])), []).append(k)
    groups: list[Group] = []
    for members in by_pair.values():
        group: list[int] = []
        group_t0 = group_t1 = 0.0
        for k in members:
            t0, t1 = _window(inc, k)
            if group and t0 <= group_t1 and max(t1, group_t1) - group_t0 <= MAX_FIGURE_SPAN_S:
                group.append(k)
                group_t1 = max(group_t1, t1)
                continue
            if group:
                groups.append(tuple(group))
            group, group_t0, group_t1 = [k], t0, t1
        groups.append(tuple(group))
    groups.sort(key=lambda g: min(int(rank[k]) for k in g))
    return groups


def _severest(inc: Incidents, group: Group) -> int:
    """The most severe of ``group``: the first of them in the page's order."""
    return int(_ranked(inc, np.asarray(group, dtype=np.int64))[0])


def _ranked(inc: Incidents, among: I64 | None = None) -> I64:
    """Incidents (all, or those ``among``) most severe first: outside the quantisation
    band first, then by min_h_m."""
    among = np.arange(len(inc), dtype=np.int64) if among is None else among
    band = _quantisation_band(inc, among)
    order = np.lexsort((inc.min_h_m[among], band.astype(np.int8)))
    ranked: I64 = among[order]
    return ranked


# --- drawing the figures -----------------------------------------------------------------------

#: This process's canvas (made once; forked processes inherit it).
_CANVAS: list[Canvas] = []


def _canvas() -> Canvas:
    """This process's canvas: matplotlib imported and the shared pixels drawn on first use."""
    if not _CANVAS:
        from skysep.replay import _plots

        with _plots.default_style():
            _CANVAS.append(_plots.Canvas())
    return _CANVAS[0]


def draw_figures(
    index: _TrackIndex, inc: Incidents, plotted: list[Group], max_gap_s: float, processes: int = 1
) -> dict[Group, str]:
    """The figures of ``plotted`` (groups of incidents): base64 PNG by group, drawn by
    :class:`Drawers` of ``processes`` processes."""
    figures: dict[Group, str] = {}
    drawers = Drawers(index, processes)
    try:
        drawers.draw(inc, plotted, max_gap_s, figures.update)
    finally:
        drawers.close()
    return figures


class Drawers:
    """Processes that draw figures from ``index``, forked before the figures are wanted.

    Where the platform forks, ``processes`` of them (inheriting this
    process's canvas and ``index``) take batches of up to
    :data:`PLOTS_PER_BATCH` figures, smaller towards the end, as they finish
    the last (figures differ in cost: long incidents have long tracks) while
    this one hands them out and passes each batch on as it comes; with fewer
    than :data:`MIN_PLOTS_PER_PROCESS` figures per process, or one process,
    this one draws them. Each drawing process ends
    when this one closes them, or ends (its pipe then reads end of file).
    ``inherited`` are this process's connections that the drawing processes
    must not hold open (a pipe whose other end waits for this process to end).
    """

    def __init__(
        self, index: _TrackIndex, processes: int, inherited: Sequence[Connection] = ()
    ) -> None:
        _canvas()  # before forking: the processes inherit it
        self._index = index
        self._conns: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        if processes < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return
        context = multiprocessing.get_context("fork")
        for _ in range(processes):
            ours, theirs = context.Pipe()
            closed = [*inherited, *self._conns, ours]
            process = context.Process(
                target=_draw_batches, args=(theirs, index, closed), name="skysep-drawing"
            )
            process.daemon = True
            process.start()
            theirs.close()
            self._conns.append(ours)
            self._processes.append(process)

    def draw(
        self,
        inc: Incidents,
        plotted: list[Group],
        max_gap_s: float,
        emit: Callable[[dict[Group, str]], None],
    ) -> None:
        """Draw the figures of ``plotted``; ``emit`` gets them, a batch at a time."""
        n = min(len(self._conns), len(plotted) // MIN_PLOTS_PER_PROCESS)
        if n < 2:
            emit(_render(self._index, inc, plotted, max_gap_s))
            return
        rest = deque(plotted)

        def batch() -> list[Group]:
            # Smaller towards the end, so that the processes finish together.
            size = min(PLOTS_PER_BATCH, max(1, len(rest) // (2 * n)))
            return [rest.popleft() for _ in range(min(size, len(rest)))]

        busy: list[Connection] = []
        for conn in self._conns[:n]:
            conn.send(("job", (inc, max_gap_s)))
            conn.send(("draw", batch()))
            busy.append(conn)
        while busy:
            for ready in multiprocessing.connection.wait(busy):
                conn = cast(Connection, ready)  # one of busy
                try:
                    status, value = conn.recv()
                except EOFError:
                    raise ReportError("report.html: a process drawing the figures ended") from None
                if status != "ok":
                    raise ReportError(f"report.html: drawing the figures failed:\n{value}")
                emit(value)
                if rest:
                    conn.send(("draw", batch()))
                else:
                    busy.remove(conn)

    def close(self) -> None:
        """Stop the drawing processes (they end when their pipe closes)."""
        for conn in self._conns:
            conn.close()
        for process in self._processes:
            process.join()
        self._conns.clear()
        self._processes.clear()


def _draw_batches(conn: Connection, index: _TrackIndex, closed: list[Connection]) -> None:
    """A drawing process: the batches it is sent, drawn, until its pipe closes."""
    for inherited in closed:
        inherited.close()
    job: tuple[Incidents, float] | None = None
    while True:
        try:
            kind, value = conn.recv()
        except EOFError:
            return
        if kind == "job":
            job = value
            continue
        try:
            if job is None:
                raise ReportError("report.html: figures asked for before the incidents")
            conn.send(("ok", _render(index, job[0], value, job[1])))
        except Exception:
            conn.send(("error", traceback.format_exc()))


def _render(
    index: _TrackIndex, inc: Incidents, plotted: list[Group], max_gap_s: float
) -> dict[Group, str]:
    from skysep.replay._plots import default_style

    canvas = _canvas()
    figures: dict[Group, str] = {}
    with default_style():
        for group in plotted:
            picture = _picture(index, inc, group, max_gap_s)
            a, b = str(inc.aircraft_a[group[0]]), str(inc.aircraft_b[group[0]])
            figures[group] = base64.b64encode(canvas.render(picture, a, b)).decode("ascii")
    return figures


def _quantisation_band(incidents: Incidents, among: I64 | None = None) -> Bool:
    """Incidents (all, or those ``among``) within 100 ft of their vertical minimum at closest
    approach (as summary.json)."""
    band_m = units.ft_to_m(QUANTISATION_BAND_FT)
    vertical_m, min_v_m = incidents.vertical_m, incidents.min_v_m
    if among is not None:
        vertical_m, min_v_m = vertical_m[among], min_v_m[among]
    within: Bool = (vertical_m - min_v_m) <= band_m
    return within


# --- tracks around an incident -----------------------------------------------------------------


@dataclass(frozen=True)
class _Track:
    """One aircraft's reports in a window, sorted by time: surface points and their normals
    (ECEF, as the replay moves them), altitudes."""

    t: F64
    p: F64
    u: F64
    alt: F64

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def at(self, times: F64, max_gap_s: float) -> tuple[F64, F64, F64]:
        """Surface points, normals and altitudes at ``times``, interpolated linearly as the
        replay does; NaN outside the reports or across a gap."""
        n = len(self)
        if n == 0:
            nan = np.full((times.shape[0], 3), np.nan)
            return nan, nan.copy(), np.full(times.shape, np.nan)
        idx = np.searchsorted(self.t, times, side="right")
        i0 = np.maximum(idx - 1, 0)  # idx is in [0, n]
        i1 = np.minimum(idx, n - 1)
        dt = self.t[i1] - self.t[i0]
        w = np.divide(times - self.t[i0], dt, out=np.zeros(times.shape), where=dt > 0)
        # A report is a position even beside a gap; within a gap there is none.
        ok = (times >= self.t[0]) & (times <= self.t[-1]) & ((dt <= max_gap_s) | (w == 0.0))
        w = np.where(ok, w, np.nan)
        p = self.p[i0] + w[:, None] * (self.p[i1] - self.p[i0])
        u = self.u[i0] + w[:, None] * (self.u[i1] - self.u[i0])
        alt = self.alt[i0] + w * (self.alt[i1] - self.alt[i0])
        return p, u, alt


@dataclass(frozen=True)
class _TrackIndex:
    """Each aircraft's reports around an incident, among the reports the replay uses
    (:class:`~skysep.replay._select.UsedReports`: no second report at one time, no
    altitude spike)."""

    used: UsedReports

    @classmethod
    def build(cls, tracks: Tracks, max_gap_s: float, spike_rate_mps: float | None) -> _TrackIndex:
        """The reports the replay uses (with the same maximum gap and altitude spike rate)."""
        return cls(used_reports(tracks, max_gap_s, spike_rate_mps))

    def window(self, aircraft: str, t0: float, t1: float) -> _Track:
        """Reports of one aircraft in [t0, t1], with the one just before and just after."""
        used = self.used
        code = int(np.searchsorted(used.ids, aircraft))
        if code >= used.ids.shape[0] or used.ids[code] != aircraft:
            empty = np.empty(0)
            return _Track(empty, np.empty((0, 3)), np.empty((0, 3)), empty)
        lo, hi = int(used.first[code]), int(used.last[code])
        times = used.time_s[lo:hi]
        a = lo + max(int(np.searchsorted(times, t0, side="left")) - 1, 0)
        b = lo + min(int(np.searchsorted(times, t1, side="right")) + 1, hi - lo)
        return _Track(used.time_s[a:b], used.position_m[a:b], used.up[a:b], used.alt_m[a:b])


# --- one figure per incident -------------------------------------------------------------------

XY = tuple[F64, F64]


@dataclass(frozen=True)
class _Picture:
    """What the figure of one incident shows: NM east/north of the closest approach,
    NM and ft of separation, seconds from the start of the loss."""

    tracks: tuple[XY, XY]
    losses: tuple[XY, XY]
    #: Both aircraft at the start, the closest approach and the end: marks[i] = (x[2], y[2]).
    marks: tuple[XY, XY, XY]
    circle: XY
    #: Points the plan view must show: both aircraft from CORE_BEFORE_S before the
    #: start to CORE_AFTER_S after the end (the rest of the tracks may leave the axes).
    core: XY
    t_rel: F64
    h_nm: F64
    v_ft: F64
    window_rel: tuple[float, float]
    #: End of the last loss shown.
    end_rel: float
    #: Each loss shown: (start, end).
    losses_rel: tuple[tuple[float, float], ...]
    min_rel: float
    min_h_nm: float
    min_v_ft: float
    alert_rel: float
    limit_h_nm: float
    limit_v_ft: float


def _first_alert(inc: Incidents, group: Group) -> float:
    """The first alert that led to any of ``group``, NaN if none did."""
    alerts = inc.first_alert_s[np.asarray(group, dtype=np.int64)]
    alerts = alerts[np.isfinite(alerts)]
    return float(alerts.min()) if alerts.shape[0] else math.nan


def _window(inc: Incidents, k: int) -> tuple[float, float]:
    """From BEFORE_S before the start (or the first alert, up to MAX_BEFORE_S) to AFTER_S after."""
    start, alert = float(inc.start_s[k]), float(inc.first_alert_s[k])
    before = BEFORE_S
    if math.isfinite(alert):
        before = min(max(before, start - alert + 0.25 * BEFORE_S), MAX_BEFORE_S)
    return start - before, float(inc.end_s[k]) + AFTER_S


def _picture(index: _TrackIndex, inc: Incidents, group: Group, max_gap_s: float) -> _Picture:
    """The picture of one pair's incidents ``group`` (sorted by start; see figure_groups).

    Times are from the start of the first; the closest approach marked, the
    plan view's origin and the minima are those of the most severe.
    """
    first = group[0]
    k = _severest(inc, group)
    start, t_min = float(inc.start_s[first]), float(inc.time_of_min_s[k])
    end = max(float(inc.end_s[j]) for j in group)
    windows = [_window(inc, j) for j in group]
    t0, t1 = min(w[0] for w in windows), max(w[1] for w in windows)
    track_a = index.window(str(inc.aircraft_a[first]), t0, t1)
    track_b = index.window(str(inc.aircraft_b[first]), t0, t1)
    keys = np.array([start, t_min, end])
    # The losses, one after the other, a NaN time (no position) between two.
    spans = [(float(inc.start_s[j]), float(inc.end_s[j])) for j in group]
    parts: list[F64] = []
    for s0, s1 in spans:
        parts += [np.array([np.nan]), np.arange(s0, s1, GRID_STEP_S), np.array([s1])]
    during = np.concatenate(parts[1:])
    core_t = np.append(
        np.arange(start - CORE_BEFORE_S, end + CORE_AFTER_S, 5.0), end + CORE_AFTER_S
    )
    times = _grid(track_a, track_b, (t0, t1), (start, t_min, end, *(e for _, e in spans)))
    # Each track at every time wanted, interpolated in one call: the core, the track's
    # own reports, the loss, the key times (start, closest, end) and the 1 s grid.
    own: list[F64] = []
    at: list[list[tuple[F64, F64, F64]]] = []
    for track in (track_a, track_b):
        reports = np.concatenate([[t0], track.t[(track.t > t0) & (track.t < t1)], [t1]])
        wanted = [core_t, reports, during, keys, times]
        p, u, alt = track.at(np.concatenate(wanted), max_gap_s)
        at.append([(p[c], u[c], alt[c]) for c in _cuts(wanted)])
        own.append(reports)
    # Everything drawn in the plan view, placed in one call.
    placed = [part[0] for track in at for part in track[:4]]
    x, y = _east_north_nm(float(inc.lat_deg[k]), float(inc.lon_deg[k]), np.concatenate(placed))
    xy: list[XY] = [(x[c], y[c]) for c in _cuts(placed)]
    cores = (xy[0], xy[4])
    tracks: list[XY] = []
    for (tx, ty), reports in ((xy[1], own[0]), (xy[5], own[1])):
        gaps = np.flatnonzero(np.diff(reports) > max_gap_s) + 1
        if gaps.shape[0]:  # a NaN breaks the line across each gap
            tx, ty = np.insert(tx, gaps, np.nan), np.insert(ty, gaps, np.nan)
        tracks.append((tx, ty))
    losses = (xy[2], xy[6])
    at_keys = (xy[3], xy[7])
    marks = tuple(
        (
            np.array([at_keys[0][0][i], at_keys[1][0][i]]),
            np.array([at_keys[0][1][i], at_keys[1][1][i]]),
        )
        for i in range(3)
    )
    # The horizontal minimum around A at the closest approach.
    circle: XY = (np.empty(0), np.empty(0))
    x_min, y_min = float(at_keys[0][0][1]), float(at_keys[0][1][1])
    limit_h_nm = units.m_to_nm(float(inc.horizontal_m[k]))
    if math.isfinite(x_min) and math.isfinite(y_min):
        circle = (x_min + limit_h_nm * _CIRCLE_SIN, y_min + limit_h_nm * _CIRCLE_COS)
    (p_a, u_a, alt_a), (p_b, u_b, alt_b) = at[0][4], at[1][4]
    return _Picture(
        tracks=(tracks[0], tracks[1]),
        losses=(losses[0], losses[1]),
        marks=(marks[0], marks[1], marks[2]),
        circle=circle,
        core=(
            np.concatenate([cores[0][0], cores[1][0], circle[0]]),
            np.concatenate([cores[0][1], cores[1][1], circle[1]]),
        ),
        t_rel=times - start,
        h_nm=units.m_to_nm(horizontal_distance_m(p_a, u_a, p_b, u_b)),
        v_ft=units.m_to_ft(np.abs(alt_a - alt_b)),
        window_rel=(t0 - start, t1 - start),
        end_rel=end - start,
        losses_rel=tuple((s0 - start, s1 - start) for s0, s1 in spans),
        min_rel=t_min - start,
        min_h_nm=units.m_to_nm(float(inc.min_h_m[k])),
        min_v_ft=units.m_to_ft(float(inc.min_v_m[k])),
        alert_rel=_first_alert(inc, group) - start,
        limit_h_nm=limit_h_nm,
        limit_v_ft=units.m_to_ft(float(inc.vertical_m[k])),
    )


def _cuts(parts: Sequence[F64]) -> list[slice]:
    """Where each of ``parts`` lies in their concatenation (np.split's pieces, as slices:
    a tenth of its cost on small arrays)."""
    ends = np.cumsum([part.shape[0] for part in parts]).tolist()
    return [slice(a, b) for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def _east_north_nm(lat0_deg: float, lon0_deg: float, position_m: F64) -> XY:
    """Surface points (ECEF) in NM east and north of (lat0, lon0), in the plane
    tangent to the ellipsoid there (within 0.01 % of the distances along the surface for
    the 50 NM around an incident)."""
    (origin,), _ = surface_ecef(np.array([lat0_deg]), np.array([lon0_deg]))
    east, north = east_north(lat0_deg, lon0_deg)
    d = position_m - origin
    return units.m_to_nm(d @ east), units.m_to_nm(d @ north)


def _grid(
    track_a: _Track, track_b: _Track, window: tuple[float, float], keys: Iterable[float]
) -> F64:
    """A 1 s grid over the span both tracks cover in the window, plus the key times."""
    if len(track_a) == 0 or len(track_b) == 0:
        return np.empty(0)
    lo = max(window[0], float(track_a.t[0]), float(track_b.t[0]))
    hi = min(window[1], float(track_a.t[-1]), float(track_b.t[-1]))
    if hi < lo:
        return np.empty(0)
    times = np.arange(math.ceil(lo), hi, GRID_STEP_S)
    extra = np.array([t for t in (lo, hi, *keys) if lo <= t <= hi])
    grid: F64 = np.unique(np.concatenate([times, extra]))
    return grid


# --- the page ----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _short(value: object, length: int) -> str:
    text = str(value)
    return text if len(text) <= length else text[: length - 1] + "…"


def _num(value: object, fmt: str = ",") -> str:
    if value is None:
        return _DASH
    if isinstance(value, float) and not math.isfinite(value):
        return _DASH
    text = format(value, fmt)
    # No "-0.0": a value that rounds to zero reads as zero.
    return text[1:] if text.startswith("-") and not text.strip("-0.,%") else text


def _fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals, never "-0.0"."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def _down(value: float, digits: int) -> str:
    """A separation rounded down, so that one below a minimum never reads as the minimum."""
    if not math.isfinite(value):
        return _DASH
    scale = 10.0**digits
    return f"{math.floor(value * scale + 1e-6) / scale:.{digits}f}"


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of facts; values are HTML already."""
    body = "".join(
        f"<tr><th>{_e(name)}</th><td class='num'>{value}</td></tr>" for name, value in pairs
    )
    return f"<table class='facts'>{body}</table>"


def _page_head(
    result: ReplayResult,
    agreement: Agreement,
    facts: dict[str, Any],
    band: Bool,
    ranked: I64,
    shown: set[int],
) -> str:
    """The page up to its plots: the summary and the incidents (``shown``: those plotted)."""
    inc = result.incidents
    main = [int(k) for k in ranked.tolist() if not band[k]]
    apart = [int(k) for k in ranked.tolist() if band[k]]
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>SkySep replay report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>SkySep replay report</h1>",
        _overview(result, facts),
        _agreement_section(result, agreement),
        _summary_section(facts),
        "<h2 id='incidents'>Incidents</h2>",
    ]
    if len(inc) == 0:
        parts.append("<p><strong>No loss of separation was found.</strong></p>")
    else:
        parts.append(
            f"<p>{len(inc):,} losses of separation in all: {len(main):,} listed here, "
            "whose vertical separation at closest approach was more than "
            f"{QUANTISATION_BAND_FT:g} ft below the vertical minimum, and {len(apart):,} "
            "within that band, listed apart under <a href='#quantisation'>probably adjacent "
            "flight levels</a>.</p>"
        )
        parts.append(
            f"{_TABLE_NOTE}{_incident_table(inc, main, shown, agreement)}"
            if main
            else "<p>None here.</p>"
        )
    parts.append(_quantisation_section(inc, apart, shown, agreement))
    return "\n".join(parts)


def _overview(result: ReplayResult, facts: dict[str, Any]) -> str:
    files = facts.get("files") or []
    source = ", ".join(_e(f) for f in files) if files else "tracks given in memory"
    start, end = facts.get("start", ""), facts.get("end", "")
    return (
        f"<p>Source: {source}.<br>Recorded from {_e(start)} to {_e(end)} (UTC); "
        f"{result.n_aircraft:,} aircraft.</p>"
    )


def _agreement_section(result: ReplayResult, agreement: Agreement) -> str:
    h_nm, v_ft = units.m_to_nm(agreement.horizontal_m), units.m_to_ft(agreement.vertical_m)
    rows = [
        ("name", _e(agreement.name or "(unnamed)")),
        ("horizontal minimum H", f"{h_nm:g} NM ({agreement.horizontal_m:g} m)"),
        ("vertical minimum V", f"{v_ft:g} ft ({agreement.vertical_m:g} m)"),
        ("lookahead", f"{agreement.lookahead_s:g} s"),
        ("caution / warning", f"{agreement.caution_s:g} s / {agreement.warning_s:g} s"),
    ]
    for pair in agreement.pairs:
        rows.append(
            (
                f"minima between {pair.parties[0]} and {pair.parties[1]}",
                f"{units.m_to_nm(pair.horizontal_m):g} NM / {units.m_to_ft(pair.vertical_m):g} ft",
            )
        )
    opt = result.options
    rows += [
        ("largest gap interpolated", f"{opt.max_gap_s:g} s"),
        ("detector step", f"{opt.step_s:g} s"),
        ("pieces merged within", f"{opt.merge_gap_s:g} s"),
    ]
    return "<h2>Agreement</h2>" + _rows(rows)


def _summary_section(facts: dict[str, Any]) -> str:
    lead = facts.get("lead_time_s") or {}
    by_level = facts.get("alert_episodes_by_level") or {}
    ratio = facts.get("nuisance_alert_ratio")
    rate = facts.get("state_vectors_per_s")
    rows = [
        ("incidents (losses of separation)", _num(facts.get("incidents"))),
        ("… alerted before the start", _num(facts.get("incidents_alerted_before_start"))),
        ("… alerted at or after the start", _num(facts.get("incidents_alerted_at_or_after_start"))),
        ("… never alerted", _num(facts.get("incidents_never_alerted"))),
        (
            f"… within {QUANTISATION_BAND_FT:g} ft of the vertical minimum",
            _num(facts.get("incidents_within_100_ft_of_the_vertical_minimum"))
            + " (<a href='#quantisation'>probably adjacent flight levels</a>)",
        ),
        (
            "lead time (s): min / p10 / median / mean / p90 / max",
            " / ".join(
                _num(lead.get(key), ".1f") for key in ("min", "p10", "median", "mean", "p90", "max")
            ),
        ),
        ("alert episodes", _num(facts.get("alert_episodes"))),
        (
            "… by level: warning / caution / advisory",
            " / ".join(_num(by_level.get(key)) for key in ("warning", "caution", "advisory")),
        ),
        (
            "nuisance alert episodes (led to no incident)",
            _num(facts.get("nuisance_alert_episodes")),
        ),
        ("nuisance ratio", _num(ratio, ".1%")),
        ("points read", _num(facts.get("points_read"))),
        ("rows rejected", _num(facts.get("rows_rejected"))),
        ("duplicate reports dropped", _num(facts.get("duplicate_reports_dropped"))),
        ("reports used", _num(facts.get("reports_used"))),
        ("aircraft", _num(facts.get("aircraft"))),
        ("replay time (s)", _num(facts.get("elapsed_s"), ".2f")),
        ("state vectors per second", _num(rate, ",.0f")),
    ]
    out = "<h2>Summary</h2>" + _rows(rows)
    examples = facts.get("rejected_examples") or []
    if examples:
        items = "".join(f"<li>{_e(x)}</li>" for x in examples)
        out += f"<p class='note'>First rows rejected:</p><ul class='note'>{items}</ul>"
    return out


def _incident_table(
    inc: Incidents, rows: Sequence[int], plotted: set[int], agreement: Agreement
) -> str:
    parties = any(p is not None for p in (*inc.party_a.tolist(), *inc.party_b.tolist()))
    head = ["#", "aircraft A", "aircraft B"]
    head += ["party A", "party B"] if parties else []
    head += ["start (UTC)", "duration (s)", "min H (NM)", "V then (ft)", "min at (s)"]
    head += ["minima (NM / ft)"] if agreement.pairs else []
    head += ["lead (s)", "level at start", "plot"]
    numeric = {"#", "duration (s)", "min H (NM)", "V then (ft)", "min at (s)", "lead (s)"}
    start = iso_utc(inc.start_s[np.array(rows, dtype=np.int64)])
    lines = []
    for j, k in enumerate(rows):
        cells: list[tuple[str, str]] = [
            (f"{k + 1}", "num"),
            (_e(inc.aircraft_a[k]), "id"),
            (_e(inc.aircraft_b[k]), "id"),
        ]
        if parties:
            cells += [(_e(inc.party_a[k] or ""), "id"), (_e(inc.party_b[k] or ""), "id")]
        min_at = float(inc.time_of_min_s[k] - inc.start_s[k])
        cells += [
            (_e(start[j]), "time"),
            (f"{float(inc.duration_s[k]):.1f}", "num"),
            (_down(units.m_to_nm(float(inc.min_h_m[k])), 2), "num"),
            (_down(units.m_to_ft(float(inc.min_v_m[k])), 0), "num"),
            (_fixed(min_at, 1), "num"),
        ]
        if agreement.pairs:
            h_nm = units.m_to_nm(float(inc.horizontal_m[k]))
            v_ft = units.m_to_ft(float(inc.vertical_m[k]))
            cells.append((f"{h_nm:g} / {v_ft:g}", "num"))
        lead = float(inc.lead_time_s[k])
        plot = f"<a href='#incident-{k + 1}'>plot</a>" if k in plotted else "not plotted"
        cells += [
            (_fixed(lead, 1) if math.isfinite(lead) else "never", "num"),
            (_e(inc.level_at_start[k] or _DASH), ""),
            (plot, ""),
        ]
        tds = "".join(
            f"<td class='{kind}'>{text}</td>" if kind else f"<td>{text}</td>"
            for text, kind in cells
        )
        lines.append(f"<tr id='row-{k + 1}'>{tds}</tr>")
    ths = "".join(f"<th{' class=num' if h in numeric else ''}>{_e(h)}</th>" for h in head)
    body = "".join(lines)
    return (
        "<div class='wide'><table class='incidents'>"
        f"<thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _quantisation_section(
    inc: Incidents,
    rows: Sequence[int],
    plotted: set[int],
    agreement: Agreement,
) -> str:
    band_ft = QUANTISATION_BAND_FT
    out = [
        "<h2 id='quantisation'>Probably adjacent flight levels (altitude quantisation)</h2>",
        "<div class='quant'><p>Recorded altitudes come in 25 ft steps, so two aircraft "
        "level on adjacent flight levels, 1000 ft apart, can read 925 to 975 ft apart. "
        "This report keeps the strict definition: a vertical separation below the "
        "vertical minimum is a loss of separation, so these pairs <em>are</em> counted "
        "as incidents (in the total above and in incidents.csv). But such a pair is "
        "probably two aircraft on adjacent flight levels rather than a real loss, so the "
        f"incidents whose vertical separation at closest approach was within {band_ft:g} ft "
        "of the vertical minimum that applied are also counted apart (summary.json: "
        "<code>incidents_within_100_ft_of_the_vertical_minimum</code>) and listed here, "
        "not in the main list. A pair climbing or descending through that band at closest "
        "approach is listed here too: the vertical plot tells them apart (level near the "
        "minimum, or crossing it). Check these against the levels the aircraft were "
        "cleared to before treating them as losses.</p></div>",
    ]
    if len(inc) == 0 or not rows:
        out.append("<p>None.</p>")
    else:
        out.append(f"<p>{len(rows):,} of {len(inc):,} incidents.</p>{_TABLE_NOTE}")
        out.append(_incident_table(inc, rows, plotted, agreement))
    return "\n".join(out)


def _plots_section(
    inc: Incidents, band: Bool, plotted: list[Group], max_plotted: int
) -> list[str | Group]:
    """The section of plots, written while the figures are drawn: its text, and each
    figure's group where its PNG (base64) goes."""
    out: list[str | Group] = ["\n<h2 id='plots'>Plots</h2>\n"]
    if len(inc) == 0:
        out.append("<p>No incident to plot.</p>")
        return out
    n_shown = sum(len(group) for group in plotted)
    missing = len(inc) - n_shown
    shared = (
        f" in {len(plotted):,} figures: the incidents of one pair whose plotted windows "
        "overlap share one"
        if len(plotted) < n_shown
        else ""
    )
    note = (
        f"<p class='note'>{n_shown:,} of {len(inc):,} incidents plotted{shared} (at most "
        f"{max_plotted:,} figures, most severe first); {missing:,} not plotted "
        "(see incidents.csv).</p>"
        if missing
        else f"<p class='note'>All {len(inc):,} incidents plotted{shared}.</p>"
    )
    out += [
        note + "\n",
        "<p class='note'>Above the plots: the aircraft (A blue, B orange) and the closest "
        "approach (horizontal and vertical separation, seconds from the start). "
        "Left: plan view in NM east and north of the point of closest "
        "approach (in the plane tangent to the WGS84 ellipsoid there), zoomed on the loss of "
        f"separation; the tracks run from {BEFORE_S:g} s before the start (or the first "
        f"alert) to {AFTER_S:g} s after the end, dots are the reports the replay used "
        "(altitude spikes it dropped are not shown) and the thick part is the loss of "
        "separation; "
        "markers at the start, the closest approach and the end; the red line joins the "
        "aircraft at closest approach; the dashed circle is the horizontal minimum around "
        "aircraft A then. Right: horizontal and vertical separation against time, "
        "interpolated on a 1 s grid for this picture as the replay interpolates them (gaps "
        "longer than the largest gap interpolated are left blank), with the minima "
        "(dashed), the loss of separation "
        "(shaded), the closest approach (diamond) and the first alert (dotted). A figure "
        "of several incidents of one pair shades each loss and counts seconds from the "
        "start of the first; its closest approach is that of the most severe.</p>",
    ]
    # Each figure under the group of its most severe incident (the first in the page's order).
    groups = (("Incidents", False), ("Probably adjacent flight levels", True))
    severest = {group: _severest(inc, group) for group in plotted}
    both = len({bool(band[k]) for k in severest.values()}) > 1
    for title, in_band in groups:
        shown = [group for group in plotted if bool(band[severest[group]]) == in_band]
        if not shown:
            continue
        if both:
            out.append(f"\n<h3 class='group'>{_e(title)}</h3>")
        for group in shown:
            before, after = _plot_block(inc, group)
            out += ["\n" + before, group, after]
    return out


def _plot_block(inc: Incidents, group: Group) -> tuple[str, str]:
    """A figure's block: the HTML before its PNG (base64), and after."""
    k0 = group[0]
    a, b = str(inc.aircraft_a[k0]), str(inc.aircraft_b[k0])
    numbers = [f"#{k + 1}" for k in group]
    title = numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]
    # Every incident's anchor (the table links to it) leads to this figure.
    anchors = "".join(f"<span id='incident-{k + 1}'></span>" for k in group[1:])
    link = f"<a class='note' href='#row-{k0 + 1}'>(table)</a>"
    details = "".join(
        f"<p class='note'>{_e(f'#{k + 1}: ' if len(group) > 1 else '')}"
        f"{_e(_incident_details(inc, k))}</p>"
        for k in group
    )
    width, height = (round(x * FIGURE_DPI) for x in FIGURE_SIZE_IN)
    return (
        f"<h3 id='incident-{k0 + 1}'>{anchors}{title}: {_e(a)} and {_e(b)} {link}</h3>"
        f"{details}<figure><img src='data:image/png;base64,",
        f"' width='{width}' height='{height}' "
        f"alt='{_e(f'incident {title}: {a} and {b}')}'></figure>",
    )


def _incident_details(inc: Incidents, k: int) -> str:
    start, end, t_min, alert = iso_utc(
        np.array([inc.start_s[k], inc.end_s[k], inc.time_of_min_s[k], inc.first_alert_s[k]])
    )
    h_nm, v_ft = units.m_to_nm(float(inc.min_h_m[k])), units.m_to_ft(float(inc.min_v_m[k]))
    lead = float(inc.lead_time_s[k])
    if math.isfinite(lead):
        when = f"{abs(lead):.0f} s {'before' if lead > 0 else 'after'} the start"
        if abs(lead) < 0.5:
            when = "at the start"
        level = inc.level_at_start[k]
        alerted = f"first alert {alert}, {when}" + (f" ({level} at the start)" if level else "")
    else:
        alerted = "never alerted"
    lat, lon = float(inc.lat_deg[k]), float(inc.lon_deg[k])
    return (
        f"{start} to {end} ({float(inc.duration_s[k]):.0f} s); closest {_down(h_nm, 2)} NM and "
        f"{_down(v_ft, 0)} ft apart at {t_min}, near {abs(lat):.3f}°{'N' if lat >= 0 else 'S'} "
        f"{abs(lon):.3f}°{'E' if lon >= 0 else 'W'}, {units.m_to_ft(float(inc.alt_m[k])):,.0f} ft; "
        f"{alerted}."
    )
