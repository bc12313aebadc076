"""The figures of ``report.html``: matplotlib (Agg), fast enough to plot every incident.

One figure per incident: the plan view of both tracks (left) and the
horizontal and vertical separation against time (right). Drawing a
matplotlib figure from scratch costs 0.1-0.15 s, nearly all of it in the
axes' tick machinery (a Python object per tick, its gridline and its label)
and in laying out and rasterising text; a report plots every incident, so
that would be most of ``skysep replay``'s time (170 incidents: 20 s).
Instead:

* what every figure shares (the axes, the legends above them) is drawn
  once, and each figure starts from a copy of those pixels;
* each incident's artists (tracks, separations, minima, gridlines, tick
  marks, frames) are matplotlib artists drawn onto it with
  :meth:`~matplotlib.axes.Axes.draw_artist`;
* ticks are chosen by matplotlib's own locator and formatter, without its
  ``Tick`` objects; each text (tick labels, axis labels) is rendered by a
  matplotlib ``Text`` once, kept as a small image and composited wherever it
  appears again (tick labels repeat: "0", "5", "1000"), and the texts that
  rarely repeat (names, notes) are composited glyph by glyph;
* the PNG maps the pixels to a fixed palette of the figure's colours blended
  with white, without dithering, compressed with zlib's run-length strategy.

A figure then costs about 10 ms. The picture (what is drawn) is
:class:`skysep.replay.report._Picture`; this module only draws it.
"""

from __future__ import annotations

import functools
import io
import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import matplotlib
import matplotlib.style
import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import GraphicsContextBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ft2font import LoadFlags
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, NullLocator, ScalarFormatter
from matplotlib.transforms import IdentityTransform
from PIL import Image

from skysep.replay.report import FIGURE_DPI, FIGURE_SIZE_IN
from skysep.replay.report import _down as down
from skysep.replay.report import _short as short

if TYPE_CHECKING:
    from skysep.replay.report import _Picture

F64 = npt.NDArray[np.float64]

#: Where the axes sit in the figure (fractions); the band above holds the legends.
LEFT, RIGHT, BOTTOM, TOP = 0.065, 0.985, 0.12, 0.865

COLOR_A: Final = "tab:blue"
COLOR_B: Final = "tab:orange"
COLOR_MIN: Final = "tab:red"
COLOR_ALERT: Final = "tab:green"
GRID_COLOR: Final = "#d9d9d9"

TICK_FONT_PT: Final = 7.0
LABEL_FONT_PT: Final = 8.0
LEGEND_FONT_PT: Final = 6.5
TICK_LENGTH_PT: Final = 3.5
TICK_WIDTH_PT: Final = 0.8
TICK_PAD_PT: Final = 2.0
LABEL_PAD_PT: Final = 1.0
#: Longest aircraft name shown in a figure (the page has it whole).
NAME_CHARS: Final = 24


@contextmanager
def default_style() -> Iterator[None]:
    """matplotlib's default style, whatever the user's matplotlibrc or style says."""
    with matplotlib.style.context("default"):
        yield


# --- text as stamps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TextStyle:
    size: float
    color: str = "black"
    ha: str = "left"
    va: str = "baseline"
    rotation: float = 0.0


@dataclass(frozen=True)
class _Stamp:
    #: RGBA, first row at the bottom (as RendererAgg.draw_image takes it).
    image: npt.NDArray[np.uint8]
    #: Lower-left corner of the image from the text's anchor, pixels.
    dx: int
    dy: int
    #: The text's extent from its anchor: left, bottom, right, top (pixels).
    extent: tuple[float, float, float, float]


