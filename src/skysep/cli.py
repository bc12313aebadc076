"""The ``skysep`` command line: a thin layer over the engine and the file readers."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from skysep import engine, units
from skysep.agreement import DETECTORS, KEYS, PRESETS, Agreement, load_agreement, preset
from skysep.errors import SkySepError
from skysep.io import read_states, write_conflicts

if TYPE_CHECKING:
    from skysep.replay._figure_worker import FigureWorker

#: Commands registered by name ("module:attribute") and imported only when run (or
#: asked for their own help): the service's module alone loads FastAPI and SQLAlchemy
#: (1.5 s), which ``skysep replay``, ``skysep detect`` and ``skysep --help`` need not wait
#: for. ``skysep --help`` lists them with the one-line help given at registration (a test
#: checks it against the real command's).
_LAZY: dict[str, str] = {}


class _LazyGroup(TyperGroup):
    """The top-level group: swaps a lazy command's placeholder for the real one when it runs."""

    # Typed Any: Typer's click is vendored (typer._click), not the public click.
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def load(self, cmd_name: str) -> None:
        """Import lazy command ``cmd_name`` and put it in its placeholder's place (once)."""
        target = _LAZY.get(cmd_name)
        if target is None or cmd_name in self._loaded():
            return
        module, attribute = target.split(":")
        obj = getattr(importlib.import_module(module), attribute)
        # Converted by Typer as it converts them nested in this app.
        holder = typer.Typer()
        if isinstance(obj, typer.Typer):
            holder.add_typer(obj, name=cmd_name)
        else:
            holder.command(cmd_name)(obj)
        self.commands[cmd_name] = typer.main.get_group(holder).commands[cmd_name]
        self._loaded().add(cmd_name)

    def _loaded(self) -> set[str]:
        loaded: set[str] = self.__dict__.setdefault("_skysep_loaded", set())
        return loaded


app = typer.Typer(
    name="skysep",
    help="SkySep: airspace deconfliction for parties that share an airspace but not a command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
)


def _lazy_command(name: str, target: str, summary: str) -> None:
    """Register ``module:function`` as command ``name``, imported when it runs; ``summary``:
    its one-line help, listed by ``skysep --help``."""

    def placeholder() -> None:
        pass

    app.command(name, help=summary)(placeholder)
    _LAZY[name] = target


def _lazy_group(name: str, target: str, summary: str) -> None:
    """Register the Typer app ``module:attribute`` as group ``name``, imported when it runs."""
    app.add_typer(typer.Typer(), name=name, help=summary)
    _LAZY[name] = target


agreement_app = typer.Typer(
    help="Agreement files: check one, list the keys and the presets.",
    no_args_is_help=True,
)
app.add_typer(agreement_app, name="agreement")
_lazy_command(
    "simulate",
    "skysep.simulate.cli:simulate_command",
    "Simulate the traffic of a scenario: write it to a track file, or feed it to the service.",
)
_lazy_group(
    "evidence",
    "skysep.record.cli:evidence_app",
    "Evidence bundles of the verifiable record: export, verify offline, report.",
)
_lazy_group(
    "ops",
    "skysep.operations.cli:ops_app",
    "Operations (4D volumes): check operation files offline, find their conflicts; file them "
    "with the service and change their state.",
)
_lazy_command(
    "serve",
    "skysep.service.cli:serve",
    "Run the deconfliction service (FastAPI on uvicorn) until interrupted.",
)
_lazy_group(
    "party",
    "skysep.service.cli:party_app",
    "Parties and their bearer tokens (on the database, as the admin).",
)
_lazy_group(
    "admin",
    "skysep.service.cli:admin_app",
    "Admin credentials for the service's REST administration.",
)
_lazy_command(
    "demo",
    "skysep.service.demo:demo",
    "A two-party drill: the service, two parties and the traffic simulator, until Ctrl-C.",
)

out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

#: Rows of the conflict table printed by ``detect`` (the file has them all).
SHOWN_ROWS = 20

AgreementOption = Annotated[
    Path | None,
    typer.Option(
        "--agreement",
        help="Agreement file (TOML). Give this or --preset.",
        dir_okay=False,
    ),
]
PresetOption = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help=f"Built-in agreement instead of a file: {', '.join(PRESETS)}.",
    ),
]
MethodOption = Annotated[
    str,
    typer.Option("--method", help=f"Candidate search: {', '.join(engine.METHODS)} (same result)."),
]


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


