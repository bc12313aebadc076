"""The agreement: the issue's example file, the presets, and every error a file can hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from skysep import units
from skysep.agreement import (
    LANGUAGES,
    PRESETS,
    Agreement,
    PairMinima,
    Party,
    from_mapping,
    load_agreement,
    loads,
    preset,
)
from skysep.errors import AgreementError

#: The example of the issue, as written: one declared party, an override for
#: a pair that names a second, undeclared one.
ISSUE_EXAMPLE = """\
name = "Shared airspace"
horizontal_nm = 5
vertical_ft = 1000
lookahead_s = 300
caution_s = 120
warning_s = 60
check_same_party = true

[[parties]]
id = "north"
name = "North air operations centre"
language = "en"

[[pairs]]            # overrides for one pair of parties
parties = ["north", "south"]
horizontal_nm = 3
vertical_ft = 3000
"""

ROOT = Path(__file__).resolve().parents[1]

#: The smallest valid file.
BASE = "horizontal_nm = 5\nvertical_ft = 1000\n"


def _write(tmp_path: Path, text: str, name: str = "agreement.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_issue_example_loads_as_written(tmp_path: Path) -> None:
    agreement = load_agreement(_write(tmp_path, ISSUE_EXAMPLE))
    assert agreement == Agreement(
        horizontal_m=units.nm_to_m(5.0),
        vertical_m=units.ft_to_m(1000.0),
        lookahead_s=300.0,
        caution_s=120.0,
        warning_s=60.0,
        check_same_party=True,
        name="Shared airspace",
        parties=(Party(id="north", name="North air operations centre", language="en"),),
        pairs=(
            PairMinima(
                parties=("north", "south"),
                horizontal_m=units.nm_to_m(3.0),
                vertical_m=units.ft_to_m(3000.0),
            ),
        ),
    )


def test_issue_example_minima_by_pair_of_parties() -> None:
    agreement = loads(ISSUE_EXAMPLE)
    override = (units.nm_to_m(3.0), units.ft_to_m(3000.0))
    default = (units.nm_to_m(5.0), units.ft_to_m(1000.0))
    assert agreement.minima_for("north", "south") == override
    assert agreement.minima_for("south", "north") == override
    assert agreement.minima_for("north", "north") == default
    assert agreement.minima_for("south", "south") == default
    assert agreement.minima_for("north", None) == default
    assert agreement.minima_for(None, "south") == default
    assert agreement.minima_for(None, None) == default
    assert agreement.party_ids == ("north",)


def test_the_shipped_example_file_loads() -> None:
    agreement = load_agreement(ROOT / "examples" / "agreement.toml")
    assert agreement.minima_for("south", "north") == (units.nm_to_m(3.0), units.ft_to_m(3000.0))


def test_defaults() -> None:
    agreement = loads("horizontal_m = 1000\nvertical_m = 100\n")
    assert (agreement.horizontal_m, agreement.vertical_m) == (1000.0, 100.0)
    assert agreement.lookahead_s == 300.0
    assert agreement.caution_s == 120.0
    assert agreement.warning_s == 60.0
    assert agreement.check_same_party is True
    assert agreement.name == ""
    assert agreement.parties == ()
    assert agreement.pairs == ()


@pytest.mark.parametrize(
    ("text", "horizontal_m", "vertical_m"),
    [
        ("horizontal_nm = 5\nvertical_ft = 1000", units.nm_to_m(5.0), units.ft_to_m(1000.0)),
        ("horizontal_m = 9260\nvertical_m = 304.8", 9260.0, 304.8),
        ("horizontal_ft = 500\nvertical_ft = 100", units.ft_to_m(500.0), units.ft_to_m(100.0)),
        ("horizontal_nm = 0.5\nvertical_m = 30", units.nm_to_m(0.5), 30.0),
    ],
)
def test_every_unit_converts_to_si(text: str, horizontal_m: float, vertical_m: float) -> None:
    agreement = loads(text)
    assert (agreement.horizontal_m, agreement.vertical_m) == (horizontal_m, vertical_m)


def test_pair_override_may_set_one_minimum() -> None:
    agreement = loads(BASE + '[[pairs]]\nparties = ["a", "b"]\nvertical_ft = 2000\n')
    assert agreement.minima_for("b", "a") == (units.nm_to_m(5.0), units.ft_to_m(2000.0))


@pytest.mark.parametrize(
    ("name", "horizontal_m", "vertical_m"),
    [
        ("icao-5nm", units.nm_to_m(5.0), units.ft_to_m(1000.0)),
        ("icao-3nm", units.nm_to_m(3.0), units.ft_to_m(1000.0)),
        ("rule-of-threes", units.nm_to_m(3.0), units.ft_to_m(3000.0)),
        ("nmac", units.ft_to_m(500.0), units.ft_to_m(100.0)),
    ],
)
def test_presets_have_their_si_minima(name: str, horizontal_m: float, vertical_m: float) -> None:
    agreement = preset(name)
    assert agreement.horizontal_m == horizontal_m
    assert agreement.vertical_m == vertical_m
    assert agreement.lookahead_s == 300.0
    assert agreement.name


def test_every_preset_is_tested() -> None:
    assert set(PRESETS) == {"icao-5nm", "icao-3nm", "rule-of-threes", "nmac"}


# --------------------------------------------------------------------------- #
# Errors: each names where and quotes the bad key or value

ERRORS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "unknown-key-with-suggestion",
        BASE + "lookahed_s = 300\n",
        ("unknown key 'lookahed_s'", "did you mean 'lookahead_s'"),
    ),
    (
        "unknown-key-listing-valid-ones",
        BASE + "colour = 3\n",
        ("'colour'", "horizontal_nm", "warning_s"),
    ),
    (
        "two-units-of-one-quantity",
        "horizontal_nm = 5\nhorizontal_m = 9260\nvertical_ft = 1000\n",
        ("'horizontal_nm'", "'horizontal_m'"),
    ),
    ("missing-horizontal", "vertical_ft = 1000\n", ("horizontal", "horizontal_nm", "horizontal_m")),
    ("missing-vertical", "horizontal_nm = 5\n", ("vertical", "vertical_ft", "vertical_m")),
    ("negative", "horizontal_nm = -5\nvertical_ft = 1000\n", ("horizontal_nm", "-5")),
    ("zero", BASE + "lookahead_s = 0\n", ("lookahead_s", "0")),
    ("infinite", BASE + "caution_s = inf\n", ("caution_s", "inf")),
    ("not-a-number", 'horizontal_nm = "5"\nvertical_ft = 1000\n', ("horizontal_nm", "'5'")),
    (
        "boolean-for-a-number",
        "horizontal_nm = true\nvertical_ft = 1000\n",
        ("horizontal_nm", "True"),
    ),
    ("not-a-boolean", BASE + 'check_same_party = "yes"\n', ("check_same_party", "'yes'")),
    ("name-not-a-string", BASE + "name = 3\n", ("name", "3")),
    (
        "warning-after-caution",
        BASE + "warning_s = 130\ncaution_s = 120\n",
        ("warning_s", "130", "caution_s", "120"),
    ),
    (
        "bad-language",
        BASE + '[[parties]]\nid = "north"\nlanguage = "de"\n',
        ("'de'", *LANGUAGES),
    ),
    (
        "duplicate-party",
        BASE + '[[parties]]\nid = "north"\n[[parties]]\nid = "north"\n',
        ("'north'", "twice", "parties #2"),
    ),
    ("bad-party-id", BASE + '[[parties]]\nid = "no th"\n', ("'no th'",)),
    ("missing-party-id", BASE + "[[parties]]\nname = 'North'\n", ("id", "None")),
    (
        "unknown-party-key",
        BASE + '[[parties]]\nid = "north"\nlangauge = "en"\n',
        ("'langauge'", "did you mean 'language'", "parties #1"),
    ),
    (
        "pair-of-one-party",
        BASE + '[[pairs]]\nparties = ["north"]\nhorizontal_nm = 3\n',
        ("parties", "['north']"),
    ),
    (
        "pair-twice",
        BASE
        + '[[pairs]]\nparties = ["a", "b"]\nhorizontal_nm = 3\n'
        + '[[pairs]]\nparties = ["b", "a"]\nhorizontal_nm = 4\n',
        ("pairs #2", "['b', 'a']"),
    ),
    (
        "pair-without-minima",
        BASE + '[[pairs]]\nparties = ["a", "b"]\n',
        ("pairs #1", "horizontal_", "vertical_"),
    ),
    (
        "pair-with-a-top-level-key",
        BASE + '[[pairs]]\nparties = ["a", "b"]\nlookahead_s = 60\n',
        ("'lookahead_s'", "pairs #1"),
    ),
    (
        "pair-negative-minimum",
        BASE + '[[pairs]]\nparties = ["a", "b"]\nvertical_ft = -1\n',
        ("vertical_ft", "-1", "pairs #1"),
    ),
    ("parties-not-a-table-array", BASE + "parties = 3\n", ("parties", "[[parties]]")),
]


@pytest.mark.parametrize(("text", "needles"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_the_file_and_quote_the_value(
    tmp_path: Path, text: str, needles: tuple[str, ...]
) -> None:
    path = _write(tmp_path, text, "shared.toml")
    with pytest.raises(AgreementError) as raised:
        load_agreement(path)
    message = str(raised.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_bad_toml_syntax_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'horizontal_nm = 5\nvertical_ft = = 1000\nname = "x', "broken.toml")
    with pytest.raises(AgreementError) as raised:
        load_agreement(path)
    message = str(raised.value)
    assert str(path) in message
    assert "TOML" in message
    assert "line 2" in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(AgreementError, match="no such agreement file") as raised:
        load_agreement(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(("name", "hint"), [("icao-6nm", "did you mean"), ("strict", "")])
def test_unknown_preset_lists_the_valid_ones(name: str, hint: str) -> None:
    with pytest.raises(AgreementError) as raised:
        preset(name)
    message = str(raised.value)
    assert repr(name) in message
    assert hint in message
    for valid in PRESETS:
        assert valid in message


def test_from_mapping_names_its_source() -> None:
    with pytest.raises(AgreementError, match=r"^my-source: unknown key 'H'"):
        from_mapping({"H": 5}, "my-source")


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_with_lookahead_validates(bad: float) -> None:
    with pytest.raises(AgreementError, match="lookahead_s"):
        preset("icao-5nm").with_lookahead(bad)


def test_with_lookahead_copies() -> None:
    base = preset("icao-5nm")
    longer = base.with_lookahead(600)
    assert longer.lookahead_s == 600.0
    assert base.lookahead_s == 300.0
    assert (longer.horizontal_m, longer.vertical_m) == (base.horizontal_m, base.vertical_m)