class Stamps:
    """Texts rendered once by matplotlib and composited as images wherever they appear.

    A text is drawn by a ``Text`` artist (so alignment, rotation, hinting and
    antialiasing are matplotlib's) onto a transparent scratch canvas, anchored
    on a whole pixel, and cropped. Drawn again at an anchor it lands within
    half a pixel of where the artist itself would put it.
    """

    def __init__(self, dpi: float) -> None:
        self._dpi = dpi
        self._cache: dict[tuple[str, TextStyle], _Stamp] = {}
        self._advances: dict[tuple[str, float], float] = {}
        self._size = (0, 0)
        self._figure: Figure | None = None
        self._canvas: FigureCanvasAgg | None = None
        #: One graphics context for every stamp: no clip, opaque.
        self._gc = GraphicsContextBase()

    def _scratch(self, width: int, height: int) -> tuple[Figure, RendererAgg]:
        if self._figure is None or width > self._size[0] or height > self._size[1]:
            self._size = (max(width, self._size[0]), max(height, self._size[1]))
            self._figure = Figure(
                figsize=(self._size[0] / self._dpi, self._size[1] / self._dpi), dpi=self._dpi
            )
            self._canvas = FigureCanvasAgg(self._figure)
        assert self._canvas is not None
        renderer = self._canvas.get_renderer()  # type: ignore[no-untyped-call]
        renderer.clear()
        return self._figure, renderer

    def get(self, text: str, style: TextStyle) -> _Stamp:
        key = (text, style)
        stamp = self._cache.get(key)
        if stamp is None:
            stamp = self._cache[key] = self._render(text, style)
        return stamp

    def _render(self, text: str, style: TextStyle) -> _Stamp:
        width, height = 64, 32
        while True:
            figure, renderer = self._scratch(2 * width, 2 * height)
            x0, y0 = self._size[0] // 2, self._size[1] // 2
            artist = Text(
                x0, y0, text, fontsize=style.size, color=style.color, ha=style.ha, va=style.va,
                rotation=style.rotation, rotation_mode="anchor", parse_math=False,
                transform=IdentityTransform(),
            )  # fmt: skip
            artist.set_figure(figure)
            box = artist.get_window_extent(renderer)
            need_w = int(2 * max(abs(box.x0 - x0), abs(box.x1 - x0))) + 8
            need_h = int(2 * max(abs(box.y0 - y0), abs(box.y1 - y0))) + 8
            if need_w <= self._size[0] and need_h <= self._size[1]:
                break
            width, height = max(width, need_w), max(height, need_h)
        artist.draw(renderer)
        pixels = np.asarray(renderer.buffer_rgba())  # type: ignore[no-untyped-call]
        rows, cols = pixels.shape[:2]
        # Crop to the text's box and a margin for antialiasing (buffer rows run downwards).
        left, right = max(int(box.x0) - 2, 0), min(math.ceil(box.x1) + 2, cols)
        bottom, top = max(int(box.y0) - 2, 0), min(math.ceil(box.y1) + 2, rows)
        image = pixels[rows - top : rows - bottom, left:right][::-1].copy()
        extent = (box.x0 - x0, box.y0 - y0, box.x1 - x0, box.y1 - y0)
        return _Stamp(image, left - x0, bottom - y0, extent)

    def compose(
        self, renderer: RendererAgg, text: str, x: float, y: float, size: float, color: str
    ) -> None:
        """Text that rarely repeats (names, notes), glyph by glyph from cached glyph stamps.

        The baseline starts at display point (x, y); glyphs advance by their
        linear (unhinted) advance widths, each placed on the nearest pixel.
        """
        style = TextStyle(size, color)
        pen = x
        for char in text:
            if not char.isspace():
                self.draw(renderer, char, pen, y, style)
            pen += self._advance(char, size)

    def _advance(self, char: str, size: float) -> float:
        key = (char, size)
        advance = self._advances.get(key)
        if advance is None:
            font = get_font(findfont(FontProperties(size=size)))
            font.set_size(size, self._dpi)
            glyph = font.load_char(ord(char), flags=LoadFlags.NO_HINTING)
            advance = self._advances[key] = glyph.linearHoriAdvance / 65536.0
        return advance

    def draw(
        self, renderer: RendererAgg, text: str, x: float, y: float, style: TextStyle
    ) -> _Stamp:
        """Composite ``text`` anchored at display point (x, y); returns its stamp."""
        stamp = self.get(text, style)
        if text:
            renderer.draw_image(self._gc, round(x) + stamp.dx, round(y) + stamp.dy, stamp.image)
        return stamp


# --- the figure ---------------------------------------------------------------------------------


def _line(ax: Axes, **style: Any) -> Line2D:
    (line,) = ax.plot([], [], animated=True, **style)
    return line