def _agreement(agreement: Path | None, preset_name: str | None) -> Agreement:
    if (agreement is None) == (preset_name is None):
        _fail("give exactly one of --agreement FILE or --preset NAME")
    if agreement is not None:
        return load_agreement(agreement)
    assert preset_name is not None
    return preset(preset_name)


@app.command()
def detect(
    states: Annotated[
        Path,
        typer.Argument(
            help=(
                "Aircraft states, CSV or Parquet, one row per aircraft: aircraft, [party], "
                "lat, lon, alt_ft|alt_m, gs_kt|gs_mps, track_deg, vs_fpm|vs_mps."
            ),
            dir_okay=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Where to write conflicts.csv.", dir_okay=False),
    ],
    agreement: AgreementOption = None,
    preset_name: PresetOption = None,
    lookahead_s: Annotated[
        float | None,
        typer.Option("--lookahead-s", help="Lookahead in seconds (overrides the agreement)."),
    ] = None,
    method: MethodOption = "grid",
    detector: Annotated[
        str | None,
        typer.Option(
            "--detector",
            help=(
                f"Conflict definition: {', '.join(DETECTORS)} (overrides the agreement). "
                "well-clear writes one row per (ownship, traffic) pair with DAIDALUS's alert "
                "levels instead of conflicts.csv."
            ),
        ),
    ] = None,
    wellclear: Annotated[
        str | None,
        typer.Option(
            "--wellclear",
            help="Well-clear configuration: a built-in name or a DAIDALUS .conf file.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
) -> None:
    """Find every pair of aircraft that will lose separation within the lookahead."""
    try:
        rules = _agreement(agreement, preset_name)
        if lookahead_s is not None:
            rules = rules.with_lookahead(lookahead_s)
        chosen = detector or rules.detector
        if chosen not in DETECTORS:
            _fail(
                f"--detector {chosen!r} is not a valid option, must be one of "
                f"{', '.join(DETECTORS)}"
            )
        if chosen == "well-clear":
            _detect_well_clear(states, wellclear or rules.wellclear, out, quiet)
            return
        if method not in engine.METHODS:
            _fail(
                f"--method {method!r} is not a valid option, must be one of "
                f"{', '.join(engine.METHODS)}"
            )
        snapshot = read_states(states)
        started = time.perf_counter()
        _load_kernels(rules)
        loading_s = time.perf_counter() - started
        started = time.perf_counter()
        conflicts = engine.detect(snapshot, rules, method=method)  # type: ignore[arg-type]
        elapsed_s = time.perf_counter() - started
        write_conflicts(conflicts, out)
    except SkySepError as exc:
        _fail(str(exc))
    if not quiet:
        _print_conflicts(conflicts, rules, len(snapshot), elapsed_s, loading_s, out)


def _detect_well_clear(states: Path, configuration: str, out: Path, quiet: bool) -> None:
    """``skysep detect --detector well-clear``: DAIDALUS alerting over every pair."""
    from skysep import wellclear
    from skysep.io.daidalus import read_conf, wellclear_frame

    if configuration in wellclear.PRESETS:
        config = wellclear.preset(configuration)
    elif configuration.endswith(".conf"):
        config = read_conf(configuration).config
    else:
        _fail(
            f"well-clear configuration {configuration!r} is neither a built-in one "
            f"({', '.join(wellclear.PRESETS)}) nor a .conf file"
        )
    snapshot = read_states(states)
    started = time.perf_counter()
    alerts, _ = wellclear.alert_fleet(wellclear.Traffic.from_states(snapshot), config)
    elapsed_s = time.perf_counter() - started
    frame = wellclear_frame(alerts)
    frame = frame[frame["alert_level"] > 0].sort_values(["ownship", "traffic"])
    _write_frame_atomically(frame, out)
    if not quiet:
        out_console.print(
            f"{len(snapshot)} aircraft, {len(frame)} (ownship, traffic) pair(s) alerting "
            f"(well-clear, {configuration}), found in {elapsed_s * 1000:.1f} ms; "
            f"written to {out}"
        )


def _write_frame_atomically(frame: Any, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(out)


@app.command()
def daa(
    encounter: Annotated[
        Path, typer.Argument(help="DAIDALUS encounter file (.daa or .xyz).", dir_okay=False)
    ],
    config: Annotated[
        Path, typer.Option("--config", help="DAIDALUS configuration file (.conf).", dir_okay=False)
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write alerts.csv.", dir_okay=False)],
    no_hysteresis: Annotated[
        bool,
        typer.Option(
            "--no-hysteresis",
            help="Turn off the M-of-N, persistence and hysteresis filters (like "
            "DaidalusAlerting --nohysteresis).",
        ),
    ] = False,
) -> None:
    """Well-clear alerts over a DAIDALUS encounter, as DaidalusAlerting prints them.

    One row per (time, ownship, traffic aircraft); the first aircraft in the
    file is the ownship. See docs/wellclear.md for what is supported.
    """
    from skysep.io.daidalus import run_encounter, write_alerts

    try:
        frame = run_encounter(encounter, config, hysteresis=not no_hysteresis)
        write_alerts(frame, out)
    except SkySepError as exc:
        _fail(str(exc))


@app.command()
def replay(
    tracks: Annotated[
        list[Path],
        typer.Argument(
            help=(
                "Recorded position reports: CSV, Parquet or JSON-lines files (SkySep's columns, "
                "or the traffic library's / OpenSky's), SBS-1 (BaseStation) lines, or readsb / "
                "dump1090 aircraft.json snapshots. See docs/tracks.md."
            ),
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder: incidents.csv, alerts.csv, summary.json, report.html.",
            file_okay=False,
        ),
    ],
    agreement: AgreementOption = None,
    preset_name: PresetOption = None,
    max_gap_s: Annotated[
        float,
        typer.Option(
            "--max-gap-s", help="Longest gap between reports bridged by interpolation (s)."
        ),
    ] = 60.0,
    step_s: Annotated[
        float, typer.Option("--step-s", help="How often the tactical detector runs (s).")
    ] = 1.0,
    merge_gap_s: Annotated[
        float,
        typer.Option(
            "--merge-gap-s", help="Losses of one pair less than this apart are one incident (s)."
        ),
    ] = 0.0,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows", help="Count malformed rows in summary.json instead of stopping."
        ),
    ] = False,
    spike_fpm: Annotated[
        float,
        typer.Option(
            "--spike-fpm",
            help="Drop (and count) a report whose altitude jumps away from both neighbours and "
            "back faster than this (ft/min); 0 keeps every report.",
        ),
    ] = 40_000.0,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Run on the dask.distributed scheduler at this address."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Run on a local dask cluster of this many processes."),
    ] = None,
    method: MethodOption = "grid",
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not render report.html (the slowest part).")
    ] = False,
    max_plotted: Annotated[
        int | None,
        typer.Option(
            "--max-plotted",
            help="Draw at most this many figures in report.html (the most severe first; "
            "one pair's incidents close in time share one); all incidents are listed. "
            "Default: plot every incident.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar, no summary.")] = False,
) -> None:
    """Every loss of separation in recorded traffic, and the warning it would have had."""
    from skysep.replay.report import plotted_figures, write_report

    if dask is not None and workers is not None:
        _fail("give at most one of --dask ADDRESS and --workers N")
    if workers is not None and workers < 1:
        _fail(f"--workers must be at least 1, got {workers}")
    if max_plotted is not None and max_plotted < 0:
        _fail(f"--max-plotted must be 0 or more, got {max_plotted}")
    client = None
    cpus = os.cpu_count() or 1
    # What is loaded now stays until the process ends: the cyclic garbage collector need
    # not go over it again (numba alone makes 0.1 s of collections, 0.5 s at exit).
    gc.freeze()
    figures = _figure_worker(wanted=not no_report and max_plotted != 0, processes=cpus)
    try:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from skysep.io.tracks import read_tracks
        from skysep.replay import ReplayOptions
        from skysep.replay import replay as run_replay
        from skysep.replay._kernels import init_target
        from skysep.replay._replay import threaded
        from skysep.replay.outputs import write_outputs

        gc.freeze()
        # Refreshed by hand, not by a thread (none is needed).
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=quiet,
            auto_refresh=False,
        )
        rules = _agreement(agreement, preset_name)
        options = ReplayOptions(
            max_gap_s=max_gap_s,
            step_s=step_s,
            merge_gap_s=merge_gap_s,
            method=method,  # type: ignore[arg-type]
            spike_vertical_rate_mps=units.fpm_to_mps(spike_fpm) if spike_fpm > 0 else None,
        )
        options.validate()
        started = time.perf_counter()
        with progress:
            reading = progress.add_task("reading tracks", total=None)
            progress.refresh()
            read = read_tracks(tracks, skip_bad_rows=skip_bad_rows)
            progress.update(reading, total=1, completed=1, refresh=True)
            runner = None
            if dask is not None or workers is not None:
                from skysep.replay.distributed import connect, dask_runner

                client = connect(dask, workers)
                runner = dask_runner(client)
            task = progress.add_task("replaying", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, refresh=True)

            if runner is None:
                init_target()
                runner = threaded(cpus)
            # The figure process gets the reports the replay uses as soon as they are known.
            on_reports = figures.send_reports if figures is not None else None
            result = run_replay(
                read.tracks, rules, options, runner=runner, progress=advance, on_reports=on_reports
            )
            progress.add_task("writing the outputs", total=None)
            progress.refresh()
            elapsed_s = time.perf_counter() - started
            plotted = plotted_figures(result.incidents, max_plotted)
            if figures is not None and plotted:
                # Drawn while this process writes the tables.
                figures.start(result.incidents, plotted, options.max_gap_s)

            def report(path: Path, facts: dict[str, Any]) -> None:
                write_report(
                    path,
                    result,
                    read.tracks,
                    rules,
                    facts,
                    max_plotted=max_plotted,
                    processes=cpus,
                    worker=figures,
                )

            facts = write_outputs(
                out, result, rules, read, elapsed_s, None if no_report else report
            )
    except SkySepError as exc:
        _fail(str(exc))
    finally:
        if figures is not None:
            figures.close()
        if client is not None:
            client.close()
    if not quiet:
        lead = facts["lead_time_s"]
        out_console.print(
            f"{facts['points_read']} reports of {facts['aircraft']} aircraft "
            f"({facts['start']} to {facts['end']}): {facts['incidents']} incident(s), "
            f"{facts['incidents_alerted_before_start']} alerted before they began"
            + (f" (median lead {lead['median']:.0f} s)" if lead["median"] is not None else "")
            + f", {facts['alert_episodes']} alert episode(s) of which "
            f"{facts['nuisance_alert_episodes']} nuisance; replayed in {elapsed_s:.2f} s; "
            f"written to {out}"
        )
    gc.freeze()  # and the rest: the process ends


