"""The public API is listed in one place, and the generated docs are current."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from fresh import run_fresh

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


def test_lazy_packages_export_their_names_and_load_numba_only_when_needed() -> None:
    """``skysep.engine`` and ``skysep.replay`` list every name in ``__all__`` and resolve
    each; their types, the replay's options and the track reader do not load numba."""
    script = (
        "import sys\n"
        "from skysep.engine import LEVELS, METHODS, STATE_RANGES, Conflicts, States\n"
        "from skysep.replay import ReplayError, ReplayOptions, TrackRead, Tracks\n"
        "from skysep.io import read_tracks\n"
        "ReplayOptions(method='grid').validate()\n"
        "print('numba' in sys.modules)\n"
    )
    assert run_fresh(script).strip() == "False"
    import skysep.engine
    import skysep.replay

    for package in (skysep.engine, skysep.replay):
        for name in package.__all__:
            assert getattr(package, name) is not None, name
        assert set(package.__all__) <= set(dir(package))