class _Axis:
    """One axis of one of the axes: its ticks and labels, as matplotlib would choose them.

    Positions from ``MaxNLocator`` and labels from ``ScalarFormatter`` (no
    offset); no ``Tick`` objects (see the module's docstring).
    """

    def __init__(self, ax: Axes, which: str, nbins: int, label: str, *, labels: bool = True):
        self.ax, self.which, self.label, self.labels = ax, which, label, labels
        self.locator = MaxNLocator(nbins=nbins)
        self.formatter = ScalarFormatter(useOffset=False)
        self.formatter.set_axis(ax.xaxis if which == "x" else ax.yaxis)

    def locations(self) -> F64:
        lo, hi = self.ax.get_xlim() if self.which == "x" else self.ax.get_ylim()
        lo, hi = min(lo, hi), max(lo, hi)
        ticks = np.asarray(self.locator.tick_values(lo, hi), dtype=np.float64)
        slack = 1e-9 * (hi - lo)
        keep: F64 = ticks[(ticks >= lo - slack) & (ticks <= hi + slack)]
        return keep


class Canvas:
    """One figure, its shared pixels drawn once; :meth:`render` draws an incident on a copy.

    The Agg canvas is attached explicitly: no display and no pyplot state.
    Build it (and call :meth:`render`) inside :func:`default_style`.
    """

    def __init__(self) -> None:
        figure = Figure(figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI)
        self.canvas = FigureCanvasAgg(figure)
        self.stamps = Stamps(FIGURE_DPI)
        grid = figure.add_gridspec(
            2, 2, width_ratios=(1.0, 1.55), left=LEFT, right=RIGHT, bottom=BOTTOM, top=TOP,
            wspace=0.19, hspace=0.08,
        )  # fmt: skip
        plan = figure.add_subplot(grid[:, 0])
        ax_h = figure.add_subplot(grid[0, 1])
        ax_v = figure.add_subplot(grid[1, 1], sharex=ax_h)
        self.figure, self.plan, self.ax_h, self.ax_v = figure, plan, ax_h, ax_v
        self.axes = (plan, ax_h, ax_v)
        for ax in self.axes:
            ax.set_autoscale_on(False)
            # No tick machinery at all (see the module's docstring); spines drawn per figure.
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(NullLocator())
                axis.set_minor_locator(NullLocator())
            for spine in ax.spines.values():
                spine.set_visible(False)
        self.axis = [
            (_Axis(plan, "x", 6, "east (NM)"), _Axis(plan, "y", 5, "north (NM)")),
            (_Axis(ax_h, "x", 6, "", labels=False), _Axis(ax_h, "y", 5, "horizontal (NM)")),
            (
                _Axis(ax_v, "x", 6, "seconds from the start of the loss of separation"),
                _Axis(ax_v, "y", 5, "vertical (ft)"),
            ),
        ]
        # Gridlines of each axes (data coordinates); tick marks and frames of the whole
        # figure (display coordinates, over everything, as spines are).
        self.grids = [_line(ax, lw=0.6, color=GRID_COLOR) for ax in self.axes]
        self.tick_marks = _line(
            plan, lw=TICK_WIDTH_PT, color="black", solid_capstyle="butt",
            transform=IdentityTransform(), clip_on=False,
        )  # fmt: skip
        rc = matplotlib.rcParams
        self.frames = _line(
            plan, lw=rc["axes.linewidth"], color=rc["axes.edgecolor"], solid_joinstyle="miter",
            transform=IdentityTransform(), clip_on=False,
        )  # fmt: skip
        colors = (COLOR_A, COLOR_B)
        self.tracks = [_line(plan, color=c, lw=1.2, marker=".", ms=3) for c in colors]
        self.losses = [
            _line(plan, color=c, lw=4.0, alpha=0.5, solid_capstyle="round") for c in colors
        ]
        self.circle = _line(plan, color="grey", lw=0.9, ls="--")
        self.marks = [
            _line(plan, ls="none", marker=m, ms=6, mfc="white", mec="black", zorder=4)
            for m in ("o", "D", "s")
        ]
        self.closest = _line(plan, color=COLOR_MIN, lw=1.3, zorder=5)
        self.spans: list[Rectangle] = []
        self.curves: list[Line2D] = []
        self.minima: list[Line2D] = []
        self.lowest: list[Line2D] = []
        self.alerts: list[Line2D] = []
        for ax in (ax_h, ax_v):
            span = Rectangle(
                (0.0, 0.0), 0.0, 1.0, transform=ax.get_xaxis_transform(), color=COLOR_MIN,
                alpha=0.13, lw=0, animated=True,
            )  # fmt: skip
            ax.add_patch(span)
            self.spans.append(span)
            self.curves.append(_line(ax, color="black", lw=1.1))
            minimum = ax.axhline(0.0, color=COLOR_MIN, ls="--", lw=1.0)
            minimum.set_animated(True)
            self.minima.append(minimum)
            self.lowest.append(_line(ax, ls="none", marker="D", ms=5, mfc="white", mec=COLOR_MIN))
            alert = ax.axvline(0.0, color=COLOR_ALERT, lw=1.4, ls=":")
            alert.set_animated(True)
            self.alerts.append(alert)
        names, sep = self._legends()
        self.canvas.draw()  # type: ignore[no-untyped-call]
        self.background = self.canvas.copy_from_bbox(figure.bbox)  # type: ignore[no-untyped-call]
        renderer = self.canvas.get_renderer()  # type: ignore[no-untyped-call]
        self.boxes = [ax.get_window_extent(renderer) for ax in self.axes]
        corners = []
        for box in self.boxes:
            corners += [(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1)]
            corners += [(box.x0, box.y0), (np.nan, np.nan)]
        self.frames.set_data(*np.array(corners).T)
        # Where the names and the notes go, now that the legends are laid out.
        self.name_slots = [
            (float(box.x0), float(box.y0))
            for box in (text.get_window_extent(renderer) for text in names.get_texts())
        ]
        sep_box = sep.get_window_extent(renderer)
        first = sep.get_texts()[0].get_window_extent(renderer)
        self.note_slot = (float(sep_box.x0), float(first.y0) + 1.45 * float(first.height))
        self.alert_slot = (float(sep_box.x1) + 8.0, float(first.y0))

    def _legends(self) -> tuple[Legend, Legend]:
        """The legends above the axes (drawn once); returns the names' and the separations'."""
        figure, plan, ax_h = self.figure, self.plan, self.ax_h
        common = {
            "fontsize": LEGEND_FONT_PT, "frameon": False, "handlelength": 1.8,
            "borderaxespad": 0.0, "borderpad": 0.0, "columnspacing": 1.4, "handletextpad": 0.5,
        }  # fmt: skip
        p, h = plan.get_position(), ax_h.get_position()
        gap = 3.0 / 72.0 / FIGURE_SIZE_IN[1]  # 3 pt above the axes
        row = 1.45 * LEGEND_FONT_PT / 72.0 / FIGURE_SIZE_IN[1]
        marks = [
            Line2D([], [], ls="none", marker=m, ms=6, mfc="white", mec="black")
            for m in ("o", "D", "s")
        ]
        circle = Line2D([], [], color="grey", lw=0.9, ls="--")
        figure.legend(
            handles=[*marks, circle],
            labels=["start", "closest", "end", "horizontal minimum around A then"],
            loc="lower left", bbox_to_anchor=(p.x0, p.y1 + gap), ncols=4, **common,
        )  # fmt: skip
        # The aircraft: their handles here, their names written into the slots per figure.
        blank = "\N{FIGURE SPACE}" * (NAME_CHARS + 4)
        names = figure.legend(
            handles=[Line2D([], [], color=c, lw=1.2, marker=".", ms=3) for c in (COLOR_A, COLOR_B)],
            labels=[blank, blank],
            loc="lower left", bbox_to_anchor=(p.x0, p.y1 + gap + row), ncols=2, **common,
        )  # fmt: skip
        sep = figure.legend(
            handles=[
                Rectangle((0, 0), 1, 1, color=COLOR_MIN, alpha=0.13, lw=0),
                Line2D([], [], color=COLOR_MIN, ls="--", lw=1.0),
                Line2D([], [], color=COLOR_ALERT, lw=1.4, ls=":"),
            ],
            labels=["loss of separation", "minimum", "first alert"],
            loc="lower left", bbox_to_anchor=(h.x0, h.y1 + gap), ncols=3, **common,
        )  # fmt: skip
        return names, sep

    # --- one incident ---------------------------------------------------------------------------

    def render(self, pic: _Picture, name_a: str, name_b: str) -> bytes:
        """The figure of one incident as PNG."""
        self._set_data(pic)
        renderer = self.canvas.get_renderer()  # type: ignore[no-untyped-call]
        self.canvas.restore_region(self.background)  # type: ignore[no-untyped-call]
        ticks = self._set_ticks(renderer)
        drawn: list[tuple[Axes, list[Artist]]] = [
            (self.plan, [self.grids[0], *self.tracks, *self.losses, self.circle, *self.marks,
                         self.closest]),
            (self.ax_h, [self.spans[0], self.grids[1], self.curves[0], self.minima[0],
                         self.lowest[0], self.alerts[0]]),
            (self.ax_v, [self.spans[1], self.grids[2], self.curves[1], self.minima[1],
                         self.lowest[1], self.alerts[1]]),
            (self.plan, [self.frames, self.tick_marks]),
        ]  # fmt: skip
        for ax, artists in drawn:
            for artist in artists:
                ax.draw_artist(artist)
        self._tick_labels(renderer, ticks)
        self._text(renderer, f"A {short(name_a, NAME_CHARS)}", *self.name_slots[0])
        self._text(renderer, f"B {short(name_b, NAME_CHARS)}", *self.name_slots[1])
        closest = f"{down(pic.min_h_nm, 2)} NM, {down(pic.min_v_ft, 0)} ft at {pic.min_rel:+.0f} s"
        self._text(renderer, f"closest: {closest}", *self.note_slot, color=COLOR_MIN)
        if not math.isfinite(pic.alert_rel):
            self._text(renderer, "(no alert)", *self.alert_slot)
        elif pic.alert_rel < pic.window_rel[0]:
            self._text(renderer, f"(at {pic.alert_rel:.0f} s, left of the plot)", *self.alert_slot)
        return self._png()

    def _text(
        self, renderer: RendererAgg, text: str, x: float, y: float, color: str = "black"
    ) -> None:
        """Text in the legend band, its baseline's left end at display point (x, y)."""
        self.stamps.compose(renderer, text, x, y, LEGEND_FONT_PT, color)

    def _set_data(self, pic: _Picture) -> None:
        for i in range(2):
            self.tracks[i].set_data(*pic.tracks[i])
            self.losses[i].set_data(*pic.losses[i])
        for i in range(3):
            self.marks[i].set_data(*pic.marks[i])
        self.closest.set_data(*pic.marks[1])
        self.circle.set_data(*pic.circle)
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
        self.ax_v.set_xlim(*pic.window_rel)

    def _set_ticks(self, renderer: RendererAgg) -> list[tuple[F64, F64]]:
        """Gridlines and tick marks for the limits just set; returns each axes' ticks."""
        out = []
        marks: list[F64] = []
        length = TICK_LENGTH_PT * renderer.dpi / 72.0
        nan = np.nan
        for ax, (x_axis, y_axis), grid, box in zip(
            self.axes, self.axis, self.grids, self.boxes, strict=True
        ):
            xs, ys = x_axis.locations(), y_axis.locations()
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            grid.set_data(
                np.concatenate([np.repeat(xs, 3), np.tile([x0, x1, np.nan], ys.shape[0])]),
                np.concatenate([np.tile([y0, y1, np.nan], xs.shape[0]), np.repeat(ys, 3)]),
            )
            at_x = ax.transData.transform(np.column_stack([xs, np.zeros_like(xs)]))[:, 0]
            at_y = ax.transData.transform(np.column_stack([np.zeros_like(ys), ys]))[:, 1]
            n, m = xs.shape[0], ys.shape[0]
            # Each mark from the frame outwards, NaN between marks.
            x_marks = np.concatenate(
                [np.repeat(at_x, 3), np.tile([box.x0, box.x0 - length, nan], m)]
            )
            y_marks = np.concatenate(
                [np.tile([box.y0, box.y0 - length, nan], n), np.repeat(at_y, 3)]
            )
            marks.append(np.column_stack([x_marks, y_marks]))
            out.append((xs, ys))
        every = np.concatenate(marks)
        self.tick_marks.set_data(every[:, 0], every[:, 1])
        return out

    def _tick_labels(self, renderer: RendererAgg, ticks: list[tuple[F64, F64]]) -> None:
        """Tick labels outside the axes, then each axis label beyond the widest of them."""
        stamps, dpi = self.stamps, renderer.dpi
        offset = (TICK_LENGTH_PT + TICK_PAD_PT) * dpi / 72.0
        pad = LABEL_PAD_PT * dpi / 72.0
        x_style = TextStyle(TICK_FONT_PT, ha="center", va="top")
        y_style = TextStyle(TICK_FONT_PT, ha="right", va="center_baseline")
        x_label = TextStyle(LABEL_FONT_PT, ha="center", va="top")
        y_label = TextStyle(LABEL_FONT_PT, ha="center", va="bottom", rotation=90.0)
        for ax, (x_axis, y_axis), box, (xs, ys) in zip(
            self.axes, self.axis, self.boxes, ticks, strict=True
        ):
            if x_axis.labels:
                at = ax.transData.transform(np.column_stack([xs, np.zeros_like(xs)]))[:, 0]
                lowest = box.y0 - offset
                for x, text in zip(
                    at.tolist(), x_axis.formatter.format_ticks(xs.tolist()), strict=True
                ):
                    stamp = stamps.draw(renderer, text, x, box.y0 - offset, x_style)
                    lowest = min(lowest, box.y0 - offset + stamp.extent[1])
                stamps.draw(renderer, x_axis.label, 0.5 * (box.x0 + box.x1), lowest - pad, x_label)
            at = ax.transData.transform(np.column_stack([np.zeros_like(ys), ys]))[:, 1]
            leftmost = box.x0 - offset
            for y, text in zip(
                at.tolist(), y_axis.formatter.format_ticks(ys.tolist()), strict=True
            ):
                stamp = stamps.draw(renderer, text, box.x0 - offset, y, y_style)
                leftmost = min(leftmost, box.x0 - offset + stamp.extent[0])
            stamps.draw(renderer, y_axis.label, leftmost - pad, 0.5 * (box.y0 + box.y1), y_label)

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

    def _png(self) -> bytes:
        """The figure as a PNG of :data:`PALETTE`'s colours.

        Every pixel of a figure is one of its few colours blended with white
        (antialiasing, transparency) or close to one, so a fixed palette of
        those blends keeps the lines and text sharp without dithering, and
        mapping to it costs a third of an adaptive quantisation. zlib's
        run-length strategy suits the long runs of one colour.
        """
        size = self.canvas.get_width_height(physical=True)
        buffer = self.canvas.buffer_rgba()  # type: ignore[no-untyped-call]
        rgb = Image.frombuffer("RGBA", size, buffer, "raw", "RGBA", 0, 1).convert("RGB")
        image = rgb.quantize(palette=_palette(), dither=Image.Dither.NONE)
        out = io.BytesIO()
        image.save(out, format="png", compress_level=6, compress_type=zlib.Z_RLE)
        return out.getvalue()


#: The colours drawn; the palette holds each blended with white in 35 steps.
PALETTE_COLORS: Final = ("black", GRID_COLOR, "grey", COLOR_A, COLOR_B, COLOR_MIN, COLOR_ALERT)


@functools.cache
def _palette() -> Image.Image:
    rgb = np.array([to_rgb(c) for c in PALETTE_COLORS]) * 255.0
    steps = np.linspace(0.0, 1.0, 36)[1:]  # 0: white, given once below
    blends = 255.0 + steps[None, :, None] * (rgb[:, None, :] - 255.0)
    colors = np.concatenate([[[255.0, 255.0, 255.0]], blends.reshape(-1, 3)])
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: colors.shape[0]] = np.round(colors).astype(np.uint8)
    image = Image.new("P", (1, 1))
    image.putpalette(table.ravel().tolist())
    return image
