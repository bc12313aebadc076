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
  with white, without dithering, compressed with zlib-ng's run-length strategy.

A figure then costs about 6 ms. The picture (what is drawn) is
:class:`skysep.replay.report._Picture`; this module only draws it.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import matplotlib
import matplotlib.style
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backend_bases import GraphicsContextBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ft2font import LoadFlags
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, NullLocator, ScalarFormatter
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform
from PIL import Image
from zlib_ng import zlib_ng

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

    A single glyph, or a rotated text, is drawn by a ``Text`` artist (so
    alignment, rotation, hinting and antialiasing are matplotlib's) onto a
    transparent scratch canvas, anchored on a whole pixel, and cropped; drawn
    again at an anchor it lands within half a pixel of where the artist would
    put it. A new word is put together from its glyphs' stamps (a ``Text``
    render costs 2 ms, a word of known glyphs a tenth of that), within a pixel
    of matplotlib's own layout.
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
            if len(text) > 1 and style.rotation == 0.0 and not any(c.isspace() for c in text):
                stamp = self._composed(text, style)
            else:
                stamp = self._render(text, style)
            self._cache[key] = stamp
        return stamp

    def _composed(self, text: str, style: TextStyle) -> _Stamp:
        """A one-word text put together from its glyphs' stamps (as :meth:`compose` draws).

        Rendering a new text with a ``Text`` artist costs 2 ms; tick labels are
        mostly new texts of a few known glyphs. Aligned as matplotlib aligns
        "0" in this style (the box of a word of digits is the font's line box).
        """
        glyph = TextStyle(style.size, style.color)
        reference, baseline = self.get("0", style), self.get("0", glyph)
        width = sum(self._advance(c, style.size) for c in text)
        x0 = -width * {"left": 0.0, "center": 0.5, "right": 1.0}[style.ha]
        y0 = reference.extent[1] - baseline.extent[1]  # the baseline, from the anchor
        placed = []
        pen = x0
        for char in text:
            stamp = self.get(char, glyph)
            placed.append((round(pen) + stamp.dx, round(y0) + stamp.dy, stamp.image))
            pen += self._advance(char, style.size)
        left = min(x for x, _, _ in placed)
        bottom = min(y for _, y, _ in placed)
        right = max(x + image.shape[1] for x, _, image in placed)
        top = max(y + image.shape[0] for _, y, image in placed)
        # Same colour throughout: coverages combine as 1 - (1 - a)(1 - b).
        clear = np.ones((top - bottom, right - left), dtype=np.float64)
        for x, y, image in placed:
            h, w = image.shape[:2]
            clear[y - bottom : y - bottom + h, x - left : x - left + w] *= (
                1.0 - image[..., 3] / 255.0
            )
        out = np.empty((top - bottom, right - left, 4), dtype=np.uint8)
        out[..., :3] = np.round(np.array(to_rgb(style.color)) * 255.0).astype(np.uint8)
        out[..., 3] = np.round(255.0 * (1.0 - clear)).astype(np.uint8)
        extent = (x0, y0 + baseline.extent[1], x0 + width, y0 + baseline.extent[3])
        return _Stamp(out, left, bottom, extent)

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
        """Text put together word by word (names, notes): the baseline starts at display
        point (x, y); words are stamps (made from glyph stamps when new), glyphs advance by
        their linear (unhinted) advance widths, each placed on the nearest pixel.
        """
        style = TextStyle(size, color)
        pen = x
        space = self._advance(" ", size)
        for word in text.split(" "):
            if word:
                self.draw(renderer, word, pen, y, style)
                pen += sum(self._advance(char, size) for char in word)
            pen += space

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

XY = tuple[F64, F64]
RGBA = tuple[float, float, float, float]
_IDENTITY: Final = IdentityTransform()


