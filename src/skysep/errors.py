"""SkySep's error tree.

::

    SkySepError                 root of everything SkySep raises on bad input
    ├── AgreementError          an agreement file or preset that cannot be used
    ├── TableError              a file or table with bad rows or columns
    │   ├── StatesError         ... of aircraft states (skysep detect)
    │   └── TracksError         ... of recorded position reports (skysep replay)
    ├── EngineError             engine input that breaks the engine's contract
    ├── StorageError            a database that cannot be opened, migrated or written
    ├── ServiceError            a service request or setting that cannot be served
    ├── RecordError             the verifiable record: an entry, key or evidence
    │                           bundle that cannot be made or read
    ├── HotlineError            a hotline message or language that cannot be used
    ├── OperationsError         an operation (4D volumes), or a change to one, that cannot be made
    │   ├── InvalidOperationError   bad features, each named (skysep.operations)
    │   └── TransitionError         a state change the state machine refuses (skysep.operations)
    └── SimulateError           a traffic scenario that cannot be used (skysep simulate)
        └── FeedError           reports the service refused, or could not be sent

Each message names what is wrong and where (file, line, column, key) and
quotes the bad value; where there is a fixed set of valid choices, it lists
them.
"""

from __future__ import annotations

from collections.abc import Sequence


class SkySepError(Exception):
    """Root of SkySep's errors."""


class AgreementError(SkySepError):
    """An agreement (file, mapping or preset) that cannot be used."""


class EngineError(SkySepError, ValueError):
    """Arrays handed to the engine that break its contract (shapes, NaN, ranges)."""


class TableError(SkySepError):
    """A file or table that cannot be used.

    ``problems`` holds one message per offending cell, line or column (the
    first ones, up to a limit); ``total`` counts them all; ``str(error)``
    lists them, each prefixed with ``source``.
    """

    def __init__(self, source: str, problems: Sequence[str], total: int | None = None) -> None:
        self.source = source
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        lines = [f"{source}: {p}" for p in self.problems]
        more = self.total - len(self.problems)
        if more > 0:
            lines.append(f"{source}: ... and {more} more problem(s)")
        super().__init__("\n".join(lines))


class StatesError(TableError):
    """A table of aircraft states that cannot be used."""


class TracksError(TableError):
    """Recorded position reports that cannot be used."""


class StorageError(SkySepError):
    """A database URL, schema or write that cannot be used (names the URL, never its password)."""


class ServiceError(SkySepError):
    """A request or setting the service refuses; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class RecordError(SkySepError, ValueError):
    """The verifiable record refused its input: an entry that cannot be encoded
    canonically, a key file that is not an Ed25519 key, a bundle that cannot be
    written. A bundle that reads but does not verify is not an error:
    ``verify_bundle`` returns the first failure."""


class HotlineError(SkySepError, ValueError):
    """A hotline message that does not validate, or a language without a catalogue."""


class OperationsError(SkySepError, ValueError):
    """An operation (4D volumes) that cannot be used, or a change to one that cannot be made.

    ``problems`` holds one message per problem (all of them, not just the first);
    ``str(error)`` lists them, each prefixed with ``source``.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


class SimulateError(SkySepError, ValueError):
    """A traffic scenario (file, text or option) the simulator cannot use."""


class FeedError(SimulateError):
    """Reports the service refused (HTTP 4xx) or that could not be sent (``simulate --to``)."""
