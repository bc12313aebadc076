"""``report.html`` of ``skysep replay``: one self-contained page, readable offline.

The page holds the summary, a table of every incident and, for the most
severe ones, a plan view of both tracks around the incident and their
separation against time, drawn with matplotlib and inlined as base64 PNG
(no external file, stylesheet, script, font or network access).

Incidents whose vertical separation at closest approach is within
:data:`~skysep.replay.outputs.QUANTISATION_BAND_FT` of the vertical minimum
are listed apart: recorded altitudes come in 25 ft steps, so aircraft level on
adjacent flight levels (1000 ft apart) can read 925-975 ft apart. They remain
losses of separation under the strict definition and are counted as such.

The separations plotted are recomputed for the picture only (both tracks
interpolated linearly on a 1 s grid, geodesic distance on WGS84); the numbers
in the tables are the replay's.
"""

from __future__ import annotations

import base64
import html
import io
import math
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import matplotlib.style
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from PIL import Image
from pyproj import Geod

from skysep import units
from skysep.agreement import Agreement
from skysep.replay._replay import Incidents, ReplayResult
from skysep.replay._types import F64, Tracks
from skysep.replay.outputs import QUANTISATION_BAND_FT, iso_utc

__all__ = ["write_report"]

I64 = npt.NDArray[np.int64]
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
FIGURE_SIZE_IN: Final = (10.0, 3.4)
FIGURE_DPI: Final = 96
#: A process is forked for the plots only when it gets at least this many.
MIN_PLOTS_PER_PROCESS: Final = 4