@dataclass(frozen=True)
class Style:
    """How a line and its markers look, as ``Line2D`` keywords (matplotlib's names)."""

    color: str
    lw: float = 0.0
    ls: str = "-"
    alpha: float | None = None
    capstyle: str | None = None
    joinstyle: str | None = None
    marker: str | None = None
    ms: float = 0.0
    mfc: str | None = None
    mec: str | None = None

    def line2d(self) -> Line2D:
        """A ``Line2D`` of this style (and no data): the legends' handles, and the reference."""
        given: dict[str, Any] = {
            "mfc": self.mfc, "mec": self.mec, "solid_capstyle": self.capstyle,
            "solid_joinstyle": self.joinstyle,
        }  # fmt: skip
        return Line2D(
            [], [], color=self.color, lw=self.lw, ls=self.ls if self.lw > 0 else "none",
            alpha=self.alpha, marker=self.marker, ms=self.ms,
            **{k: v for k, v in given.items() if v is not None},
        )  # fmt: skip


class _Stroke:
    """A :class:`Style` drawn straight onto the Agg renderer, in display coordinates.

    What ``Line2D.draw`` does (the same graphics context settings, dash
    pattern, marker path and transform), resolved once instead of per call:
    ``Line2D`` recomputes its paths, transforms and graphics contexts every
    time it is drawn, which was half of a figure's time.
    """

    def __init__(self, style: Style, dpi: float, clip: Bbox | None) -> None:
        line = style.line2d()
        self.line: GraphicsContextBase | None = None
        if style.lw > 0:
            gc = GraphicsContextBase()
            gc.set_antialiased(line.get_antialiased())
            gc.set_linewidth(line.get_linewidth())
            dashed = line.is_dashed()
            gc.set_joinstyle(line.get_dash_joinstyle() if dashed else line.get_solid_joinstyle())
            gc.set_capstyle(line.get_dash_capstyle() if dashed else line.get_solid_capstyle())
            gc.set_foreground(to_rgba(line.get_color(), style.alpha), isRGBA=True)
            gc.set_dashes(*_dashes(style.ls, line.get_linewidth()))
            gc.set_clip_rectangle(clip)
            self.line = gc
        self.marker: tuple[GraphicsContextBase, Path, Affine2D, RGBA] | None = None
        if style.marker is not None:
            shape = MarkerStyle(style.marker)
            size = style.ms * dpi / 72.0
            gc = GraphicsContextBase()
            gc.set_antialiased(line.get_antialiased())
            gc.set_linewidth(line.get_markeredgewidth())
            gc.set_foreground(to_rgba(line.get_markeredgecolor(), style.alpha), isRGBA=True)
            threshold = shape.get_snap_threshold()
            gc.set_snap(size >= threshold if threshold is not None else None)
            gc.set_joinstyle(shape.get_joinstyle())
            gc.set_capstyle(shape.get_capstyle())
            gc.set_clip_rectangle(clip)
            face = to_rgba(line.get_markerfacecolor(), style.alpha)
            scaled = Affine2D(shape.get_transform().get_matrix()).scale(size)
            self.marker = (gc, shape.get_path(), scaled, face)

    def draw(self, renderer: RendererAgg, x: F64, y: F64) -> None:
        """The line through display points (x, y) (NaN breaks it) and its markers."""
        if x.shape[0] == 0:
            return
        path = Path(np.column_stack([x, y]))
        if self.line is not None:
            renderer.draw_path(self.line, path, _IDENTITY)  # type: ignore[no-untyped-call]
        if self.marker is not None:
            gc, shape, transform, face = self.marker
            renderer.draw_markers(gc, shape, transform, path, _IDENTITY, face)


def _dashes(ls: str, lw: float) -> tuple[float, list[float] | None]:
    """matplotlib's dash pattern for a line style, scaled by the line width."""
    rc = matplotlib.rcParams
    pattern = {"--": rc["lines.dashed_pattern"], ":": rc["lines.dotted_pattern"]}.get(ls)
    if pattern is None:
        return 0.0, None
    scale = lw if rc["lines.scale_dashes"] else 1.0
    return 0.0, [float(v) * scale for v in pattern]


