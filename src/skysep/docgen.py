"""Generate the parts of docs/ that come from the code, or check they are current.

``python -m skysep.docgen`` rewrites them; ``--check`` exits 1 when one is stale.
Generated: ``docs/cli.md`` (from the Typer app) and the keys table in
``docs/agreement.md`` (from :data:`skysep.agreement.KEYS`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import typer
from typer.cli import get_docs_for_click

from skysep import units
from skysep.agreement import KEYS, LANGUAGES, PAIR_KEYS, PARTY_KEYS, PRESETS, preset
from skysep.cli import app

BEGIN = "<!-- BEGIN GENERATED: python -m skysep.docgen -->"
END = "<!-- END GENERATED -->"


def cli_markdown() -> str:
    command = typer.main.get_command(app)
    for name in list(command.commands):  # type: ignore[attr-defined]
        command.load(name)  # type: ignore[attr-defined]
    body = get_docs_for_click(obj=command, ctx=typer.Context(command), name="skysep")
    header = (
        "# Command-line reference\n\n"
        "Generated from the CLI itself by `python -m skysep.docgen`; do not edit.\n\n"
    )
    return header + body.strip() + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def keys_markdown() -> str:
    lines = [
        "| key | unit | default | meaning | where |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key in KEYS:
        default = "required: one unit of it" if key.required else f"`{_toml(key.default)}`"
        where = ", ".join(f"`[[{s}s]]`" if s != "agreement" else "top level" for s in key.scopes)
        lines.append(f"| `{key.name}` | {key.unit or '-'} | {default} | {key.help} | {where} |")
    lines += ["", "`[[parties]]` tables:", "", "| key | meaning |", "| --- | --- |"]
    lines += [f"| `{k}` | {v} |" for k, v in PARTY_KEYS.items()]
    lines += ["", f"Languages (`language`): {', '.join(f'`{x}`' for x in LANGUAGES)}.", ""]
    lines += ["`[[pairs]]` tables:", "", "| key | meaning |", "| --- | --- |"]
    lines += [f"| `{k}` | {v} |" for k, v in PAIR_KEYS.items()]
    lines.append(
        "| `horizontal_*`, `vertical_*` | The minima for this pair of parties; "
        "one left out keeps the top-level value. |"
    )
    lines += ["", "Presets (`--preset NAME`):", "", "| preset | horizontal | vertical |"]
    lines.append("| --- | --- | --- |")
    for name in PRESETS:
        rules = preset(name)
        lines.append(
            f"| `{name}` | {units.m_to_nm(rules.horizontal_m):g} NM ({rules.horizontal_m:g} m) "
            f"| {units.m_to_ft(rules.vertical_m):g} ft ({rules.vertical_m:g} m) |"
        )
    return "\n".join(lines) + "\n"


def _splice(text: str, generated: str, path: Path) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def render(docs: Path) -> dict[Path, str]:
    """The generated content of every generated file, by path."""
    agreement_md = docs / "agreement.md"
    return {
        docs / "cli.md": cli_markdown(),
        agreement_md: _splice(agreement_md.read_text("utf-8"), keys_markdown(), agreement_md),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a generated doc is stale")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the docs folder")
    args = parser.parse_args(argv)
    stale = []
    for path, content in render(args.docs).items():
        current = path.read_text("utf-8") if path.exists() else ""
        if current != content:
            stale.append(path)
            if not args.check:
                path.write_text(content, "utf-8")
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        print(f"stale generated docs: {names}; run `python -m skysep.docgen`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
