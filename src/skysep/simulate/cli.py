"""``skysep simulate``: a thin command over :mod:`skysep.simulate`.

Registered in :mod:`skysep.cli` as ``app.command("simulate")(simulate_command)``;
heavy modules are imported inside the command.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from skysep.simulate import Batch, Scenario

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


def simulate_command(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="Scenario file (TOML, see docs/simulate.md), or the name of a built-in one "
            "(two-party-drill).",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the reports to this track file (.parquet, .pq or .csv), which "
            "skysep replay reads. Give this or --to.",
            dir_okay=False,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Feed the reports to the SkySep service at this URL (POST URL/v1/reports), "
            "one client per party with its own token. Give this or --out.",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the noise (default: the scenario's seed)."),
    ] = None,
    duration_s: Annotated[
        float | None,
        typer.Option(
            "--duration-s",
            "--duration",
            help="Simulate this many seconds (default: the scenario's duration_s).",
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            help="With --to: scenario seconds per wall-clock second (inf: no pacing).",
        ),
    ] = 1.0,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            metavar="PARTY=TOKEN",
            help="With --to: a party's token, PARTY=TOKEN (repeat for each party).",
        ),
    ] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help="With --to: a TOML or JSON file of party = token.",
            dir_okay=False,
        ),
    ] = None,
    time_base: Annotated[
        str,
        typer.Option(
            "--time-base",
            help="With --to: 'now' (scenario time shifted to start now) or 'scenario' "
            "(the scenario's own times).",
        ),
    ] = "now",
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
) -> None:
    """Simulate the traffic of a scenario: write it to a track file, or feed it to the service."""
    from skysep.errors import SkySepError
    from skysep.simulate import load_scenario, simulate

    if (out is None) == (to is None):
        _fail("give exactly one of --out FILE or --to URL")
    if out is not None and (token or tokens is not None or time_base != "now"):
        _fail("--token, --tokens and --time-base go with --to, not with --out")
    if not speed > 0:
        _fail(f"--speed must be a positive number (or inf), got {speed!r}")
    try:
        loaded = load_scenario(Path(scenario) if "\n" not in scenario else scenario)
        batches = simulate(loaded, seed=seed, duration_s=duration_s)
        if out is not None:
            from skysep.simulate.output import reports_table, write_reports

            table = reports_table(batches)
            write_reports(table, out)
            if not quiet:
                out_console.print(
                    f"{len(table)} reports of {table['aircraft'].nunique()} aircraft "
                    f"({', '.join(loaded.party_ids)}) over "
                    f"{duration_s if duration_s is not None else loaded.duration_s:g} s, "
                    f"written to {out}",
                    soft_wrap=True,
                )
            return
        assert to is not None
        _feed(loaded, batches, to, token or [], tokens, speed, time_base, quiet, duration_s)
    except SkySepError as exc:
        _fail(str(exc))


def _feed(
    loaded: Scenario,
    batches: Iterator[Batch],
    url: str,
    token_options: list[str],
    tokens_file: Path | None,
    speed: float,
    time_base: str,
    quiet: bool,
    duration_s: float | None,
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from skysep.simulate.feed import TIME_BASES, FeedStats, feed, load_tokens, parse_tokens

    if time_base not in TIME_BASES:
        _fail(
            f"--time-base {time_base!r} is not a valid option, must be one of "
            f"{', '.join(TIME_BASES)}"
        )
    given = parse_tokens(token_options)
    if tokens_file is not None:
        for party, value in load_tokens(tokens_file).items():
            given.setdefault(party, value)  # --token wins over the file
    total_s = loaded.duration_s if duration_s is None else duration_s
    ticks = math.floor(total_s / loaded.report_interval_s * (1 + 1e-12)) + 1
    progress = Progress(
        TextColumn("feeding {task.fields[url]}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} ticks, {task.fields[sent]} reports"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    )
    with progress:
        task = progress.add_task("feed", total=ticks, url=url, sent=0)

        def advance(_batch: Batch, stats: FeedStats) -> None:
            progress.update(task, completed=stats.batches, sent=sum(stats.reports.values()))

        stats = feed(
            batches,
            url,
            given,
            parties=loaded.party_ids,
            speed=speed,
            time_base=time_base,  # type: ignore[arg-type]
            progress=advance,
        )
    if not quiet:
        sent = ", ".join(
            f"{party} {stats.reports.get(party, 0)} in {stats.requests.get(party, 0)} request(s)"
            for party in loaded.party_ids
        )
        out_console.print(
            f"fed {stats.batches} ticks to {url}: {sent}; {stats.retries} retried request(s)",
            soft_wrap=True,
        )