class _Axis:
    """One axis of one of the axes: its ticks and labels, as matplotlib would choose them.

    Positions from ``MaxNLocator`` and labels from ``ScalarFormatter`` (no
    offset); no ``Tick`` objects (see the module's docstring).
    """

    def __init__(self, ax: Axes, which: str, nbins: int, label: str, *, labels: bool = True):
        self.ax, self.which, self.label, self.labelled = ax, which, label, labels
        self.locator = MaxNLocator(nbins=nbins)
        self.formatter = ScalarFormatter(useOffset=False)
        self.formatter.set_axis(ax.xaxis if which == "x" else ax.yaxis)

        self._labels: dict[tuple[float, ...], list[str]] = {}

    def ticks(self, scale: float, offset: float) -> tuple[F64, F64]:
        """The ticks within the view limits: values, and display positions along the axis
        (``scale * value + offset``)."""
        lo, hi = self.ax.get_xlim() if self.which == "x" else self.ax.get_ylim()
        lo, hi = min(lo, hi), max(lo, hi)
        ticks = np.asarray(self.locator.tick_values(lo, hi), dtype=np.float64)
        slack = 1e-9 * (hi - lo)
        keep: F64 = ticks[(ticks >= lo - slack) & (ticks <= hi + slack)]
        return keep, scale * keep + offset

    def labels(self, ticks: F64) -> list[str]:
        """The tick labels (ScalarFormatter's, which depend on the ticks alone when there are
        two or more of them)."""
        key = tuple(ticks.tolist())
        if len(key) < 2:
            return list(self.formatter.format_ticks(list(key)))
        labels = self._labels.get(key)
        if labels is None:
            labels = self._labels[key] = list(self.formatter.format_ticks(list(key)))
        return labels


