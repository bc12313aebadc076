"""The printable incident report of an evidence bundle (``skysep evidence report``).

One self-contained HTML page, readable offline: the incident's facts, the plan view and
the separations against time (drawn by the replay report's plotting code from the
bundle's tracks.csv, inlined as PNG), the alerts, the messages exchanged (rendered in
the chosen language; free text as written), and the result of verifying the bundle
(:func:`~skysep.record.verify_bundle`), which is done first: the page says so when the
bundle does not verify, and shows what it holds all the same.
"""

from __future__ import annotations

import csv
import html
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from skysep import units
from skysep.hotline import render
from skysep.record._bundle import Bundle, read_bundle, verify_bundle
from skysep.record._chain import VerificationResult

__all__ = ["write_incident_report"]

#: Reports further apart than this are not joined in the plots.
MAX_GAP_S: Final = 30.0
_DASH: Final = "\N{EN DASH}"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _time(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return _DASH if value is None else _e(value)


def _number(value: Any, fmt: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return format(value, fmt)
    return _DASH


def _figure(bundle: Bundle) -> str | None:
    """The replay report's figure of the incident (base64 PNG), or None without tracks."""
    from skysep.replay._types import Incidents, Tracks
    from skysep.replay.report import _render, _TrackIndex

    rows = list(csv.DictReader(io.StringIO(bundle.tracks_csv)))
    inc = bundle.incident
    if not rows or not all(k in inc for k in ("start", "party_a", "aircraft_a")):
        return None

    def floats(name: str) -> Any:
        return np.array([float(r[name]) if r[name] else math.nan for r in rows])

    def key(party: Any, aircraft: Any) -> str:
        return f"{party}/{aircraft}"

    tracks = Tracks(
        aircraft=np.array([key(r["party"], r["aircraft"]) for r in rows], dtype=object),
        time_s=np.array(
            [datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in rows]
        ),
        lat_deg=floats("lat"),
        lon_deg=floats("lon"),
        alt_m=floats("alt_m"),
        gs_mps=floats("gs_mps"),
        track_deg=floats("track_deg"),
        vs_mps=floats("vs_mps"),
    )

    def one(name: str, default: float = math.nan) -> Any:
        value = inc.get(name)
        return np.array([default if value is None else float(value)])

    end = inc.get("end") if inc.get("end") is not None else inc.get("time_of_min")
    incidents = Incidents(
        aircraft_a=np.array([key(inc["party_a"], inc["aircraft_a"])], dtype=object),
        aircraft_b=np.array([key(inc["party_b"], inc["aircraft_b"])], dtype=object),
        party_a=np.array([inc["party_a"]], dtype=object),
        party_b=np.array([inc["party_b"]], dtype=object),
        start_s=one("start"),
        end_s=np.array([float(end if end is not None else inc["start"])]),
        min_h_m=one("min_h_m"),
        min_v_m=one("min_v_m"),
        time_of_min_s=one("time_of_min"),
        lat_deg=one("lat_deg"),
        lon_deg=one("lon_deg"),
        alt_m=one("alt_m"),
        first_alert_s=one("first_alert"),
        lead_time_s=one("lead_time_s"),
        level_at_start=np.array([inc.get("level_at_start")], dtype=object),
        horizontal_m=one("horizontal_m"),
        vertical_m=one("vertical_m"),
    )
    return _render(_TrackIndex.build(tracks, MAX_GAP_S, None), incidents, [(0,)], MAX_GAP_S)[(0,)]


def _facts(inc: dict[str, Any]) -> str:
    rows = [
        ("Incident", _e(inc.get("id", _DASH))),
        ("Status", _e(inc.get("status", _DASH))),
        ("Aircraft", f"{_e(inc.get('aircraft_a'))} ({_e(inc.get('party_a'))}) and "
                     f"{_e(inc.get('aircraft_b'))} ({_e(inc.get('party_b'))})"),
        ("Start", _time(inc.get("start"))),
        ("End", _time(inc.get("end"))),
        ("Duration", f"{_number(inc.get('duration_s'), '.1f')} s"),
        ("Smallest horizontal separation",
         f"{_number(units.m_to_nm(inc['min_h_m']) if 'min_h_m' in inc else None, '.2f')} NM"),
        ("Vertical separation then",
         f"{_number(units.m_to_ft(inc['min_v_m']) if 'min_v_m' in inc else None, ',.0f')} ft"),
        ("Minima", f"{_number(units.m_to_nm(inc.get('horizontal_m', math.nan)), '.2f')} NM, "
                   f"{_number(units.m_to_ft(inc.get('vertical_m', math.nan)), ',.0f')} ft"),
        ("First alert", _time(inc.get("first_alert"))),
        ("Lead time", f"{_number(inc.get('lead_time_s'), '.1f')} s"),
        ("Level at start", _e(inc.get("level_at_start") or _DASH)),
    ]  # fmt: skip
    body = "".join(f"<tr><th>{_e(name)}</th><td>{value}</td></tr>" for name, value in rows)
    return f"<table class='facts'>{body}</table>"


def _alerts(bundle: Bundle) -> str:
    if not bundle.alerts:
        return "<p>No alert in the bundle.</p>"
    rows = []
    for item in bundle.alerts:
        p = item["payload"]
        rows.append(
            f"<tr><td class='num'>{item['seq']}</td><td class='time'>{_time(p.get('time'))}</td>"
            f"<td>{_e(p.get('event'))}</td><td>{_e(p.get('level'))}</td>"
            f"<td>{_e(p.get('aircraft_a'))} ({_e(p.get('party_a'))})</td>"
            f"<td>{_e(p.get('aircraft_b'))} ({_e(p.get('party_b'))})</td>"
            f"<td class='num'>{_number(p.get('t_in_s'), '.1f')}</td></tr>"
        )
    head = (
        "<tr><th>entry</th><th>time</th><th>event</th><th>level</th><th>aircraft</th>"
        "<th>aircraft</th><th class='num'>t in (s)</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _messages(bundle: Bundle, language: str) -> str:
    if not bundle.messages:
        return "<p>No message in the bundle.</p>"
    rows = []
    for item in bundle.messages:
        p = item["payload"]
        body = p.get("body")
        try:
            text = render(body, language) if isinstance(body, dict) else _DASH
        except ValueError as exc:  # HotlineError: a body this version cannot read
            text = f"({exc})"
        rows.append(
            f"<tr><td class='num'>{item['seq']}</td><td class='time'>{_time(p.get('time'))}</td>"
            f"<td>{_e(p.get('sender'))}</td><td>{_e(item['kind'])}</td>"
            f"<td class='num'>{_e(p.get('id'))}</td><td>{_e(text)}</td></tr>"
        )
    head = (
        "<tr><th>entry</th><th>time</th><th>from</th><th>record</th><th>message</th>"
        "<th>text</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _verification(result: VerificationResult, bundle_name: str) -> str:
    verdict = (
        "<p class='ok'><strong>Verified.</strong></p>"
        if result.ok
        else "<p class='failed'><strong>NOT VERIFIED.</strong> Nothing on this page can be "
        "relied on.</p>"
    )
    return (
        f"{verdict}<p><code>skysep evidence verify {_e(bundle_name)}</code>: "
        f"{_e(result.summary())}</p><p class='note'>Checked offline: every chain entry's "
        "hashes and links, the signed heads and receipts, the files against the signed "
        "manifest. The key is the one the bundle carries: compare its fingerprint with the "
        "server's published one.</p>"
    )


_CSS: Final = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1040px; color: #222;
       line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; } table.facts th { font-weight: normal; background: #fafafa; }
.note { color: #555; font-size: 0.9em; } img { max-width: 100%; height: auto; }
.ok { color: #1b5e20; } .failed { color: #b71c1c; font-size: 1.2em; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
               figure, table { break-inside: avoid; } }
"""


def write_incident_report(
    bundle_path: str | Path,
    out: str | Path,
    *,
    language: str = "en",
    fingerprint: str | None = None,
) -> VerificationResult:
    """Verify the bundle, then write its printable incident report to ``out`` (HTML).

    ``language``: the messages' language (one of :data:`skysep.hotline.LANGUAGES`).
    Returns the verification result (the page shows it too). A bundle that cannot be
    read at all raises :class:`~skysep.errors.RecordError`.
    """
    render({"kind": "free_text", "text": "-"}, language)  # refuses an unknown language first
    result = verify_bundle(bundle_path, fingerprint=fingerprint)
    bundle = read_bundle(bundle_path)
    inc = bundle.incident
    figure = _figure(bundle)
    plots = (
        f"<figure><img alt='plan view and separation of the incident' "
        f"src='data:image/png;base64,{figure}'></figure>"
        if figure is not None
        else "<p>No track in the bundle.</p>"
    )
    title = f"SkySep incident report: incident {inc.get('id', bundle.manifest['incident_id'])}"
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            f"<html lang='{_e(language)}'><head><meta charset='utf-8'>",
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{_e(title)}</h1>",
            "<h2>Verification</h2>",
            _verification(result, Path(bundle_path).name),
            "<h2>Incident</h2>",
            _facts(inc),
            "<h2>Tracks and separation</h2>",
            plots,
            "<h2>Alerts</h2>",
            _alerts(bundle),
            "<h2>Messages exchanged</h2>",
            _messages(bundle, language),
            f"<p class='note'>Chain entries {bundle.manifest['first_seq']}.."
            f"{bundle.manifest['last_seq']}; key {_e(bundle.manifest['key'])}; times in UTC.</p>",
            "</body></html>\n",
        ]
    )
    Path(out).write_text(page, encoding="utf-8")
    return result