def _load_kernels(rules: Agreement) -> None:
    """Run the engine once on two aircraft, so that loading its compiled kernels is timed apart."""
    import numpy as np

    two = engine.States(
        aircraft=np.array(["a", "b"], dtype=object),
        lat_deg=np.array([0.0, 10.0]),
        lon_deg=np.zeros(2),
        alt_m=np.zeros(2),
        gs_mps=np.zeros(2),
        track_deg=np.zeros(2),
        vs_mps=np.zeros(2),
    )
    engine.detect(two, rules)


def _print_conflicts(
    conflicts: engine.Conflicts,
    rules: Agreement,
    n_aircraft: int,
    elapsed_s: float,
    loading_s: float,
    out: Path,
) -> None:
    levels = conflicts.level.tolist()
    counts = ", ".join(f"{levels.count(name)} {name}" for name in engine.LEVELS)
    out_console.print(
        f"{n_aircraft} aircraft, {len(conflicts)} conflict(s) ({counts}) within "
        f"{rules.lookahead_s:g} s at {units.m_to_nm(rules.horizontal_m):g} NM / "
        f"{units.m_to_ft(rules.vertical_m):g} ft"
        + (f" ({len(rules.pairs)} party-pair override(s))" if rules.pairs else "")
        + f", found in {elapsed_s * 1000:.1f} ms (after {loading_s * 1000:.0f} ms loading the "
        "compiled kernels); "
        f"written to {out}"
    )
    if not len(conflicts):
        return
    table = Table(show_edge=False)
    for header in ("pair", "level", "LoS in s", "ends s", "CPA in s", "CPA NM", "CPA ft"):
        table.add_column(header, justify="left" if header in ("pair", "level") else "right")
    order = sorted(range(len(conflicts)), key=lambda k: float(conflicts.t_in_s[k]))
    for k in order[:SHOWN_ROWS]:
        t_out = float(conflicts.t_out_s[k])
        table.add_row(
            f"{conflicts.aircraft_a[k]}/{conflicts.aircraft_b[k]}",
            levels[k],
            f"{conflicts.t_in_s[k]:.0f}",
            "never" if t_out == float("inf") else f"{t_out:.0f}",
            f"{conflicts.t_cpa_s[k]:.0f}",
            f"{units.m_to_nm(float(conflicts.h_cpa_m[k])):.2f}",
            f"{units.m_to_ft(float(conflicts.v_cpa_m[k])):.0f}",
        )
    out_console.print(table)
    if len(conflicts) > SHOWN_ROWS:
        out_console.print(f"... {len(conflicts) - SHOWN_ROWS} more in {out}")