#: The styles of a figure, by what they draw.
STYLES: Final = {
    "grid": Style(GRID_COLOR, lw=0.6),
    "frame": Style("black", lw=0.8, capstyle="butt", joinstyle="miter"),
    "track_a": Style(COLOR_A, lw=1.2, marker=".", ms=3.0),
    "track_b": Style(COLOR_B, lw=1.2, marker=".", ms=3.0),
    "loss_a": Style(COLOR_A, lw=4.0, alpha=0.5, capstyle="round"),
    "loss_b": Style(COLOR_B, lw=4.0, alpha=0.5, capstyle="round"),
    "circle": Style("grey", lw=0.9, ls="--"),
    "start": Style("black", marker="o", ms=6.0, mfc="white", mec="black"),
    "closest": Style("black", marker="D", ms=6.0, mfc="white", mec="black"),
    "end": Style("black", marker="s", ms=6.0, mfc="white", mec="black"),
    "closest_line": Style(COLOR_MIN, lw=1.3),
    "curve": Style("black", lw=1.1),
    "minimum": Style(COLOR_MIN, lw=1.0, ls="--"),
    "lowest": Style(COLOR_MIN, marker="D", ms=5.0, mfc="white", mec=COLOR_MIN),
    "alert": Style(COLOR_ALERT, lw=1.4, ls=":"),
}


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
            # No tick machinery (see the module's docstring); frames drawn per figure.
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
        names, sep = self._legends()
        self.canvas.draw()  # type: ignore[no-untyped-call]
        self.background = self.canvas.copy_from_bbox(figure.bbox)  # type: ignore[no-untyped-call]
        renderer = self.canvas.get_renderer()  # type: ignore[no-untyped-call]
        self.boxes = [ax.get_window_extent(renderer) for ax in self.axes]
        self.strokes = {
            (name, k): _Stroke(style, FIGURE_DPI, box)
            for name, style in STYLES.items()
            for k, box in enumerate(self.boxes)
        }
        self.unclipped = {name: _Stroke(s, FIGURE_DPI, None) for name, s in STYLES.items()}
        #: Per axes, data to display: (x scale, x offset, y scale, y offset), set per figure.
        self.scales: list[tuple[float, float, float, float]] = []
        self.span_face = to_rgba(COLOR_MIN, 0.13)
        self.span_gc = GraphicsContextBase()
        self.span_gc.set_linewidth(0.0)
        # The frames: one closed line per axes, starting mid-edge so that no corner is an end.
        frames: list[tuple[float, float]] = []
        for box in self.boxes:
            mid = 0.5 * (box.x0 + box.x1)
            frames += [(mid, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1)]
            frames += [(box.x0, box.y0), (mid, box.y0), (np.nan, np.nan)]
        self.frames = np.array(frames)
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

        def handle(name: str) -> Line2D:
            return STYLES[name].line2d()

        figure.legend(
            handles=[handle(n) for n in ("start", "closest", "end", "circle")],
            labels=["start", "closest", "end", "horizontal minimum around A then"],
            loc="lower left", bbox_to_anchor=(p.x0, p.y1 + gap), ncols=4, **common,
        )  # fmt: skip
        # The aircraft: their handles here, their names written into the slots per figure.
        blank = "\N{FIGURE SPACE}" * (NAME_CHARS + 4)
        names = figure.legend(
            handles=[handle("track_a"), handle("track_b")],
            labels=[blank, blank],
            loc="lower left", bbox_to_anchor=(p.x0, p.y1 + gap + row), ncols=2, **common,
        )  # fmt: skip
        sep = figure.legend(
            handles=[
                Rectangle((0, 0), 1, 1, color=COLOR_MIN, alpha=0.13, lw=0),
                handle("minimum"),
                handle("alert"),
            ],
            labels=["loss of separation", "minimum", "first alert"],
            loc="lower left", bbox_to_anchor=(h.x0, h.y1 + gap), ncols=3, **common,
        )  # fmt: skip
        return names, sep

    def warm_up(self) -> None:
        """Render what every figure needs before the first is wanted: the glyphs of the
        tick labels, the axis labels, and one made-up incident (its names and note).

        A glyph is rendered by matplotlib once per process (about 1 ms); processes
        forked afterwards inherit them, so they are not rendered again in each. The
        letters of aircraft names are left to the figures that show them.
        """
        from skysep.replay.report import _Picture

        with default_style():
            ticks = TextStyle(TICK_FONT_PT)
            for char in WARM_TICK_GLYPHS:
                self.stamps.get(char, ticks)
            t = np.arange(-180.0, 121.0)
            x = 0.12 * t
            zero = np.zeros_like(t)
            h_nm = np.hypot(x, x + 0.5)

            def both_at(i: int) -> tuple[F64, F64]:
                return np.array([x[i], -0.5]), np.array([0.0, x[i]])

            pic = _Picture(
                tracks=((x, zero), (zero - 0.5, x)),
                losses=((x[170:200], zero[170:200]), (zero[170:200] - 0.5, x[170:200])),
                marks=(both_at(180), both_at(185), both_at(199)),
                circle=(
                    3.0 * np.cos(np.linspace(0, 2 * np.pi, 73)),
                    3.0 * np.sin(np.linspace(0, 2 * np.pi, 73)),
                ),
                core=(
                    np.concatenate([x[120:230], zero[120:230] - 0.5]),
                    np.concatenate([zero[120:230], x[120:230]]),
                ),
                t_rel=t,
                h_nm=h_nm,
                v_ft=np.full_like(t, 600.0),
                window_rel=(-180.0, 120.0),
                end_rel=19.0,
                losses_rel=((-10.0, 2.0), (6.0, 19.0)),
                min_rel=5.0,
                min_h_nm=float(h_nm.min()),
                min_v_ft=600.0,
                alert_rel=-75.0,
                limit_h_nm=3.0,
                limit_v_ft=1000.0,
            )
            self.render(pic, "0123456789abcdef", "0123456789abcdef")  # ICAO addresses

    # --- one incident ---------------------------------------------------------------------------

    def render(self, pic: _Picture, name_a: str, name_b: str) -> bytes:
        """The figure of one incident as PNG."""
        self._set_limits(pic)
        renderer = self.canvas.get_renderer()  # type: ignore[no-untyped-call]
        self.canvas.restore_region(self.background)  # type: ignore[no-untyped-call]
        # Data to display coordinates: linear axes, so a scale and an offset per direction.
        self.scales.clear()
        for ax in self.axes:
            m = ax.transData.get_affine().get_matrix()
            self.scales.append((float(m[0, 0]), float(m[0, 2]), float(m[1, 1]), float(m[1, 2])))
        ticks = [
            (*x.ticks(sx, tx), *y.ticks(sy, ty))
            for (x, y), (sx, tx, sy, ty) in zip(self.axis, self.scales, strict=True)
        ]
        self._grid(renderer, ticks)
        self._plan(renderer, pic)
        self._separations(renderer, pic)
        self._frames(renderer, ticks)
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

    def _draw(self, renderer: RendererAgg, name: str, k: int, xy: XY) -> None:
        """Data points (x, y) of axes ``k`` in style ``name``, clipped to the axes."""
        x, y = xy
        sx, tx, sy, ty = self.scales[k]
        self.strokes[name, k].draw(renderer, sx * x + tx, sy * y + ty)

    def _plan(self, renderer: RendererAgg, pic: _Picture) -> None:
        for name, xy in (
            ("track_a", pic.tracks[0]), ("track_b", pic.tracks[1]),
            ("loss_a", pic.losses[0]), ("loss_b", pic.losses[1]), ("circle", pic.circle),
            ("start", pic.marks[0]), ("closest", pic.marks[1]), ("end", pic.marks[2]),
            ("closest_line", pic.marks[1]),
        ):  # fmt: skip
            self._draw(renderer, name, 0, xy)

    def _separations(self, renderer: RendererAgg, pic: _Picture) -> None:
        alert = math.isfinite(pic.alert_rel)
        for k, (values, limit, lowest) in enumerate(
            ((pic.h_nm, pic.limit_h_nm, pic.min_h_nm), (pic.v_ft, pic.limit_v_ft, pic.min_v_ft)),
            start=1,
        ):
            box = self.boxes[k]
            sx, tx, sy, ty = self.scales[k]
            # Each loss of separation, shaded over the axes' height.
            for start, end in pic.losses_rel:
                x0, x1 = max(sx * start + tx, box.x0), min(sx * end + tx, box.x1)
                if x1 > x0:
                    corners = [[x0, box.y0], [x1, box.y0], [x1, box.y1], [x0, box.y1]]
                    rect = Path(np.array(corners))
                    renderer.draw_path(self.span_gc, rect, _IDENTITY, self.span_face)  # type: ignore[no-untyped-call]
            self._draw(renderer, "curve", k, (pic.t_rel, values))
            y = sy * limit + ty
            self.strokes["minimum", k].draw(renderer, np.array([box.x0, box.x1]), np.array([y, y]))
            self._draw(renderer, "lowest", k, (np.array([pic.min_rel]), np.array([lowest])))
            if alert:
                x = sx * pic.alert_rel + tx
                self.strokes["alert", k].draw(
                    renderer, np.array([x, x]), np.array([box.y0, box.y1])
                )

    def _set_limits(self, pic: _Picture) -> None:
        """The axes' view limits, set on their ``viewLim`` (``set_xlim`` and ``set_ylim``
        notify shared axes and callbacks, a tenth of a figure's time; nothing listens here)."""
        x0, x1, y0, y1 = self._plan_limits(pic)
        self.plan.viewLim.set_points(np.array([[x0, y0], [x1, y1]]))
        t0, t1 = pic.window_rel
        for ax, values, limit in (
            (self.ax_h, pic.h_nm, pic.limit_h_nm),
            (self.ax_v, pic.v_ft, pic.limit_v_ft),
        ):
            finite = values[np.isfinite(values)]
            top = float(finite.max()) if finite.shape[0] else limit
            high = max(1.5 * limit, min(1.08 * top, 4.0 * limit))
            ax.viewLim.set_points(np.array([[t0, 0.0], [t1, high]]))

    def _grid(self, renderer: RendererAgg, ticks: list[tuple[F64, F64, F64, F64]]) -> None:
        """Gridlines at the ticks, under everything else."""
        xs, ys = [], []
        for box, (_, at_x, _, at_y) in zip(self.boxes, ticks, strict=True):
            xs += [np.repeat(at_x, 3), np.tile([box.x0, box.x1, np.nan], at_y.shape[0])]
            ys += [np.tile([box.y0, box.y1, np.nan], at_x.shape[0]), np.repeat(at_y, 3)]
        self.unclipped["grid"].draw(renderer, np.concatenate(xs), np.concatenate(ys))

    def _frames(self, renderer: RendererAgg, ticks: list[tuple[F64, F64, F64, F64]]) -> None:
        """The axes' frames and the tick marks (outwards), over the data as spines are."""
        length = TICK_LENGTH_PT * renderer.dpi / 72.0
        nan = np.nan
        xs, ys = [self.frames[:, 0]], [self.frames[:, 1]]
        for box, (_, at_x, _, at_y) in zip(self.boxes, ticks, strict=True):
            n, m = at_x.shape[0], at_y.shape[0]
            xs += [np.repeat(at_x, 3), np.tile([box.x0, box.x0 - length, nan], m)]
            ys += [np.tile([box.y0, box.y0 - length, nan], n), np.repeat(at_y, 3)]
        self.unclipped["frame"].draw(renderer, np.concatenate(xs), np.concatenate(ys))

    def _text(
        self, renderer: RendererAgg, text: str, x: float, y: float, color: str = "black"
    ) -> None:
        """Text in the legend band, its baseline's left end at display point (x, y)."""
        self.stamps.compose(renderer, text, x, y, LEGEND_FONT_PT, color)

    def _tick_labels(self, renderer: RendererAgg, ticks: list[tuple[F64, F64, F64, F64]]) -> None:
        """Tick labels outside the axes, then each axis label beyond the widest of them."""
        stamps, dpi = self.stamps, renderer.dpi
        offset = (TICK_LENGTH_PT + TICK_PAD_PT) * dpi / 72.0
        pad = LABEL_PAD_PT * dpi / 72.0
        x_style = TextStyle(TICK_FONT_PT, ha="center", va="top")
        y_style = TextStyle(TICK_FONT_PT, ha="right", va="center_baseline")
        x_label = TextStyle(LABEL_FONT_PT, ha="center", va="top")
        y_label = TextStyle(LABEL_FONT_PT, ha="center", va="bottom", rotation=90.0)
        for (x_axis, y_axis), box, (xs, at_x, ys, at_y) in zip(
            self.axis, self.boxes, ticks, strict=True
        ):
            if x_axis.labelled:
                lowest = box.y0 - offset
                for x, text in zip(at_x.tolist(), x_axis.labels(xs), strict=True):
                    stamp = stamps.draw(renderer, text, x, box.y0 - offset, x_style)
                    lowest = min(lowest, box.y0 - offset + stamp.extent[1])
                stamps.draw(renderer, x_axis.label, 0.5 * (box.x0 + box.x1), lowest - pad, x_label)
            leftmost = box.x0 - offset
            for y, text in zip(at_y.tolist(), y_axis.labels(ys), strict=True):
                stamp = stamps.draw(renderer, text, box.x0 - offset, y, y_style)
                leftmost = min(leftmost, box.x0 - offset + stamp.extent[0])
            stamps.draw(renderer, y_axis.label, leftmost - pad, 0.5 * (box.y0 + box.y1), y_label)

    def _plan_limits(self, pic: _Picture) -> tuple[float, float, float, float]:
        """Limits holding the core of the picture, one NM as long east as north."""
        xs, ys = pic.core
        ok = np.isfinite(xs) & np.isfinite(ys)
        if not ok.any():
            return -1.0, 1.0, -1.0, 1.0
        x0, x1, y0, y1 = xs[ok].min(), xs[ok].max(), ys[ok].min(), ys[ok].max()
        box = self.boxes[0]
        ratio = box.width / box.height
        half_h = 0.54 * max(y1 - y0, (x1 - x0) / ratio, 0.5)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        return cx - half_h * ratio, cx + half_h * ratio, cy - half_h, cy + half_h

    def _png(self) -> bytes:
        """The figure as a PNG of :data:`PALETTE_COLORS`' colours (see :func:`palette_png`).

        Every pixel of a figure is one of its few colours blended with white
        (antialiasing, transparency) or close to one, so a fixed palette of
        those blends keeps the lines and text sharp without dithering, and
        mapping to it costs a third of an adaptive quantisation.
        """
        size = self.canvas.get_width_height(physical=True)
        buffer = self.canvas.buffer_rgba()  # type: ignore[no-untyped-call]
        # Unpacked straight to RGB (the "RGBX" raw mode drops alpha): a fifth of the cost
        # of converting an RGBA image.
        rgb = Image.frombytes("RGB", size, buffer, "raw", "RGBX")
        image = rgb.quantize(palette=_palette(), dither=Image.Dither.NONE)
        return palette_png(np.asarray(image), _palette_rgb())


