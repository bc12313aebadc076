"""The command line, run as a user runs it: the installed console script."""

from __future__ import annotations

import csv
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fresh import run_fresh

import skysep
from skysep.io import CONFLICT_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "states.csv"
EXAMPLE_AGREEMENT = ROOT / "examples" / "agreement.toml"
SKYSEP = shutil.which("skysep", path=str(Path(sys.executable).parent)) or "skysep"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SKYSEP, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_detect_writes_the_contract_file(tmp_path: Path) -> None:
    out = tmp_path / "conflicts.csv"
    result = run("detect", EXAMPLE, "--preset", "rule-of-threes", "--out", out)
    assert result.returncode == 0, result.stderr
    header, rows = read_rows(out)
    assert header == list(CONFLICT_COLUMNS)
    keys = [(r["aircraft_a"], r["aircraft_b"]) for r in rows]
    assert keys == sorted(keys)
    assert all(a < b for a, b in keys)
    assert f"{len(rows)} conflict(s)" in result.stdout
    # The file says what the Python API says.
    conflicts = skysep.detect(skysep.read_states(EXAMPLE), skysep.preset("rule-of-threes"))
    assert keys == list(zip(conflicts.aircraft_a, conflicts.aircraft_b, strict=True))
    np.testing.assert_array_equal([float(r["t_in_s"]) for r in rows], conflicts.t_in_s)
    assert [r["level"] for r in rows] == conflicts.level.tolist()
    assert len(rows) > 0


def test_detect_with_agreement_file_applies_pair_override(tmp_path: Path) -> None:
    out = tmp_path / "conflicts.csv"
    result = run("detect", EXAMPLE, "--agreement", EXAMPLE_AGREEMENT, "--out", out)
    assert result.returncode == 0, result.stderr
    _, rows = read_rows(out)
    assert "1 party-pair override(s)" in result.stdout
    cross = [r for r in rows if {r["party_a"], r["party_b"]} == {"north", "south"}]
    assert cross, "the example has conflicts between north and south"
    # Between north and south the vertical minimum is 3000 ft, so some are 2000 ft apart.
    assert any(float(r["v_now_m"]) > skysep.units.ft_to_m(1500.0) for r in cross)