@agreement_app.command("check")
def agreement_check(
    agreement: Annotated[
        Path | None,
        typer.Argument(help="Agreement file (TOML).", dir_okay=False),
    ] = None,
    preset_name: PresetOption = None,
) -> None:
    """Validate an agreement and print what it sets, in aviation and SI units."""
    try:
        rules = _agreement(agreement, preset_name)
    except SkySepError as exc:
        _fail(str(exc))
    out_console.print(f"[bold]{rules.name or '(unnamed agreement)'}[/]: valid")
    out_console.print(
        f"minima: {units.m_to_nm(rules.horizontal_m):g} NM ({rules.horizontal_m:g} m) / "
        f"{units.m_to_ft(rules.vertical_m):g} ft ({rules.vertical_m:g} m)"
    )
    out_console.print(
        f"lookahead {rules.lookahead_s:g} s, caution {rules.caution_s:g} s, "
        f"warning {rules.warning_s:g} s, same-party pairs "
        f"{'checked' if rules.check_same_party else 'not checked'}"
    )
    for party in rules.parties:
        out_console.print(f"party {party.id}: {party.name} ({party.language})")
    for pair in rules.pairs:
        out_console.print(
            f"pair {pair.parties[0]} / {pair.parties[1]}: "
            f"{units.m_to_nm(pair.horizontal_m):g} NM / {units.m_to_ft(pair.vertical_m):g} ft"
        )


