"""The operations' errors: every problem of a file named, and refused state changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skysep.errors import OperationsError


@dataclass(frozen=True)
class Issue:
    """One problem of an operation file: where, which field, which value, what is wrong.

    ``location`` is ``"features[2] (id 'north')"`` for a feature (``index`` 2,
    ``feature_id`` ``"north"``) or the top-level member's name; ``field`` is a
    path inside it (``"properties.lower_ft"``, ``"geometry.coordinates[0][3]"``).
    """

    location: str
    field: str
    value: object
    message: str
    index: int | None = None
    feature_id: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.message}"


class InvalidOperationError(OperationsError):
    """An operation file or mapping with problems; ``issues`` lists every one."""

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__(source, [str(i) for i in self.issues])


class TransitionError(OperationsError):
    """A state change the state machine refuses; ``valid`` lists the states allowed next."""

    def __init__(self, source: str, message: str, valid: Sequence[str]) -> None:
        self.valid = tuple(valid)
        super().__init__(source, [message])