def test_lookahead_option_overrides_agreement(tmp_path: Path) -> None:
    long_out, short_out = tmp_path / "long.csv", tmp_path / "short.csv"
    assert run("detect", EXAMPLE, "--preset", "icao-5nm", "--out", long_out).returncode == 0
    result = run(
        "detect", EXAMPLE, "--preset", "icao-5nm", "--lookahead-s", "60", "--out", short_out
    )
    assert result.returncode == 0, result.stderr
    _, long_rows = read_rows(long_out)
    _, short_rows = read_rows(short_out)
    assert all(float(r["t_in_s"]) < 60 for r in short_rows)
    assert len(short_rows) == sum(float(r["t_in_s"]) < 60 for r in long_rows)
    assert len(short_rows) < len(long_rows)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--out", "x.csv"), "give exactly one of --agreement FILE or --preset NAME"),
        (
            ("--preset", "icao-5nm", "--agreement", "a.toml", "--out", "x.csv"),
            "give exactly one of",
        ),
        (("--preset", "icao5", "--out", "x.csv"), "'icao5' is not a valid preset"),
        (("--preset", "nmac", "--lookahead-s", "-3", "--out", "x.csv"), "got -3.0"),
        (("--preset", "nmac", "--method", "fast", "--out", "x.csv"), "--method 'fast'"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = subprocess.run(
        [SKYSEP, "detect", str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_bad_states_leave_the_previous_output_untouched(tmp_path: Path) -> None:
    states = tmp_path / "states.csv"
    states.write_text(
        EXAMPLE.read_text(encoding="utf-8") + "Z999,north,95.0,37.0,30000,450,90,0\n",
        encoding="utf-8",
    )
    out = tmp_path / "conflicts.csv"
    out.write_text("previous run\n", encoding="utf-8")
    result = run("detect", states, "--preset", "icao-5nm", "--out", out)
    assert result.returncode == 2
    assert "line 46, column 'lat': '95.0' is out of range [-90, 90]" in result.stderr
    assert out.read_text(encoding="utf-8") == "previous run\n"
    assert {p.name for p in tmp_path.iterdir()} == {"states.csv", "conflicts.csv"}


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    result = run("detect", EXAMPLE, "--preset", "nmac", "--quiet", "--out", tmp_path / "c.csv")
    assert result.returncode == 0
    assert result.stdout == ""
    assert (tmp_path / "c.csv").exists()


def test_agreement_commands() -> None:
    check = run("agreement", "check", EXAMPLE_AGREEMENT)
    assert check.returncode == 0, check.stderr
    assert "Shared airspace" in check.stdout
    assert "pair north / south: 3 NM / 3000 ft" in check.stdout
    keys = run("agreement", "keys")
    assert keys.returncode == 0
    for key in skysep.agreement.KEYS:
        assert key.name in keys.stdout
    presets = run("agreement", "presets")
    assert "rule-of-threes: 3 NM / 3000 ft" in presets.stdout
    assert "nmac: 0.0822894 NM / 100 ft" in presets.stdout


def test_agreement_check_reports_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("horizontal_nm = 5\nvertical_ft = -1000\n", encoding="utf-8")
    result = run("agreement", "check", bad)
    assert result.returncode == 2
    assert "vertical_ft must be a positive finite number, got -1000.0" in result.stderr


SHARED = ROOT.parent / "shared" / "daidalus"


def test_daa_reproduces_daidalus_alerting(tmp_path: Path) -> None:
    out = tmp_path / "alerts.csv"
    result = run(
        "daa",
        SHARED / "scenarios" / "H1.daa",
        "--config",
        SHARED / "configurations" / "DO_365B_no_SUM.conf",
        "--no-hysteresis",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    expected = SHARED / "expected" / "no-hysteresis" / "H1.daa__DO_365B_no_SUM.csv"
    assert out.read_text(encoding="utf-8") == expected.read_text(encoding="utf-8")


def test_daa_refuses_the_sum_model(tmp_path: Path) -> None:
    result = run(
        "daa",
        SHARED / "scenarios" / "H1_SUM.daa",
        "--config",
        SHARED / "configurations" / "DO_365B_SUM.conf",
        "--out",
        tmp_path / "alerts.csv",
    )
    assert result.returncode == 2
    assert "SUM" in result.stderr
    assert "not supported" in result.stderr
    assert not (tmp_path / "alerts.csv").exists()


def test_detect_with_the_well_clear_detector(tmp_path: Path) -> None:
    # Two drones 800 m apart closing head-on at 30 m/s each: inside DO-365's DTHR of 4000 ft.
    states = tmp_path / "drones.csv"
    states.write_text(
        "aircraft,lat,lon,alt_ft,gs_kt,track_deg,vs_fpm\n"
        "D1,45.0,7.0,400,58,90,0\n"
        "D2,45.0,7.0102,400,58,270,0\n",
        encoding="utf-8",
    )
    agreement = tmp_path / "agreement.toml"
    agreement.write_text(
        'horizontal_ft = 500\nvertical_ft = 100\ndetector = "well-clear"\n'
        'wellclear = "DO_365B_no_SUM"\n',
        encoding="utf-8",
    )
    out = tmp_path / "alerts.csv"
    result = run("detect", states, "--agreement", agreement, "--out", out)
    assert result.returncode == 0, result.stderr
    header, rows = read_rows(out)
    assert header[:4] == ["ownship", "traffic", "alerter", "alert_level"]
    assert {(r["ownship"], r["traffic"]) for r in rows} == {("D1", "D2"), ("D2", "D1")}
    assert all(int(r["alert_level"]) >= 1 for r in rows)
    # The cylinder detector on the same file, chosen on the command line, writes conflicts.csv.
    out2 = tmp_path / "conflicts.csv"
    result = run(
        "detect", states, "--agreement", agreement, "--detector", "cylinder", "--out", out2
    )
    assert result.returncode == 0, result.stderr
    header, rows = read_rows(out2)
    assert header == list(CONFLICT_COLUMNS)
    assert [(r["aircraft_a"], r["aircraft_b"]) for r in rows] == [("D1", "D2")]


def test_help_lists_every_command_without_loading_the_heavy_ones() -> None:
    """``skysep --help`` names the lazy commands from their registered summaries: neither
    the service (FastAPI, SQLAlchemy) nor the engine's compiled kernels (numba) load."""
    script = (
        "import sys\n"
        "from skysep.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'], terminal_width=200)\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.output)\n"
        "heavy = ['fastapi', 'sqlalchemy', 'numba', 'skysep.service', 'skysep.engine._detect']\n"
        "print('LOADED:', ' '.join(m for m in heavy if m in sys.modules))\n"
    )
    help_text, loaded = run_fresh(script).rsplit("LOADED:", 1)
    assert loaded.split() == []
    from skysep.cli import _LAZY

    for name in [*_LAZY, "detect", "replay", "daa", "agreement"]:
        assert f" {name} " in help_text, name


@pytest.mark.parametrize("name", ["simulate", "evidence", "ops", "serve", "party", "admin", "demo"])
def test_a_lazy_commands_summary_is_the_real_ones(name: str) -> None:
    import typer

    from skysep.cli import _LAZY, app

    group = typer.main.get_group(app)
    placeholder = group.commands[name]
    group.load(name)  # type: ignore[attr-defined]
    real = group.commands[name]
    assert real is not placeholder
    assert placeholder.help == (real.help or "").strip().split("\n\n")[0].replace("\n", " ")
    assert set(_LAZY) == {"simulate", "evidence", "ops", "serve", "party", "admin", "demo"}


def test_a_lazy_command_runs_and_shows_its_own_help() -> None:
    serve = run("serve", "--help")
    assert serve.returncode == 0, serve.stderr
    assert "--db" in serve.stdout
    assert "--worker-processes" in serve.stdout
    ops = run("ops", "check", "--help")
    assert ops.returncode == 0, ops.stderr
    assert "Usage: skysep ops check" in ops.stdout


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["replay", "t.csv", "--preset", "icao-5nm", "--out", "o"], True),
        (["replay", "t.csv", "--out", "o", "--no-report"], False),
        (["replay", "t.csv", "--out", "o", "--max-plotted", "3"], False),
        (["replay", "t.csv", "--out", "o", "--max-plotted=0"], False),
        (["replay", "--help"], False),
        (["detect", "s.csv", "--out", "c.csv"], False),
        ([], False),
    ],
)
def test_main_guesses_when_replay_will_draw_figures(args: list[str], wanted: bool) -> None:
    from skysep._start import figures_wanted

    assert figures_wanted(args) is wanted


@pytest.mark.parametrize(
    ("extra", "workers", "code"),
    [
        ([], 1, 0),  # started by main() before parsing, taken by the command
        (["--no-report"], 0, 0),
        (["--max-plotted", "1"], 1, 0),  # not guessed: the command starts it itself
        (["--bogus"], 1, 2),  # typer refuses the options: main() stops the one it started
    ],
)
def test_replay_figure_process_is_started_once_and_never_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], workers: int, code: int
) -> None:
    import multiprocessing

    from test_replay_report import head_on

    from skysep import _start, cli
    from skysep.replay import _figure_worker

    made: list[_figure_worker.FigureWorker] = []
    real_init = _figure_worker.FigureWorker.__init__

    def counted(self: _figure_worker.FigureWorker, processes: int) -> None:
        made.append(self)
        real_init(self, processes)

    monkeypatch.setattr(_figure_worker.FigureWorker, "__init__", counted)
    ids, time_s, lat, lon, alt_m = head_on("A", "B", 45.0, 0.0)
    tracks = tmp_path / "tracks.csv"
    with tracks.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "aircraft", "lat", "lon", "alt_m"])
        writer.writerows(zip(time_s, ids, lat, lon, alt_m, strict=True))
    out = tmp_path / "out"
    argv = ["skysep", "replay", str(tracks), "--preset", "icao-5nm", "--out", str(out), "--quiet"]
    monkeypatch.setattr(sys, "argv", [*argv, *extra])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == code
    assert len(made) == workers
    assert _start._EARLY_FIGURES == []
    assert all(worker._process.exitcode is not None for worker in made)
    assert multiprocessing.active_children() == []
    if code == 0:
        page = (out / "report.html").read_text(encoding="utf-8") if workers else None
        assert (page is None) == ("--no-report" in extra)
        assert page is None or page.count("<img") == 1


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_replay_keeps_freed_memory_with_glibc() -> None:
    from skysep._start import keep_freed_memory

    assert keep_freed_memory() is True  # each of the three settings was accepted