@agreement_app.command("keys")
def agreement_keys() -> None:
    """List every key an agreement file may hold."""
    table = Table(show_edge=False)
    for header in ("key", "unit", "default", "meaning"):
        table.add_column(header)
    for key in KEYS:
        default = "required (one unit)" if key.required else repr(key.default)
        table.add_row(key.name, key.unit or "-", default, key.help)
    out_console.print(table)


@agreement_app.command("presets")
def agreement_presets() -> None:
    """List the built-in agreements usable with --preset."""
    for name in PRESETS:
        rules = preset(name)
        out_console.print(
            f"{name}: {units.m_to_nm(rules.horizontal_m):g} NM / "
            f"{units.m_to_ft(rules.vertical_m):g} ft — {rules.name}"
        )


def _figure_worker(*, wanted: bool, processes: int) -> FigureWorker | None:
    """``skysep replay``'s figure process: the one :func:`skysep._start.start_early`
    started, or one started now (forked first, while this process runs no other thread),
    or None (stopping an early one) when no figure is wanted or the platform does not
    fork."""
    from skysep._start import take_early
    from skysep.replay._figure_worker import FigureWorker

    early = take_early()
    if not wanted:
        if early is not None:
            early.close()
        return None
    if early is not None:
        return early
    return FigureWorker(processes=processes) if FigureWorker.available() else None


def main() -> None:
    """Entry point of the ``skysep`` command (as :func:`skysep._start.main`, the console
    script's, which starts what it must before this module loads)."""
    from skysep._start import run, start_early

    start_early(sys.argv[1:])
    run()
