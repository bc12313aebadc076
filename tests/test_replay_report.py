"""report.html of ``skysep replay``: self-contained, complete, escaped, quantisation apart."""

from __future__ import annotations

import base64
import io
import os
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import pytest
from matplotlib.colors import to_rgb

from skysep import units
from skysep.agreement import preset
from skysep.replay import ReplayOptions, ReplayResult, Tracks, replay
from skysep.replay import report as report_module
from skysep.replay._select import UsedReports, used_reports
from skysep.replay.outputs import QUANTISATION_BAND_FT, summary
from skysep.replay.report import plotted_figures, write_report

GEOD = pyproj.Geod(ellps="WGS84")
T0_S = 1.7e9
AGREEMENT = preset("icao-5nm")
HOSTILE = '<script>alert("x")</script>'
MATHTEXT = "D$\\frac{"  # unbalanced mathtext: matplotlib would fail to parse it


def head_on(
    a: str, b: str, lat: float, dz_ft: float, *, offset_s: float = 0.0
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A flies east, B west 0.01 deg north of it, 230 m/s, reports every 10 s for 600 s;
    they pass around t = 257 s (loss of 5 NM from about 237 s to 277 s)."""
    t = np.arange(0.0, 600.0, 10.0) + offset_s
    n = t.shape[0]
    dist = 230.0 * (t - offset_s)
    lon_a, lat_a, _ = GEOD.fwd(np.full(n, 6.0), np.full(n, lat), np.full(n, 90.0), dist)
    lon_b, lat_b, _ = GEOD.fwd(np.full(n, 7.5), np.full(n, lat + 0.01), np.full(n, 270.0), dist)
    alt = np.concatenate([np.full(n, 10000.0), np.full(n, 10000.0 + units.ft_to_m(dz_ft))])
    return (
        [a] * n + [b] * n,
        np.concatenate([t, t]) + T0_S,
        np.concatenate([lat_a, lat_b]),
        np.concatenate([lon_a, lon_b]),
        alt,
    )


def make_tracks(*pairs: tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> Tracks:
    ids = [aircraft for pair in pairs for aircraft in pair[0]]
    m = len(ids)
    return Tracks(
        aircraft=np.array(ids, dtype=object),
        time_s=np.concatenate([p[1] for p in pairs]),
        lat_deg=np.concatenate([p[2] for p in pairs]),
        lon_deg=np.concatenate([p[3] for p in pairs]),
        alt_m=np.concatenate([p[4] for p in pairs]),
        gs_mps=np.full(m, np.nan),
        track_deg=np.full(m, np.nan),
        vs_mps=np.full(m, np.nan),
    )


def take(tracks: Tracks, rows: npt.NDArray[np.intp]) -> Tracks:
    return Tracks(
        aircraft=tracks.aircraft[rows],
        time_s=tracks.time_s[rows],
        lat_deg=tracks.lat_deg[rows],
        lon_deg=tracks.lon_deg[rows],
        alt_m=tracks.alt_m[rows],
        gs_mps=tracks.gs_mps[rows],
        track_deg=tracks.track_deg[rows],
        vs_mps=tracks.vs_mps[rows],
    )


@dataclass
class Page:
    """What a parsed report holds: sections, table rows, images and visible text."""

    text: str
    sections: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    srcs: list[str] = field(default_factory=list)
    hrefs: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)


class _Parser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.section = ""
        self.row: str | None = None
        self.cells: list[str] = []
        self.cell: list[str] | None = None
        self.in_facts = False
        self.fact_th: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.page.tags.add(tag)
        if a.get("id"):
            self.page.ids.append(str(a["id"]))
        if "src" in a:
            self.page.srcs.append(str(a["src"]))
        if tag == "img":
            self.page.images.append(str(a.get("src")))
        if tag == "a" and a.get("href"):
            self.page.hrefs.append(str(a["href"]))
        if tag == "h2":
            self.section = str(a.get("id") or "")
            self.page.sections.setdefault(self.section, [])
        if tag == "table" and a.get("class") == "facts":
            self.in_facts = True
        if tag == "tr":
            self.row = a.get("id")
            self.cells = []
            self.fact_th = None
        if tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell).strip()
            if self.in_facts and tag == "th":
                self.fact_th = text
            elif self.in_facts and self.fact_th is not None:
                self.page.facts[self.fact_th] = text
            self.cells.append(text)
            self.cell = None
        if tag == "tr" and self.row:
            self.page.rows[self.row] = (self.section, self.cells)
            self.page.sections[self.section].append(self.row)
            self.row = None
        if tag == "table":
            self.in_facts = False

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parse(text: str) -> Page:
    page = Page(text=text)
    parser = _Parser(page)
    parser.feed(text)
    parser.close()
    return page


@dataclass
class Run:
    tracks: Tracks
    result: ReplayResult
    facts: dict[str, Any]
    page: Page


def run_report(tmp_path: Path, tracks: Tracks, **kwargs: Any) -> Run:
    result = replay(tracks, AGREEMENT, ReplayOptions())
    facts = summary(result, AGREEMENT, None, 0.25)
    path = tmp_path / "report.html"
    write_report(path, result, tracks, AGREEMENT, facts, **kwargs)
    return Run(tracks, result, facts, parse(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def two_pairs(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A and B level at one altitude; C and D 975 ft apart (adjacent flight levels)."""
    tracks = make_tracks(head_on("A", "B", 45.0, 0.0), head_on("C", "D", 46.0, 975.0))
    return run_report(tmp_path_factory.mktemp("two_pairs"), tracks)


def pair_row(run: Run, a: str, b: str) -> tuple[str, list[str]]:
    inc = run.result.incidents
    (k,) = np.flatnonzero((inc.aircraft_a == a) & (inc.aircraft_b == b))
    return run.page.rows[f"row-{k + 1}"]


def test_replay_finds_the_two_incidents(two_pairs: Run) -> None:
    inc = two_pairs.result.incidents
    assert sorted(zip(inc.aircraft_a.tolist(), inc.aircraft_b.tolist(), strict=True)) == [
        ("A", "B"),
        ("C", "D"),
    ]
    assert two_pairs.facts["incidents_within_100_ft_of_the_vertical_minimum"] == 1


def test_page_is_self_contained(two_pairs: Run) -> None:
    page = two_pairs.page
    assert page.text.startswith("<!DOCTYPE html>")
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "url(" not in page.text
    assert "@import" not in page.text
    assert not page.tags & {"script", "link", "iframe", "object", "embed"}
    assert len(page.images) == len(two_pairs.result.incidents) == 2
    assert page.srcs == page.images
    for src in page.srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # Every internal link points to an element of the page.
    for href in page.hrefs:
        assert href.startswith("#")
        assert href[1:] in page.ids


def test_every_incident_is_in_a_table_with_its_aircraft(two_pairs: Run) -> None:
    inc = two_pairs.result.incidents
    for k in range(len(inc)):
        _, cells = two_pairs.page.rows[f"row-{k + 1}"]
        assert cells[:3] == [str(k + 1), inc.aircraft_a[k], inc.aircraft_b[k]]
        assert cells[-1] == "plot"
        assert f"incident-{k + 1}" in two_pairs.page.ids


def test_summary_numbers_are_on_the_page(two_pairs: Run) -> None:
    facts, shown = two_pairs.facts, two_pairs.page.facts
    expected = {
        "incidents (losses of separation)": facts["incidents"],
        "… alerted before the start": facts["incidents_alerted_before_start"],
        "… alerted at or after the start": facts["incidents_alerted_at_or_after_start"],
        "… never alerted": facts["incidents_never_alerted"],
        "alert episodes": facts["alert_episodes"],
        "nuisance alert episodes (led to no incident)": facts["nuisance_alert_episodes"],
        "points read": facts["points_read"],
        "rows rejected": facts["rows_rejected"],
        "duplicate reports dropped": facts["duplicate_reports_dropped"],
        "aircraft": facts["aircraft"],
    }
    for label, value in expected.items():
        assert shown[label] == f"{value:,}", label
    assert shown["points read"] == "240"
    assert shown["aircraft"] == "4"
    assert shown["… within 100 ft of the vertical minimum"].startswith("1 ")
    lead = facts["lead_time_s"]
    assert shown["lead time (s): min / p10 / median / mean / p90 / max"] == " / ".join(
        f"{lead[key]:.1f}" for key in ("min", "p10", "median", "mean", "p90", "max")
    )
    assert shown["replay time (s)"] == "0.25"
    assert shown["state vectors per second"] == f"{240 / 0.25:,.0f}"
    assert shown["horizontal minimum H"] == "5 NM (9260 m)"
    assert shown["vertical minimum V"] == "1000 ft (304.8 m)"
    assert shown["lookahead"] == "300 s"


def test_quantisation_section_lists_exactly_the_incidents_near_the_vertical_minimum(
    two_pairs: Run,
) -> None:
    inc = two_pairs.result.incidents
    near = (inc.vertical_m - inc.min_v_m) <= units.ft_to_m(QUANTISATION_BAND_FT)
    sections = two_pairs.page.sections
    assert sections["quantisation"] == [f"row-{k + 1}" for k in np.flatnonzero(near)]
    assert sections["incidents"] == [f"row-{k + 1}" for k in np.flatnonzero(~near)]
    assert (
        len(sections["quantisation"])
        == two_pairs.facts["incidents_within_100_ft_of_the_vertical_minimum"]
    )
    # Independently of the formula: C/D (975 ft apart) is apart, A/B (level) is not.
    assert pair_row(two_pairs, "C", "D")[0] == "quantisation"
    assert pair_row(two_pairs, "A", "B")[0] == "incidents"
    assert pair_row(two_pairs, "C", "D")[1][6] == "975"
    assert "25 ft steps" in two_pairs.page.text
    assert "incidents_within_100_ft_of_the_vertical_minimum" in two_pairs.page.text
    # The main list and its plots come first.
    text = two_pairs.page.text
    assert text.index("id='incidents'") < text.index("id='quantisation'") < text.index("id='plots'")
    plots = [m.group(1) for m in re.finditer(r"<h3 id='incident-(\d+)'", text)]
    assert [int(x) - 1 for x in plots] == [*np.flatnonzero(~near), *np.flatnonzero(near)]


def test_no_incident_gives_a_valid_page_saying_so(tmp_path: Path) -> None:
    run = run_report(tmp_path, make_tracks(head_on("A", "B", 45.0, 3000.0)))
    assert len(run.result.incidents) == 0
    page = run.page
    assert "No loss of separation was found." in page.text
    assert "No incident to plot." in page.text
    assert page.images == []
    assert page.facts["incidents (losses of separation)"] == "0"
    assert page.facts["points read"] == "120"
    assert page.text.rstrip().endswith("</html>")
    assert page.sections["quantisation"] == []


def test_hostile_aircraft_ids_are_escaped(tmp_path: Path) -> None:
    run = run_report(
        tmp_path,
        make_tracks(
            head_on(HOSTILE, "x' onmouseover='y", 45.0, 0.0), head_on("C", MATHTEXT, 46.0, 0.0)
        ),
    )
    assert len(run.result.incidents) == 2
    assert "<script" not in run.page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in run.page.text
    assert "onmouseover='" not in run.page.text
    assert "script" not in run.page.tags
    cells = {tuple(cells[1:3]) for _, cells in run.page.rows.values()}
    assert cells == {(HOSTILE, "x' onmouseover='y"), ("C", MATHTEXT)}
    assert len(run.page.images) == 2


def test_max_plotted_plots_the_most_severe_and_says_how_many_were_not(tmp_path: Path) -> None:
    # Two level pairs passing 0.6 NM and (E/F) about 1.7 NM apart, and C/D 975 ft apart.
    tracks = make_tracks(
        head_on("A", "B", 45.0, 0.0), head_on("C", "D", 46.0, 975.0), head_on("E", "F", 47.0, 0.0)
    )
    lat = tracks.lat_deg.copy()
    lat[tracks.aircraft == "F"] += 0.02  # 0.03 deg north of E
    tracks = replace(tracks, lat_deg=lat)
    run = run_report(tmp_path, tracks, max_plotted=2)
    inc = run.result.incidents
    assert len(inc) == 3
    plotted = [int(x) - 1 for x in re.findall(r"<h3 id='incident-(\d+)'", run.page.text)]
    # Not within 100 ft of V first (smallest horizontal separation first), then the rest.
    pairs = [(inc.aircraft_a[k], inc.aircraft_b[k]) for k in plotted]
    assert pairs == [("A", "B"), ("E", "F")]
    assert len(run.page.images) == 2
    assert pair_row(run, "C", "D")[1][-1] == "not plotted"
    assert "2 of 3 incidents plotted (at most 2 figures, most severe first); 1 not plotted" in (
        run.page.text
    )
    assert len(run_report(tmp_path, tracks, max_plotted=0).page.images) == 0


def weaving(
    a: str, b: str, lat: float, duration_s: float
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A and B fly east side by side at one level, reports every 10 s; B weaves 4.7-5.3 NM
    north of A with a 120 s period, so the pair loses 5 NM and regains it every 2 minutes."""
    t = np.arange(0.0, duration_s, 10.0)
    n = t.shape[0]
    dist = 230.0 * t
    lon_a, lat_a, _ = GEOD.fwd(np.full(n, 6.0), np.full(n, lat), np.full(n, 90.0), dist)
    apart_m = units.nm_to_m(5.0 + 0.3 * np.cos(2.0 * np.pi * t / 120.0))
    lon_b, lat_b, _ = GEOD.fwd(lon_a, lat_a, np.zeros(n), apart_m)
    return (
        [a] * n + [b] * n,
        np.concatenate([t, t]) + T0_S,
        np.concatenate([lat_a, lat_b]),
        np.concatenate([lon_a, lon_b]),
        np.full(2 * n, 10000.0),
    )


def test_a_pairs_losses_close_in_time_share_one_figure(tmp_path: Path) -> None:
    tracks = make_tracks(weaving("A", "B", 45.0, 600.0), head_on("C", "D", 46.0, 0.0))
    run = run_report(tmp_path, tracks)
    inc = run.result.incidents
    ab = tuple(int(k) for k in np.flatnonzero(inc.aircraft_a == "A"))
    (cd,) = np.flatnonzero(inc.aircraft_a == "C")
    assert len(ab) == 5  # every 120 s from t = 0 ... 480 s
    assert sorted(report_module.figure_groups(inc), key=len) == [(int(cd),), ab]
    assert len(run.page.images) == 2
    assert f"All {len(inc)} incidents plotted in 2 figures" in run.page.text
    # Each incident keeps its row, and its row's plot link leads to the shared figure.
    for k in range(len(inc)):
        assert run.page.rows[f"row-{k + 1}"][1][-1] == "plot"
        assert f"#incident-{k + 1}" in run.page.hrefs
        assert f"incident-{k + 1}" in run.page.ids
    numbers = ", ".join(f"#{k + 1}" for k in ab[:-1]) + f" and #{ab[-1] + 1}: A and B"
    assert numbers in run.page.text
    # The figure shades each loss, counts from the start of the first, and marks the
    # closest approach of the most severe.
    pic = report_module._picture(report_module._TrackIndex.build(tracks, 60.0, None), inc, ab, 60.0)
    start = float(inc.start_s[ab[0]])
    expected = [(float(inc.start_s[k]) - start, float(inc.end_s[k]) - start) for k in ab]
    assert np.array(pic.losses_rel) == pytest.approx(np.array(expected))
    severest = min(ab, key=lambda k: float(inc.min_h_m[k]))
    assert pic.min_h_nm == pytest.approx(units.m_to_nm(float(inc.min_h_m[severest])))
    assert pic.min_rel == pytest.approx(float(inc.time_of_min_s[severest]) - start)
    for lo, hi in pic.losses_rel:
        inside = (pic.t_rel > lo + 0.5) & (pic.t_rel < hi - 0.5)
        assert inside.any()
        assert (pic.h_nm[inside] < 5.0).all()
    between = [(pic.losses_rel[i][1] + 0.5, pic.losses_rel[i + 1][0] - 0.5) for i in range(4)]
    for lo, hi in between:
        assert (pic.h_nm[(pic.t_rel > lo) & (pic.t_rel < hi)] > 5.0).all()
    # At most one figure asked for: the most severe, with all its incidents.
    one = run_report(tmp_path, tracks, max_plotted=1)
    assert len(one.page.images) == 1
    assert plotted_figures(inc, 1) == [report_module.figure_groups(inc)[0]]


def test_a_pairs_losses_far_apart_get_a_figure_each_and_a_figure_spans_15_minutes_at_most(
    tmp_path: Path,
) -> None:
    twice = make_tracks(head_on("A", "B", 45.0, 0.0), head_on("A", "B", 45.0, 0.0, offset_s=900))
    inc = replay(twice, AGREEMENT, ReplayOptions()).incidents
    assert len(inc) == 2
    assert sorted(report_module.figure_groups(inc)) == [(0,), (1,)]
    long = replay(make_tracks(weaving("A", "B", 45.0, 3000.0)), AGREEMENT, ReplayOptions())
    inc = long.incidents
    groups = report_module.figure_groups(inc)
    assert sorted(k for group in groups for k in group) == list(range(len(inc)))
    assert len(groups) > 1
    for group in groups:
        assert list(group) == sorted(group, key=lambda k: float(inc.start_s[k]))
        windows = [report_module._window(inc, k) for k in group]
        span = max(w[1] for w in windows) - min(w[0] for w in windows)
        assert span <= report_module.MAX_FIGURE_SPAN_S
    run = run_report(tmp_path, make_tracks(weaving("A", "B", 45.0, 3000.0)))
    assert len(run.page.images) == len(groups)


def test_plotted_separations_match_the_replay(two_pairs: Run) -> None:
    inc = two_pairs.result.incidents
    index = report_module._TrackIndex.build(two_pairs.tracks, 60.0, None)
    for k in range(len(inc)):
        pic = report_module._picture(index, inc, (k,), 60.0)
        at_min = np.flatnonzero(pic.t_rel == pic.min_rel)
        assert at_min.shape == (1,)
        # The replay's own geometry: the same numbers, to rounding (1 cm).
        cm_nm, cm_ft = units.m_to_nm(0.01), units.m_to_ft(0.01)
        assert pic.h_nm[at_min[0]] == pytest.approx(units.m_to_nm(inc.min_h_m[k]), abs=cm_nm)
        assert pic.v_ft[at_min[0]] == pytest.approx(units.m_to_ft(inc.min_v_m[k]), abs=cm_ft)
        assert np.nanmin(pic.h_nm) == pytest.approx(pic.h_nm[at_min[0]], abs=cm_nm)
        inside = (pic.t_rel > 0.5) & (pic.t_rel < pic.end_rel - 0.5)
        assert (pic.h_nm[inside] < pic.limit_h_nm).all()
        assert pic.limit_h_nm == 5.0
        assert pic.limit_v_ft == pytest.approx(1000.0)
        # From 120 s (or the first alert) before the start to 60 s after the end, 1 s steps.
        assert pic.window_rel[1] == pytest.approx(pic.end_rel + 60.0)
        assert np.diff(pic.t_rel).max() <= 1.0 + 1e-9


def test_gaps_are_left_blank_and_reports_need_not_be_sorted(tmp_path: Path) -> None:
    tracks = make_tracks(head_on("A", "B", 45.0, 0.0))
    # B is not reported from 100 s to 200 s (a 110 s gap, more than max_gap_s = 60 s).
    keep = ~((tracks.aircraft == "B") & (tracks.time_s > T0_S + 95) & (tracks.time_s < T0_S + 205))
    tracks = take(tracks, np.flatnonzero(keep))
    mixed = take(tracks, np.random.default_rng(1).permutation(len(tracks)))
    result = replay(tracks, AGREEMENT, ReplayOptions())
    (k,) = range(len(result.incidents))
    for given in (tracks, mixed):
        pic = report_module._picture(
            report_module._TrackIndex.build(given, 60.0, None), result.incidents, (k,), 60.0
        )
        t_abs = pic.t_rel + float(result.incidents.start_s[0]) - T0_S
        in_gap = (t_abs > 90.0) & (t_abs < 210.0)
        assert in_gap.any()
        assert np.isnan(pic.h_nm[in_gap]).all()
        assert np.isfinite(pic.h_nm[(t_abs >= 210.0)]).all()
    pages = []
    for given in (tracks, mixed):
        facts = summary(result, AGREEMENT, None, 1.0)
        path = tmp_path / "report.html"
        write_report(path, result, given, AGREEMENT, facts)
        pages.append(path.read_text(encoding="utf-8"))
    assert pages[0] == pages[1]


def test_of_two_reports_at_one_time_the_later_row_is_plotted() -> None:
    tracks = make_tracks(head_on("A", "B", 45.0, 0.0))
    # A second report of A at t = 250 s, 500 ft higher, in a later row: it wins (as in the replay).
    row = int(np.flatnonzero((tracks.aircraft == "A") & (tracks.time_s == T0_S + 250.0))[0])
    rows = np.append(np.arange(len(tracks)), row)
    tracks = take(tracks, rows)
    alt = tracks.alt_m.copy()
    alt[-1] += units.ft_to_m(500.0)
    tracks = replace(tracks, alt_m=alt)
    result = replay(tracks, AGREEMENT, ReplayOptions())
    assert result.duplicate_reports == 1
    pic = report_module._picture(
        report_module._TrackIndex.build(tracks, 60.0, None), result.incidents, (0,), 60.0
    )
    t_abs = pic.t_rel + float(result.incidents.start_s[0]) - T0_S
    assert pic.v_ft[t_abs == 250.0] == pytest.approx([500.0])
    assert pic.v_ft[t_abs == 245.0] == pytest.approx([250.0])


def test_plots_drawn_in_two_processes_give_the_same_page(tmp_path: Path) -> None:
    # Eight level pairs (four plots per process at least), separated by a degree of latitude.
    tracks = make_tracks(*(head_on(f"A{i}", f"B{i}", 40.0 + i, 0.0) for i in range(8)))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = run_report(tmp_path / "one", tracks, processes=1)
    two = run_report(tmp_path / "two", tracks, processes=2)
    assert len(one.result.incidents) == 8
    assert len(one.page.images) == 8
    assert two.page.text == one.page.text


def _used(tracks: Tracks) -> UsedReports:
    """The reports a replay of ``tracks`` with the default options uses."""
    options = ReplayOptions()
    return used_reports(tracks, options.max_gap_s, options.spike_vertical_rate_mps)


def test_a_figure_worker_draws_the_same_page(tmp_path: Path) -> None:
    """skysep replay's way: a process forked before the replay draws the figures."""
    tracks = make_tracks(*(head_on(f"A{i}", f"B{i}", 40.0 + i, 0.0) for i in range(9)))
    result = replay(tracks, AGREEMENT, ReplayOptions())
    facts = summary(result, AGREEMENT, None, 0.25)
    pages = []
    for processes, early in ((1, False), (2, True)):
        # As the command does: started before the tracks are read, then given them.
        worker = report_module.FigureWorker(processes=processes)
        try:
            worker.send_reports(_used(tracks))
            if early:  # the figures asked for before the tables are written
                worker.start(result.incidents, plotted_figures(result.incidents), 60.0)
            path = tmp_path / f"worker-{processes}.html"
            write_report(path, result, tracks, AGREEMENT, facts, worker=worker)
        finally:
            worker.close()
        assert worker._folder is not None
        assert not Path(worker._folder).exists()
        pages.append(path.read_text(encoding="utf-8"))
    path = tmp_path / "here.html"
    write_report(path, result, tracks, AGREEMENT, facts)
    assert pages == [path.read_text(encoding="utf-8")] * 2
    assert len(parse(pages[0]).images) == len(result.incidents) == 9


def test_a_figure_worker_that_fails_raises_and_one_not_used_stops() -> None:
    tracks = make_tracks(head_on("A", "B", 45.0, 0.0))
    result = replay(tracks, AGREEMENT, ReplayOptions())
    worker = report_module.FigureWorker(processes=1)
    try:
        worker.send_reports(_used(tracks))
        with pytest.raises(report_module.ReportError, match="drawing the figures failed"):
            worker.figures(result.incidents, [(5,)], 60.0)  # no incident 5
        with pytest.raises(report_module.ReportError, match="already asked for"):
            worker.start(result.incidents, [(0,)], 60.0)
        with pytest.raises(report_module.ReportError, match="already handed over"):
            worker.send_reports(_used(tracks))
    finally:
        worker.close()
    for tracks_sent in (False, True):  # the command failed before or after reading
        idle = report_module.FigureWorker(processes=1)
        if tracks_sent:
            idle.send_reports(_used(tracks))
        idle.close()  # before any job: stopped at once, its temporary file removed
        assert idle._process.exitcode is not None
        assert idle._folder is None or not Path(idle._folder).exists()


def test_a_figure_worker_refuses_a_job_it_did_not_start() -> None:
    tracks = make_tracks(head_on("A", "B", 45.0, 0.0))
    result = replay(tracks, AGREEMENT, ReplayOptions())
    other = replay(tracks, AGREEMENT, ReplayOptions(step_s=2.0))
    worker = report_module.FigureWorker(processes=1)
    try:
        worker.send_reports(_used(tracks))
        with pytest.raises(report_module.ReportError, match="maximum gap of 60 s, the figures"):
            worker.start(result.incidents, [(0,)], 30.0)
        worker.start(result.incidents, [(0,)], 60.0)
        with pytest.raises(report_module.ReportError, match="not those of this report"):
            worker.figures(other.incidents, [(0,)], 60.0)
    finally:
        worker.close()


def test_every_incident_is_plotted_by_default(tmp_path: Path) -> None:
    tracks = make_tracks(*(head_on(f"A{i}", f"B{i}", 40.0 + i, 0.0) for i in range(3)))
    run = run_report(tmp_path, tracks)
    assert len(run.page.images) == len(run.result.incidents) == 3
    assert "All 3 incidents plotted." in run.page.text


def test_figures_show_both_tracks_and_the_minima(two_pairs: Run) -> None:
    """Decoded, each figure has the page's size and the colours it is drawn with."""
    from PIL import Image

    from skysep.replay import _plots

    def pixels_near(image: npt.NDArray[np.uint8], color: str) -> int:
        rgb = np.array([round(255 * c) for c in to_rgb(color)])
        return int((np.abs(image.astype(int) - rgb).max(axis=2) <= 12).sum())

    decoded = []
    for src in two_pairs.page.images:
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        width, height = (round(x * report_module.FIGURE_DPI) for x in report_module.FIGURE_SIZE_IN)
        assert image.shape == (height, width, 3)
        for color in (_plots.COLOR_A, _plots.COLOR_B, _plots.COLOR_MIN, "black"):
            assert pixels_near(image, color) > 200, color
        decoded.append(image)
    assert not np.array_equal(decoded[0], decoded[1])


def test_palette_png_is_read_back_pixel_for_pixel() -> None:
    from PIL import Image

    from skysep.replay._plots import palette_png

    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, 3 * 256, dtype=np.uint8).tobytes()
    indices = np.zeros((37, 53), dtype=np.uint8)
    indices[5:20, 10:40] = 7  # runs, as in a figure
    indices[30:] = rng.integers(0, 256, (7, 53), dtype=np.uint8)  # and noise
    image = Image.open(io.BytesIO(palette_png(indices, palette)))
    image.load()  # decodes every row
    assert image.mode == "P"
    assert image.size == (53, 37)
    np.testing.assert_array_equal(np.asarray(image), indices)
    assert bytes(image.getpalette() or []) == palette
    with pytest.raises(ValueError, match="palette holds 1 to 256 RGB colours, got 4 bytes"):
        palette_png(indices, b"\x00" * 4)
    with pytest.raises(ValueError, match="has pixels, got 0x3"):
        palette_png(np.zeros((3, 0), dtype=np.uint8), palette)


def _ended(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_drawing_processes_end_when_the_process_that_forked_them_is_killed() -> None:
    import multiprocessing
    import signal
    import time

    tracks = make_tracks(head_on("A", "B", 45.0, 0.0))
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()

    def fork_drawers_then_wait() -> None:
        index = report_module._TrackIndex.build(tracks, 60.0, None)
        drawers = report_module.Drawers(index, 2, inherited=[theirs])
        theirs.send([process.pid for process in drawers._processes])
        time.sleep(60)  # killed long before

    parent = context.Process(target=fork_drawers_then_wait)
    parent.start()
    theirs.close()
    pids = ours.recv()
    assert len(pids) == 2
    assert not any(_ended(pid) for pid in pids)
    os.kill(parent.pid, signal.SIGKILL)  # no clean-up of its own: its pipes just close
    parent.join()
    deadline = time.monotonic() + 10.0
    while not all(_ended(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if not _ended(pid)]
    for pid in left:  # would hold the test run's output open
        os.kill(pid, signal.SIGKILL)
    assert left == []
    with pytest.raises(EOFError):  # nothing the drawers inherited held this pipe open
        ours.recv()
