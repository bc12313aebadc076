"""The public API is listed in one place, and the generated docs are current."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import skysep
from skysep import docgen
from skysep.agreement import KEYS

ROOT = Path(__file__).resolve().parents[1]


def test_all_lists_exactly_the_public_names() -> None:
    # Subpackages (engine, service, storage, ...) become attributes once anything imports
    # them; they are namespaces, not names of the API.
    public = {
        name
        for name in dir(skysep)
        if not name.startswith("_") and not isinstance(getattr(skysep, name), ModuleType)
    }
    assert set(skysep.__all__) == public | {"__version__"}
    for name in skysep.__all__:
        assert hasattr(skysep, name), name


def test_error_tree_has_one_root() -> None:
    for error in (
        skysep.AgreementError,
        skysep.StatesError,
        skysep.TracksError,
        skysep.TableError,
        skysep.EngineError,
    ):
        assert issubclass(error, skysep.SkySepError)


def test_generated_docs_are_current() -> None:
    assert docgen.main(["--check", "--docs", str(ROOT / "docs")]) == 0


def test_every_agreement_key_is_documented() -> None:
    text = (ROOT / "docs" / "agreement.md").read_text(encoding="utf-8")
    for key in KEYS:
        assert f"`{key.name}`" in text