_GEOD: Final = Geod(ellps="WGS84")
_CIRCLE_AZ: Final = np.linspace(0.0, 360.0, 73)
_COLOR_A: Final = "tab:blue"
_COLOR_B: Final = "tab:orange"
_COLOR_MIN: Final = "tab:red"
_COLOR_ALERT: Final = "tab:green"

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
    max_plotted: int = 200,
    processes: int = 1,
) -> None:
    """Write ``report.html``: the summary, every incident and plots of the most severe.

    ``tracks`` are the reports the replay ran on; ``summary`` is what
    :func:`skysep.replay.outputs.summary` returned for ``result``. Incidents
    are ranked most severe first: those not within 100 ft of the vertical
    minimum before those that are (probably adjacent flight levels), then by
    smallest minimum horizontal separation; the first ``max_plotted`` are
    plotted and the page says how many were not.

    ``processes`` > 1 draws the plots in that many processes (this one and
    forked children, where the platform forks): each plot takes 0.1-0.2 s,
    most of the report's time. The page is the same.
    """
    inc = result.incidents
    band = _quantisation_band(inc)
    ranked = np.lexsort((inc.min_h_m, band.astype(np.int8))).astype(np.int64)
    plotted = ranked[: max(0, max_plotted)].tolist()
    figures: dict[int, str] = {}
    if plotted:
        index = _TrackIndex.build(tracks)
        n = max(1, min(processes, len(plotted) // MIN_PLOTS_PER_PROCESS))
        if n > 1 and "fork" in multiprocessing.get_all_start_methods():
            # Round robin, so that each process gets as many severe (long) incidents.
            chunks = [plotted[i::n] for i in range(n)]
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n - 1, mp_context=context) as pool:
                futures = [
                    pool.submit(_render, index, inc, chunk, result.options.max_gap_s)
                    for chunk in chunks[1:]
                ]
                figures.update(_render(index, inc, chunks[0], result.options.max_gap_s))
                for future in futures:
                    figures.update(future.result())
        else:
            figures.update(_render(index, inc, plotted, result.options.max_gap_s))
    page = _page(result, agreement, summary, band, ranked, figures, max_plotted)
    Path(path).write_text(page, encoding="utf-8")


def _render(
    index: _TrackIndex, inc: Incidents, plotted: list[int], max_gap_s: float
) -> dict[int, str]:
    """The figures of incidents ``plotted``, base64 PNG by incident."""
    figures: dict[int, str] = {}
    # matplotlib's default style, whatever the user's matplotlibrc or style says.
    with matplotlib.style.context("default"):
        canvas = _Canvas()
        try:
            for k in plotted:
                picture = _picture(index, inc, k, max_gap_s)
                png = canvas.render(picture, str(inc.aircraft_a[k]), str(inc.aircraft_b[k]))
                figures[k] = base64.b64encode(png).decode("ascii")
        finally:
            canvas.close()
    return figures


def _quantisation_band(incidents: Incidents) -> Bool:
    """Incidents within 100 ft of their vertical minimum at closest approach (as summary.json)."""
    band_m = units.ft_to_m(QUANTISATION_BAND_FT)
    within: Bool = (incidents.vertical_m - incidents.min_v_m) <= band_m
    return within


# --- tracks around an incident -----------------------------------------------------------------


@dataclass(frozen=True)
class _Track:
    """One aircraft's reports in a window, sorted by time, longitude unwrapped."""

    t: F64
    lat: F64
    lon: F64
    alt: F64

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def at(self, times: F64, max_gap_s: float) -> tuple[F64, F64, F64]:
        """Linear interpolation at ``times``; NaN outside the reports or across a gap."""
        n = len(self)
        if n == 0:
            nan = np.full(times.shape, np.nan)
            return nan, nan.copy(), nan.copy()
        idx = np.searchsorted(self.t, times, side="right")
        i0 = np.clip(idx - 1, 0, n - 1)
        i1 = np.clip(idx, 0, n - 1)
        dt = self.t[i1] - self.t[i0]
        w = np.divide(times - self.t[i0], dt, out=np.zeros(times.shape), where=dt > 0)
        # A report is a position even beside a gap; within a gap there is none.
        ok = (times >= self.t[0]) & (times <= self.t[-1]) & ((dt <= max_gap_s) | (w == 0.0))
        out = []
        for values in (self.lat, self.lon, self.alt):
            value = values[i0] + w * (values[i1] - values[i0])
            out.append(np.where(ok, value, np.nan))
        return out[0], out[1], out[2]


@dataclass(frozen=True)
class _TrackIndex:
    """All reports sorted once by (aircraft, time), with each aircraft's slice.

    Two reports of one aircraft at one time: the later row is kept, as the
    replay does.
    """

    ids: npt.NDArray[np.str_]
    first: I64
    last: I64
    t: F64
    lat: F64
    lon: F64
    alt: F64

    @classmethod
    def build(cls, tracks: Tracks) -> _TrackIndex:
        ids_all = np.asarray(tracks.aircraft).astype(str)
        ids, inv = np.unique(ids_all, return_inverse=True)
        order = np.lexsort((tracks.time_s, inv))
        inv_s, t_s = inv[order], tracks.time_s[order]
        keep = np.ones(order.shape[0], dtype=bool)
        if order.shape[0] > 1:
            keep[:-1] = (inv_s[1:] != inv_s[:-1]) | (t_s[1:] != t_s[:-1])
        order, inv_s = order[keep], inv_s[keep]
        codes = np.arange(ids.shape[0])
        return cls(
            ids=ids,
            first=np.searchsorted(inv_s, codes, side="left").astype(np.int64),
            last=np.searchsorted(inv_s, codes, side="right").astype(np.int64),
            t=np.ascontiguousarray(tracks.time_s[order], dtype=np.float64),
            lat=np.ascontiguousarray(tracks.lat_deg[order], dtype=np.float64),
            lon=np.ascontiguousarray(tracks.lon_deg[order], dtype=np.float64),
            alt=np.ascontiguousarray(tracks.alt_m[order], dtype=np.float64),
        )

    def window(self, aircraft: str, t0: float, t1: float) -> _Track:
        """Reports of one aircraft in [t0, t1], with the one just before and just after."""
        code = int(np.searchsorted(self.ids, aircraft))
        if code >= self.ids.shape[0] or self.ids[code] != aircraft:
            empty = np.empty(0)
            return _Track(empty, empty, empty, empty)
        lo, hi = int(self.first[code]), int(self.last[code])
        times = self.t[lo:hi]
        a = lo + max(int(np.searchsorted(times, t0, side="left")) - 1, 0)
        b = lo + min(int(np.searchsorted(times, t1, side="right")) + 1, hi - lo)
        lon = np.rad2deg(np.unwrap(np.deg2rad(self.lon[a:b])))
        return _Track(self.t[a:b], self.lat[a:b], lon, self.alt[a:b])


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
    end_rel: float
    min_rel: float
    min_h_nm: float
    min_v_ft: float
    alert_rel: float
    limit_h_nm: float
    limit_v_ft: float


def _window(inc: Incidents, k: int) -> tuple[float, float]:
    """From BEFORE_S before the start (or the first alert, up to MAX_BEFORE_S) to AFTER_S after."""
    start, alert = float(inc.start_s[k]), float(inc.first_alert_s[k])
    before = BEFORE_S
    if math.isfinite(alert):
        before = min(max(before, start - alert + 0.25 * BEFORE_S), MAX_BEFORE_S)
    return start - before, float(inc.end_s[k]) + AFTER_S


def _picture(index: _TrackIndex, inc: Incidents, k: int, max_gap_s: float) -> _Picture:
    start, end, t_min = float(inc.start_s[k]), float(inc.end_s[k]), float(inc.time_of_min_s[k])
    t0, t1 = _window(inc, k)
    lat0, lon0 = float(inc.lat_deg[k]), float(inc.lon_deg[k])
    track_a = index.window(str(inc.aircraft_a[k]), t0, t1)
    track_b = index.window(str(inc.aircraft_b[k]), t0, t1)
    keys = np.array([start, t_min, end])
    during = np.append(np.arange(start, end, GRID_STEP_S), end)
    core_t = np.append(
        np.arange(start - CORE_BEFORE_S, end + CORE_AFTER_S, 5.0), end + CORE_AFTER_S
    )
    tracks: list[XY] = []
    losses: list[XY] = []
    at_keys: list[XY] = []
    cores: list[XY] = []
    for track in (track_a, track_b):
        lat, lon, _ = track.at(core_t, max_gap_s)
        cores.append(_east_north_nm(lat0, lon0, lat, lon))
        times = np.concatenate([[t0], track.t[(track.t > t0) & (track.t < t1)], [t1]])
        lat, lon, _ = track.at(times, max_gap_s)
        x, y = _east_north_nm(lat0, lon0, lat, lon)
        gaps = np.flatnonzero(np.diff(times) > max_gap_s) + 1
        tracks.append((np.insert(x, gaps, np.nan), np.insert(y, gaps, np.nan)))
        lat, lon, _ = track.at(during, max_gap_s)
        losses.append(_east_north_nm(lat0, lon0, lat, lon))
        lat, lon, _ = track.at(keys, max_gap_s)
        at_keys.append(_east_north_nm(lat0, lon0, lat, lon))
    marks = tuple(
        (
            np.array([at_keys[0][0][i], at_keys[1][0][i]]),
            np.array([at_keys[0][1][i], at_keys[1][1][i]]),
        )
        for i in range(3)
    )
    circle: XY = (np.empty(0), np.empty(0))
    lat_a, lon_a, _ = track_a.at(np.array([t_min]), max_gap_s)
    if math.isfinite(float(lat_a[0])):
        c_lon, c_lat, _ = _GEOD.fwd(
            np.full(_CIRCLE_AZ.shape, lon_a[0]),
            np.full(_CIRCLE_AZ.shape, lat_a[0]),
            _CIRCLE_AZ,
            np.full(_CIRCLE_AZ.shape, float(inc.horizontal_m[k])),
        )
        circle = _east_north_nm(
            lat0, lon0, np.asarray(c_lat, dtype=np.float64), np.asarray(c_lon, dtype=np.float64)
        )
    times = _grid(track_a, track_b, (t0, t1), (start, t_min, end))
    lat_a, lon_a, alt_a = track_a.at(times, max_gap_s)
    lat_b, lon_b, alt_b = track_b.at(times, max_gap_s)
    h_nm = np.full(times.shape, np.nan)
    ok = ~np.isnan(lat_a) & ~np.isnan(lat_b)
    if ok.any():
        _, _, dist = _GEOD.inv(lon_a[ok], lat_a[ok], lon_b[ok], lat_b[ok])
        h_nm[ok] = units.m_to_nm(np.asarray(dist, dtype=np.float64))
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
        h_nm=h_nm,
        v_ft=units.m_to_ft(np.abs(alt_a - alt_b)),
        window_rel=(t0 - start, t1 - start),
        end_rel=end - start,
        min_rel=t_min - start,
        min_h_nm=units.m_to_nm(float(inc.min_h_m[k])),
        min_v_ft=units.m_to_ft(float(inc.min_v_m[k])),
        alert_rel=float(inc.first_alert_s[k]) - start,
        limit_h_nm=units.m_to_nm(float(inc.horizontal_m[k])),
        limit_v_ft=units.m_to_ft(float(inc.vertical_m[k])),
    )