def palette_png(indices: npt.NDArray[np.uint8], palette: bytes) -> bytes:
    """A PNG (8-bit palette, no filter) of ``indices`` (rows top down) into ``palette`` (RGB).

    The pixel data is deflated by zlib-ng with its run-length strategy: the
    rows of a figure are long runs of one colour, and zlib-ng finds them four
    times as fast as zlib (which Pillow's PNG writer uses), a tenth of a
    figure's time. The file is what any PNG reader reads (the tests decode
    it with Pillow).
    """
    height, width = indices.shape
    if not 0 < len(palette) <= 3 * 256 or len(palette) % 3:
        raise ValueError(f"a PNG palette holds 1 to 256 RGB colours, got {len(palette)} bytes")
    if height == 0 or width == 0:
        raise ValueError(f"a PNG image has pixels, got {width}x{height}")
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # each row: filter type 0, the row
    rows[:, 1:] = indices
    deflate = zlib_ng.compressobj(6, zlib_ng.DEFLATED, 15, 9, zlib_ng.Z_RLE)
    data = deflate.compress(rows.data) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", palette),
            _chunk(b"IDAT", data),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib_ng.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


#: Glyphs :meth:`Canvas.warm_up` renders for the tick labels (numbers).
WARM_TICK_GLYPHS: Final = "0123456789.,\N{MINUS SIGN}-"


#: The colours drawn; the palette holds each blended with white in 35 steps.
PALETTE_COLORS: Final = ("black", GRID_COLOR, "grey", COLOR_A, COLOR_B, COLOR_MIN, COLOR_ALERT)


@functools.cache
def _palette_rgb() -> bytes:
    """The palette, 256 RGB colours: white, each colour blended with white in 35 steps, then
    black to fill it up."""
    rgb = np.array([to_rgb(c) for c in PALETTE_COLORS]) * 255.0
    steps = np.linspace(0.0, 1.0, 36)[1:]  # 0: white, given once below
    blends = 255.0 + steps[None, :, None] * (rgb[:, None, :] - 255.0)
    colors = np.concatenate([[[255.0, 255.0, 255.0]], blends.reshape(-1, 3)])
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: colors.shape[0]] = np.round(colors).astype(np.uint8)
    return table.tobytes()


@functools.cache
def _palette() -> Image.Image:
    """The palette, as Pillow quantises to it."""
    image = Image.new("P", (1, 1))
    image.putpalette(_palette_rgb())
    return image
