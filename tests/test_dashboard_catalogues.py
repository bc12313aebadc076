"""The dashboard's UI strings: en, fr and ru catalogues with the same keys and placeholders,
every key the code uses present, none unused; and the committed bundle is served."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "dashboard" / "src"
STATIC = ROOT / "src" / "skysep" / "service" / "static" / "dashboard"
LANGUAGES = ("en", "fr", "ru")


def catalogue(language: str) -> dict[str, str]:
    data = json.loads((SOURCES / "i18n" / f"{language}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def used_keys() -> set[str]:
    code = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES.glob("*.js"))
    html = (SOURCES / "index.html").read_text(encoding="utf-8")
    keys = set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", code))
    keys |= set(re.findall(r'data-i18n(?:-placeholder)?="([\w.]+)"', html))
    # Keys built from a value: t(`level.${level}`), t(`status.${status}`), ...
    for prefix, values in {
        "level.": ("warning", "caution", "advisory"),
        "status.": ("live", "connecting", "offline"),
        "incident.status.": ("open", "closed", "recorded"),
    }.items():
        assert f"t(`{prefix}${{" in code, prefix
        keys |= {prefix + v for v in values}
    return keys


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_matches_english(language: str) -> None:
    english, other = catalogue("en"), catalogue(language)
    assert set(other) == set(english)
    for key, text in other.items():
        assert text.strip(), f"{language}: {key} is empty"
        assert placeholders(text) == placeholders(english[key]), f"{language}: {key}"


def test_translated_not_copied() -> None:
    english, french, russian = catalogue("en"), catalogue("fr"), catalogue("ru")
    assert french["alerts.title"] == "Alertes"
    assert russian["alerts.title"] == "Предупреждения"
    same_fr = [k for k in english if english[k] == french[k]]
    # Only strings with no words to translate are the same (party names, "FL{fl}", "{kt} kt").
    assert set(same_fr) <= {"party", "label.fl", "label.speed", "incidents.title"}
    cyrillic = re.compile("[\u0400-\u04ff]")
    assert [k for k in russian if not cyrillic.search(russian[k])] == ["party"]


def test_every_key_used_exists_and_every_key_is_used() -> None:
    keys = set(catalogue("en"))
    used = used_keys()
    assert used - keys == set()
    assert keys - used == set()


def test_bundle_is_built() -> None:
    for name in ("index.html", "app.js", "app.css", "countries-50m.json", "NOTICE.md"):
        assert (STATIC / name).stat().st_size > 0, name
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert 'src="app.js"' in html
    assert 'href="app.css"' in html
    # Offline: nothing loaded from another host (links, such as Leaflet's credit, are fine).
    bundle = html + (STATIC / "app.js").read_text(encoding="utf-8")
    bundle += (STATIC / "app.css").read_text(encoding="utf-8")
    assert not re.search(r"""src=["']https?://""", bundle)
    assert not re.search(r"""url\(["']?https?://""", bundle)
    assert not re.search(r"""<link[^>]+href=["']https?://""", bundle)
    assert "tile.openstreetmap" not in bundle
    assert "{z}/{x}/{y}" not in bundle