def _east_north_nm(lat0: float, lon0: float, lat: F64, lon: F64) -> XY:
    """Azimuthal equidistant projection around (lat0, lon0), in NM east and north."""
    x, y = np.full(lat.shape, np.nan), np.full(lat.shape, np.nan)
    ok = ~np.isnan(lat) & ~np.isnan(lon)
    if ok.any():
        n = int(ok.sum())
        az, _, dist = _GEOD.inv(np.full(n, lon0), np.full(n, lat0), lon[ok], lat[ok])
        az_rad = np.deg2rad(np.asarray(az, dtype=np.float64))
        dist_nm = units.m_to_nm(np.asarray(dist, dtype=np.float64))
        x[ok], y[ok] = dist_nm * np.sin(az_rad), dist_nm * np.cos(az_rad)
    return x, y


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


def _line(ax: Axes, **style: Any) -> Line2D:
    (line,) = ax.plot([], [], **style)
    return line


class _Canvas:
    """One figure, drawn again for every incident.

    Axes, ticks, legends and artists are made once and only their data change:
    this halves the time per figure. The Agg canvas is attached explicitly, so
    no display and no pyplot state is involved.
    """

    def __init__(self) -> None:
        figure = Figure(figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI)
        self.canvas = FigureCanvasAgg(figure)
        grid = figure.add_gridspec(
            2, 2, width_ratios=(1.0, 1.55), left=0.06, right=0.985, bottom=0.13, top=0.97,
            wspace=0.17, hspace=0.08,
        )  # fmt: skip
        plan = figure.add_subplot(grid[:, 0])
        ax_h = figure.add_subplot(grid[0, 1])
        ax_v = figure.add_subplot(grid[1, 1], sharex=ax_h)
        self.figure, self.plan, self.ax_h, self.ax_v = figure, plan, ax_h, ax_v
        for ax in (plan, ax_h, ax_v):
            ax.set_autoscale_on(False)
            ax.tick_params(labelsize=7, pad=2)
            ax.grid(True, lw=0.6, color="#d9d9d9")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        colors = (_COLOR_A, _COLOR_B)
        self.tracks = [_line(plan, color=c, lw=1.2, marker=".", ms=3, label="-") for c in colors]
        self.losses = [
            _line(plan, color=c, lw=4.0, alpha=0.5, solid_capstyle="round") for c in colors
        ]
        self.marks = [
            _line(plan, ls="none", marker=m, ms=6, mfc="white", mec="black", label=name, zorder=4)
            for m, name in (("o", "start"), ("D", "closest"), ("s", "end"))
        ]
        self.closest = _line(plan, color=_COLOR_MIN, lw=1.3, zorder=5)
        self.closest_text = plan.text(
            0.03, 0.03, "", transform=plan.transAxes, color=_COLOR_MIN, fontsize=8, zorder=6,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
        )  # fmt: skip
        self.circle = _line(plan, color="grey", lw=0.9, ls="--", label="H")
        self.plan_legend = plan.legend(fontsize=6.5, loc="best", framealpha=0.85, handlelength=1.8)
        for text in self.plan_legend.get_texts():
            text.set_parse_math(False)
        plan.set_xlabel("east (NM)", fontsize=8, labelpad=1)
        plan.set_ylabel("north (NM)", fontsize=8, labelpad=1)
        self.spans: list[Rectangle] = []
        self.curves: list[Line2D] = []
        self.minima: list[Line2D] = []
        self.lowest: list[Line2D] = []
        self.alerts: list[Line2D] = []
        for ax in (ax_h, ax_v):
            span = Rectangle(
                (0.0, 0.0), 0.0, 1.0, transform=ax.get_xaxis_transform(), color=_COLOR_MIN,
                alpha=0.13, lw=0, label="loss of separation",
            )  # fmt: skip
            ax.add_patch(span)
            self.spans.append(span)
            self.curves.append(_line(ax, color="black", lw=1.1))
            self.minima.append(ax.axhline(0.0, color=_COLOR_MIN, ls="--", lw=1.0, label="minimum"))
            self.lowest.append(_line(ax, ls="none", marker="D", ms=5, mfc="white", mec=_COLOR_MIN))
            self.alerts.append(
                ax.axvline(0.0, color=_COLOR_ALERT, lw=1.4, ls=":", label="first alert")
            )
        self.sep_legend = ax_h.legend(
            handles=[self.spans[0], self.minima[0], self.alerts[0]],
            fontsize=6.5, loc="best", framealpha=0.85, handlelength=1.8,
        )  # fmt: skip
        ax_h.tick_params(labelbottom=False)
        ax_h.set_ylabel("horizontal (NM)", fontsize=8)
        ax_v.set_ylabel("vertical (ft)", fontsize=8)
        ax_v.set_xlabel("seconds from the start of the loss of separation", fontsize=8, labelpad=1)

    def render(self, pic: _Picture, name_a: str, name_b: str) -> bytes:
        """The figure of one incident as PNG."""
        for i in range(2):
            self.tracks[i].set_data(*pic.tracks[i])
            self.losses[i].set_data(*pic.losses[i])
        for i in range(3):
            self.marks[i].set_data(*pic.marks[i])
        x, y = pic.marks[1]
        self.closest.set_data(x, y)
        self.closest_text.set_text(
            f"closest: {_down(pic.min_h_nm, 2)} NM, {_down(pic.min_v_ft, 0)} ft"
        )
        self.circle.set_data(*pic.circle)
        texts = self.plan_legend.get_texts()
        texts[0].set_text(_short(name_a, 24))
        texts[1].set_text(_short(name_b, 24))
        texts[5].set_text(f"H = {pic.limit_h_nm:g} NM")
        self._plan_limits(pic)
        alert = math.isfinite(pic.alert_rel)
        for i, (values, limit, lowest) in enumerate(
            (
                (pic.h_nm, pic.limit_h_nm, pic.min_h_nm),
                (pic.v_ft, pic.limit_v_ft, pic.min_v_ft),
            )
        ):
            self.spans[i].set_width(pic.end_rel)
            self.curves[i].set_data(pic.t_rel, values)
            self.minima[i].set_ydata([limit, limit])
            self.lowest[i].set_data([pic.min_rel], [lowest])
            self.alerts[i].set_xdata([pic.alert_rel, pic.alert_rel] if alert else [0.0, 0.0])
            self.alerts[i].set_visible(alert)
            finite = values[np.isfinite(values)]
            top = float(finite.max()) if finite.shape[0] else limit
            (self.ax_h, self.ax_v)[i].set_ylim(0.0, max(1.5 * limit, min(1.08 * top, 4.0 * limit)))
        handle = self.sep_legend.legend_handles[2]
        if handle is not None:
            handle.set_visible(alert)
        label = "first alert" if alert else "no alert"
        if alert and pic.alert_rel < pic.window_rel[0]:
            label = f"first alert at {pic.alert_rel:.0f} s"
        self.sep_legend.get_texts()[2].set_text(label)
        self.ax_v.set_xlim(*pic.window_rel)
        return self._png()

    def _png(self) -> bytes:
        """The figure as a 256-colour PNG: a third of the size of matplotlib's own, and faster.

        Octree quantisation without dithering keeps the lines and text sharp (a
        plot has few colours); the grid is drawn grey enough to survive it.
        """
        raw = io.BytesIO()
        self.figure.savefig(raw, format="raw", dpi=FIGURE_DPI)
        size = self.canvas.get_width_height(physical=True)
        rgb = Image.frombuffer("RGBA", size, raw.getvalue(), "raw", "RGBA", 0, 1).convert("RGB")
        image = rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        image.save(buffer, format="png")
        return buffer.getvalue()

    def _plan_limits(self, pic: _Picture) -> None:
        """Limits holding the core of the picture, one NM as long east as north."""
        xs, ys = pic.core
        ok = np.isfinite(xs) & np.isfinite(ys)
        if not ok.any():
            self.plan.set_xlim(-1.0, 1.0)
            self.plan.set_ylim(-1.0, 1.0)
            return
        x0, x1, y0, y1 = xs[ok].min(), xs[ok].max(), ys[ok].min(), ys[ok].max()
        box = self.plan.get_position()
        width_in, height_in = self.figure.get_size_inches()
        ratio = (box.width * width_in) / (box.height * height_in)
        half_h = 0.54 * max(y1 - y0, (x1 - x0) / ratio, 0.5)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        self.plan.set_xlim(cx - half_h * ratio, cx + half_h * ratio)
        self.plan.set_ylim(cy - half_h, cy + half_h)

    def close(self) -> None:
        self.figure.clear()


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


