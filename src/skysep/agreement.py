"""The agreement: what the parties agreed on, loaded from TOML and validated.

Every key a file may hold is declared once in :data:`KEYS` (name, unit,
default, help). That table drives validation, the documentation
(``docs/agreement.md``) and the CLI's ``skysep agreement keys``. Keys carry
their unit in their name (``horizontal_nm``, ``vertical_ft``, ``lookahead_s``);
a quantity may be given in any one of its units, never in two at once.
Inside, :class:`Agreement` holds SI values only.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from skysep import units
from skysep.errors import AgreementError

Scope = Literal["agreement", "pair", "party"]


@dataclass(frozen=True)
class Key:
    """One key an agreement file may hold."""

    name: str
    unit: str
    default: float | bool | str | None
    help: str
    #: The SI field of :class:`Agreement` this key sets (several keys may set one field).
    field: str
    #: Factor from the key's unit to SI.
    to_si: float = 1.0
    kind: type = float
    scopes: tuple[Scope, ...] = ("agreement",)
    required: bool = False


def _length(
    stem: str,
    units_: Iterable[str],
    help_: str,
    scopes: tuple[Scope, ...],
    default_m: float | None = None,
) -> list[Key]:
    """One key per unit of a length; ``default_m`` (SI) makes it optional."""
    unit_names = {"nm": "NM", "m": "m", "ft": "ft"}
    return [
        Key(
            name=f"{stem}_{u}",
            unit=unit_names[u],
            default=None if default_m is None else round(default_m / units.SUFFIX_TO_SI[u], 6),
            help=help_,
            field=f"{stem}_m",
            to_si=units.SUFFIX_TO_SI[u],
            scopes=scopes,
            required=default_m is None,
        )
        for u in units_
    ]


#: Every key of an agreement, in the order the documentation lists them.
KEYS: Final[tuple[Key, ...]] = (
    Key("name", "", "", "Display name of the agreement.", "name", kind=str),
    *_length(
        "horizontal",
        ("nm", "m", "ft"),
        "Horizontal separation minimum H: a loss of separation needs horizontal distance < H.",
        ("agreement", "pair"),
    ),
    *_length(
        "vertical",
        ("ft", "m"),
        "Vertical separation minimum V: a loss of separation needs an altitude difference "
        "< V in absolute value.",
        ("agreement", "pair"),
    ),
    Key(
        "lookahead_s",
        "s",
        300.0,
        "How far ahead conflicts are predicted.",
        "lookahead_s",
    ),
    Key(
        "caution_s",
        "s",
        120.0,
        "A conflict whose loss of separation starts within this time is a caution.",
        "caution_s",
    ),
    Key(
        "warning_s",
        "s",
        60.0,
        "A conflict whose loss of separation starts within this time is a warning.",
        "warning_s",
    ),
    Key(
        "detector",
        "",
        "cylinder",
        "How conflicts are defined: 'cylinder' (the separation minima above) or "
        "'well-clear' (DAIDALUS / RTCA DO-365, see docs/wellclear.md).",
        "detector",
        kind=str,
    ),
    Key(
        "wellclear",
        "",
        "DO_365B_no_SUM",
        "With detector = 'well-clear': a built-in configuration's name or the path of a "
        "DAIDALUS .conf file (relative to the agreement file).",
        "wellclear",
        kind=str,
    ),
    Key(
        "check_same_party",
        "",
        True,
        "Check pairs of aircraft of the same party too.",
        "check_same_party",
        kind=bool,
    ),
    *_length(
        "disclosure_radius",
        ("nm", "m"),
        "Service: another party's aircraft is disclosed to a party only while it is within "
        "this horizontal distance of one of the party's own aircraft (or in a conflict with one).",
        ("agreement",),
        default_m=20 * units.SUFFIX_TO_SI["nm"],
    ),
    Key(
        "cycle_s",
        "s",
        1.0,
        "Service: how often the live picture is run through the engine.",
        "cycle_s",
    ),
    Key(
        "stale_s",
        "s",
        15.0,
        "Service: an aircraft with no report for this long is dropped from the live picture.",
        "stale_s",
    ),
    Key(
        "ack_deadline_s",
        "s",
        120.0,
        "Hotline: a message that requires acknowledgement is escalated after this long.",
        "ack_deadline_s",
    ),
)

#: Keys of one ``[[parties]]`` table.
PARTY_KEYS: Final[dict[str, str]] = {
    "id": "Identifier: letters, digits, '-' and '_' (required).",
    "name": "Display name (defaults to the id).",
    "language": "Language of the party's duty officers (default 'en'), listed below.",
}

#: Keys of one ``[[pairs]]`` table besides the minima it overrides.
PAIR_KEYS: Final[dict[str, str]] = {
    "parties": (
        "The two party ids this override applies to (order does not matter; "
        "a party need not be declared in [[parties]])."
    ),
}

LANGUAGES: Final[tuple[str, ...]] = ("en", "fr", "ru")
DETECTORS: Final[tuple[str, ...]] = ("cylinder", "well-clear")
PRESETS: Final[tuple[str, ...]] = ("icao-5nm", "icao-3nm", "rule-of-threes", "nmac")

_PARTY_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_KEYS_BY_NAME: Final[dict[str, Key]] = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class Party:
    """A party to the agreement."""

    id: str
    name: str
    language: str = "en"


@dataclass(frozen=True)
class PairMinima:
    """Separation minima agreed for one pair of parties (SI)."""

    parties: tuple[str, str]
    horizontal_m: float
    vertical_m: float


@dataclass(frozen=True)
class Agreement:
    """A validated agreement, in SI units.

    Build one with :func:`load_agreement`, :func:`from_mapping` or
    :func:`preset`; constructing it directly skips validation.
    """

    horizontal_m: float
    vertical_m: float
    lookahead_s: float = 300.0
    caution_s: float = 120.0
    warning_s: float = 60.0
    check_same_party: bool = True
    name: str = ""
    #: ``"cylinder"`` or ``"well-clear"`` (see :data:`DETECTORS`).
    detector: str = "cylinder"
    #: Well-clear configuration: a preset name or a .conf path (absolute, or as written).
    wellclear: str = "DO_365B_no_SUM"
    parties: tuple[Party, ...] = ()
    pairs: tuple[PairMinima, ...] = field(default=())
    #: Service: need-to-know radius around a party's own aircraft.
    disclosure_radius_m: float = 20 * 1852.0
    #: Service: detection cycle and staleness of the latest report.
    cycle_s: float = 1.0
    stale_s: float = 15.0
    #: Hotline: acknowledgement deadline.
    ack_deadline_s: float = 120.0

    def minima_for(self, party_a: str | None, party_b: str | None) -> tuple[float, float]:
        """(horizontal_m, vertical_m) that apply between two parties' aircraft.

        ``None`` stands for an aircraft of no declared party: the agreement's
        own minima apply to it.
        """
        if party_a is not None and party_b is not None:
            wanted = frozenset((party_a, party_b))
            for pair in self.pairs:
                if frozenset(pair.parties) == wanted:
                    return pair.horizontal_m, pair.vertical_m
        return self.horizontal_m, self.vertical_m

    def with_lookahead(self, lookahead_s: float) -> Agreement:
        """A copy with another lookahead, validated like the file key."""
        _check_positive("lookahead_s", lookahead_s, "--lookahead-s")
        return replace(self, lookahead_s=float(lookahead_s))

    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.parties)


def _check_positive(key: str, value: float, where: str) -> None:
    if not (value > 0 and value != float("inf")):
        raise AgreementError(f"{where}: {key} must be a positive finite number, got {value!r}")


def _unknown(key: str, where: str, valid: Iterable[str]) -> AgreementError:
    valid = sorted(valid)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return AgreementError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")


def _number(key: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AgreementError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _quantities(
    table: Mapping[str, Any], scope: Scope, where: str, required: bool
) -> dict[str, float]:
    """The SI value of each length/time field set in ``table`` at ``scope``."""
    out: dict[str, float] = {}
    given_by: dict[str, str] = {}
    for key_name, value in table.items():
        key = _KEYS_BY_NAME.get(key_name)
        if key is None or scope not in key.scopes or key.kind is not float:
            continue
        number = _number(key_name, value, where)
        _check_positive(key_name, number, where)
        if key.field in given_by:
            raise AgreementError(
                f"{where}: give {key.field.removesuffix('_m')} once, in one unit: "
                f"both {given_by[key.field]!r} and {key_name!r} are set"
            )
        given_by[key.field] = key_name
        out[key.field] = number * key.to_si
    if required:
        for fld in ("horizontal_m", "vertical_m"):
            if fld not in out:
                options = [k.name for k in KEYS if k.field == fld]
                raise AgreementError(
                    f"{where}: missing the {fld.removesuffix('_m')} minimum; "
                    f"set one of {', '.join(options)}"
                )
    return out


def from_mapping(data: Mapping[str, Any], source: str = "agreement") -> Agreement:
    """Validate a parsed TOML document (or any mapping) into an :class:`Agreement`.

    ``source`` names the file in error messages.
    """
    top_keys = {k.name for k in KEYS if "agreement" in k.scopes} | {"parties", "pairs"}
    for name in data:
        if name not in top_keys:
            raise _unknown(name, source, top_keys)

    si = _quantities(data, "agreement", source, required=True)
    fields: dict[str, Any] = {"horizontal_m": si["horizontal_m"], "vertical_m": si["vertical_m"]}
    for key in KEYS:
        if key.field in ("horizontal_m", "vertical_m"):
            continue
        value = data.get(key.name, key.default)
        if key.kind is float:
            if key.field in fields:
                continue  # set by another unit of the same quantity
            default = None if key.default is None else float(key.default) * key.to_si
            fields[key.field] = si.get(key.field, default)
        elif key.kind is bool:
            if not isinstance(value, bool):
                raise AgreementError(f"{source}: {key.name} must be true or false, got {value!r}")
            fields[key.field] = value
        elif key.kind is str:
            if not isinstance(value, str):
                raise AgreementError(f"{source}: {key.name} must be a string, got {value!r}")
            fields[key.field] = value

    if fields["detector"] not in DETECTORS:
        raise AgreementError(
            f"{source}: detector {fields['detector']!r} is not a valid option, "
            f"must be one of {', '.join(DETECTORS)}"
        )
    if not fields["warning_s"] <= fields["caution_s"]:
        raise AgreementError(
            f"{source}: warning_s ({fields['warning_s']!r}) must not exceed "
            f"caution_s ({fields['caution_s']!r})"
        )

    parties = _parties(data.get("parties", []), source)
    fields["parties"] = parties
    fields["pairs"] = _pairs(
        data.get("pairs", []),
        source,
        (fields["horizontal_m"], fields["vertical_m"]),
    )
    return Agreement(**fields)


def _parties(raw: Any, source: str) -> tuple[Party, ...]:
    if not isinstance(raw, list):
        raise AgreementError(f"{source}: 'parties' must be an array of tables ([[parties]])")
    parties: list[Party] = []
    seen: set[str] = set()
    for n, table in enumerate(raw, start=1):
        where = f"{source}: parties #{n}"
        if not isinstance(table, dict):
            raise AgreementError(f"{where}: must be a table, got {table!r}")
        for key in table:
            if key not in PARTY_KEYS:
                raise _unknown(key, where, PARTY_KEYS)
        pid = table.get("id")
        if not isinstance(pid, str) or not _PARTY_ID.match(pid):
            raise AgreementError(f"{where}: id must be letters, digits, '-' or '_', got {pid!r}")
        if pid in seen:
            raise AgreementError(f"{where}: party id {pid!r} is declared twice")
        seen.add(pid)
        name = table.get("name", pid)
        if not isinstance(name, str) or not name.strip():
            raise AgreementError(f"{where}: name must be a non-empty string, got {name!r}")
        language = table.get("language", "en")
        if language not in LANGUAGES:
            raise AgreementError(
                f"{where}: language {language!r} is not a valid option, "
                f"must be one of {', '.join(LANGUAGES)}"
            )
        parties.append(Party(id=pid, name=name, language=language))
    return tuple(parties)


def _pairs(raw: Any, source: str, defaults: tuple[float, float]) -> tuple[PairMinima, ...]:
    if not isinstance(raw, list):
        raise AgreementError(f"{source}: 'pairs' must be an array of tables ([[pairs]])")
    valid = set(PAIR_KEYS) | {k.name for k in KEYS if "pair" in k.scopes}
    pairs: list[PairMinima] = []
    seen: set[frozenset[str]] = set()
    for n, table in enumerate(raw, start=1):
        where = f"{source}: pairs #{n}"
        if not isinstance(table, dict):
            raise AgreementError(f"{where}: must be a table, got {table!r}")
        for key in table:
            if key not in valid:
                raise _unknown(key, where, valid)
        ids = table.get("parties")
        if not isinstance(ids, list) or len(ids) != 2 or not all(isinstance(i, str) for i in ids):
            raise AgreementError(f"{where}: parties must be two party ids, got {ids!r}")
        for pid in ids:
            if not _PARTY_ID.match(pid):
                raise AgreementError(
                    f"{where}: party id must be letters, digits, '-' or '_', got {pid!r}"
                )
        key = frozenset(ids)
        if key in seen:
            raise AgreementError(f"{where}: parties {ids!r} already have an override")
        seen.add(key)
        si = _quantities(table, "pair", where, required=False)
        if not si:
            raise AgreementError(
                f"{where}: an override must set horizontal_* or vertical_* (or both)"
            )
        pairs.append(
            PairMinima(
                parties=(ids[0], ids[1]),
                horizontal_m=si.get("horizontal_m", defaults[0]),
                vertical_m=si.get("vertical_m", defaults[1]),
            )
        )
    return tuple(pairs)


def loads(text: str, source: str = "agreement") -> Agreement:
    """Parse and validate an agreement from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AgreementError(f"{source}: not valid TOML: {exc}") from None
    return from_mapping(data, source)


def load_agreement(path: str | Path) -> Agreement:
    """Read and validate an agreement file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AgreementError(f"{path}: no such agreement file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError(f"{path}: cannot read the agreement file: {exc}") from None
    agreement = loads(text, str(path))
    wellclear = Path(agreement.wellclear)
    if wellclear.suffix == ".conf" and not wellclear.is_absolute():
        agreement = replace(agreement, wellclear=str(path.parent / wellclear))
    return agreement


def preset(name: str) -> Agreement:
    """One of the built-in agreements in :data:`PRESETS`."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AgreementError(
            f"{name!r} is not a valid preset{hint}, must be one of {', '.join(PRESETS)}"
        )
    text = resources.files("skysep").joinpath(f"presets/{name}.toml").read_text("utf-8")
    return loads(text, f"preset {name}")