def _page(
    result: ReplayResult,
    agreement: Agreement,
    facts: dict[str, Any],
    band: Bool,
    ranked: I64,
    figures: dict[int, str],
    max_plotted: int,
) -> str:
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
            f"{_TABLE_NOTE}{_incident_table(inc, main, figures, agreement)}"
            if main
            else "<p>None here.</p>"
        )
    parts.append(_quantisation_section(inc, apart, figures, agreement))
    parts.append(_plots_section(inc, main, apart, figures, max_plotted))
    parts.append("</body></html>\n")
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
    inc: Incidents, rows: Sequence[int], figures: dict[int, str], agreement: Agreement
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
        plot = f"<a href='#incident-{k + 1}'>plot</a>" if k in figures else "not plotted"
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
    figures: dict[int, str],
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
        out.append(_incident_table(inc, rows, figures, agreement))
    return "\n".join(out)


def _plots_section(
    inc: Incidents,
    main: Sequence[int],
    apart: Sequence[int],
    figures: dict[int, str],
    max_plotted: int,
) -> str:
    out = ["<h2 id='plots'>Plots</h2>"]
    if len(inc) == 0:
        out.append("<p>No incident to plot.</p>")
        return "\n".join(out)
    missing = len(inc) - len(figures)
    note = (
        f"<p class='note'>{len(figures):,} of {len(inc):,} incidents plotted "
        f"(at most {max_plotted:,}, most severe first); {missing:,} not plotted "
        "(see incidents.csv).</p>"
        if missing
        else f"<p class='note'>All {len(inc):,} incidents plotted.</p>"
    )
    out += [
        note,
        "<p class='note'>Left: plan view in NM east and north of the point of closest "
        "approach (azimuthal equidistant), zoomed on the loss of separation; the tracks "
        f"run from {BEFORE_S:g} s before the start (or the first alert) to {AFTER_S:g} s "
        "after the end, dots are the reports and the thick part is the loss of separation; "
        "markers at the start, the closest approach and the end; the red line joins the "
        "aircraft at closest approach; the dashed circle is the horizontal minimum around "
        "aircraft A then. Right: horizontal and vertical separation against time, "
        "interpolated on a 1 s grid for this picture (gaps longer than the largest gap "
        "interpolated are left blank), with the minima (dashed), the loss of separation "
        "(shaded), the closest approach (diamond) and the first alert (dotted).</p>",
    ]
    groups = (("Incidents", main), ("Probably adjacent flight levels", apart))
    for title, group in groups:
        shown = [k for k in group if k in figures]
        if not shown:
            continue
        if main and apart:
            out.append(f"<h3 class='group'>{_e(title)}</h3>")
        out += [_plot_block(inc, k, figures[k]) for k in shown]
    return "\n".join(out)


def _plot_block(inc: Incidents, k: int, png: str) -> str:
    a, b = str(inc.aircraft_a[k]), str(inc.aircraft_b[k])
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
    details = (
        f"{start} to {end} ({float(inc.duration_s[k]):.0f} s); closest {_down(h_nm, 2)} NM and "
        f"{_down(v_ft, 0)} ft apart at {t_min}, near {abs(lat):.3f}°{'N' if lat >= 0 else 'S'} "
        f"{abs(lon):.3f}°{'E' if lon >= 0 else 'W'}, {units.m_to_ft(float(inc.alt_m[k])):,.0f} ft; "
        f"{alerted}."
    )
    width, height = (round(x * FIGURE_DPI) for x in FIGURE_SIZE_IN)
    return (
        f"<h3 id='incident-{k + 1}'>#{k + 1}: {_e(a)} and {_e(b)} "
        f"<a class='note' href='#row-{k + 1}'>(table)</a></h3>"
        f"<p class='note'>{_e(details)}</p>"
        f"<figure><img src='data:image/png;base64,{png}' width='{width}' height='{height}' "
        f"alt='{_e(f'incident {k + 1}: {a} and {b}')}'></figure>"
    )
