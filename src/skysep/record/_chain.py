"""Entries of the append-only log and the hash chain that links them.

An entry's hash covers its position (``seq``), its time, kind and parties, the
previous entry's hash, and a digest of its payload with a random salt. The
payload is hashed apart so that an entry can be *redacted* (payload and salt
left out, everything else kept) and the chain still checked link by link: an
evidence bundle shows in full only the entries that concern the incident's
parties. See ``docs/record.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from skysep.errors import RecordError
from skysep.record._canonical import canonical_json

__all__ = [
    "GENESIS_HASH",
    "KINDS",
    "Entry",
    "Failure",
    "VerificationResult",
    "append",
    "entry_hash",
    "format_time",
    "payload_hash",
]

#: ``prev_hash`` of the entry with ``seq`` 0.
GENESIS_HASH: Final = "0" * 64

#: Kinds the service appends (the set is open: any name matching
#: ``[a-z][a-z0-9_]*``, at most 64 characters, is accepted).
KINDS: Final[dict[str, str]] = {
    "alert": "a conflict alert (level caution or above) between two parties' aircraft",
    "incident": "an incident (a loss of separation), opened or updated; payload has 'id'",
    "message": "a hotline message (free text or structured) on a thread",
    "ack": "an acknowledgement (or an unable) of a hotline message",
    "escalation": "a message not acknowledged by its deadline, re-sent and flagged",
    "notice": "a notice of operations (an operation's volume and window)",
    "agreement": "the agreement in force, when it is loaded or changed",
    "key": "a signing key put into or out of service",
}

_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SALT = re.compile(r"[0-9a-f]{32}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")

#: The fields of an entry's JSON form, in the order chain.jsonl writes them
#: (canonical encoding sorts them anyway). ``payload`` and ``salt`` are absent
#: from a redacted entry.
FIELDS: Final = ("seq", "time", "kind", "parties", "payload", "salt", "payload_hash", "prev_hash")


def format_time(time: datetime | str, what: str = "time") -> str:
    """A UTC time as the record writes it: ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``.

    A datetime must be timezone-aware and is written with microseconds; a
    string must already have that form (it is kept as given).
    """
    if isinstance(time, datetime):
        if time.tzinfo is None or time.utcoffset() is None:
            raise RecordError(f"{what} {time.isoformat()!r} has no timezone (give UTC)")
        return time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise RecordError(
            f"{what} {time!r} is not a UTC time of the form YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
        )
    try:
        _parse_time(time)
    except ValueError:
        raise RecordError(f"{what} {time!r} is not a valid date and time") from None
    return time


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload_hash(payload: Mapping[str, Any], salt: str) -> str:
    """SHA-256 (hex) of ``canonical_json({"payload": payload, "salt": salt})``."""
    return _sha256(canonical_json({"payload": payload, "salt": salt}))


def entry_hash(
    seq: int, time: str, kind: str, parties: Sequence[str], payload_digest: str, prev_hash: str
) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's hashed fields."""
    return _sha256(
        canonical_json(
            {
                "seq": seq,
                "time": time,
                "kind": kind,
                "parties": list(parties),
                "payload_hash": payload_digest,
                "prev_hash": prev_hash,
            }
        )
    )


@dataclass(frozen=True)
class Entry:
    """One entry of the log.

    ``payload`` and ``salt`` are None in a redacted entry; ``payload_hash``
    is always there. Build entries with :func:`append`; read them back with
    :meth:`from_json`, which checks their form but not their hashes (that is
    :func:`~skysep.record.verify_entries`'s job).
    """

    seq: int
    time: str
    kind: str
    parties: tuple[str, ...]
    payload: Mapping[str, Any] | None
    salt: str | None
    payload_hash: str
    prev_hash: str
    hash: str

    @property
    def redacted(self) -> bool:
        """True when payload and salt are left out."""
        return self.payload is None

    def concerns(self, party: str) -> bool:
        """True when ``party`` is one of the entry's parties."""
        return party in self.parties

    def redact(self) -> Entry:
        """The same entry without its payload and salt (its hash unchanged)."""
        return Entry(
            self.seq,
            self.time,
            self.kind,
            self.parties,
            None,
            None,
            self.payload_hash,
            self.prev_hash,
            self.hash,
        )

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (one line of chain.jsonl)."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "parties": list(self.parties),
        }
        if self.payload is not None:
            out["payload"] = self.payload
            out["salt"] = self.salt
        out["payload_hash"] = self.payload_hash
        out["prev_hash"] = self.prev_hash
        out["hash"] = self.hash
        return out

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        """Read an entry's JSON object, checking the type and form of every field."""
        if not isinstance(data, Mapping):
            raise RecordError(f"an entry must be a JSON object, got {type(data).__name__}")
        redacted = "payload" not in data and "salt" not in data
        expected = set(FIELDS) | {"hash"}
        if redacted:
            expected -= {"payload", "salt"}
        missing = sorted(expected - set(data))
        extra = sorted(set(data) - expected)
        if missing or extra:
            raise RecordError(
                "entry fields "
                + ", ".join(
                    p
                    for p in (
                        f"missing: {', '.join(missing)}" if missing else "",
                        f"unexpected: {', '.join(extra)}" if extra else "",
                    )
                    if p
                )
            )
        seq = data["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise RecordError(f"seq {seq!r} is not an integer >= 0")
        time = format_time(data["time"])
        kind = data["kind"]
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise RecordError(f"kind {kind!r} is not a name matching [a-z][a-z0-9_]* (64 max)")
        parties = _parties(data["parties"], normalise=False)
        for name in ("payload_hash", "prev_hash", "hash"):
            if not isinstance(data[name], str) or not _HEX64.fullmatch(data[name]):
                raise RecordError(f"{name} {data[name]!r} is not 64 lowercase hex digits")
        payload: Mapping[str, Any] | None = None
        salt: str | None = None
        if not redacted:
            payload = data["payload"]
            if not isinstance(payload, Mapping):
                raise RecordError(f"payload must be a JSON object, got {type(payload).__name__}")
            salt = _salt(data["salt"])
        return cls(
            seq,
            time,
            kind,
            parties,
            payload,
            salt,
            data["payload_hash"],
            data["prev_hash"],
            data["hash"],
        )


def _salt(salt: Any) -> str:
    if not isinstance(salt, str) or not _SALT.fullmatch(salt):
        raise RecordError(f"salt {salt!r} is not 32 lowercase hex digits")
    return salt


def _parties(parties: Any, *, normalise: bool) -> tuple[str, ...]:
    if isinstance(parties, str) or not isinstance(parties, Iterable):
        raise RecordError(f"parties must be a list of party ids, got {parties!r}")
    items = list(parties)
    for party in items:
        if not isinstance(party, str) or not party:
            raise RecordError(f"party id {party!r} is not a non-empty string")
    ordered = sorted(set(items))
    if not normalise and items != ordered:
        raise RecordError(f"parties {items!r} are not sorted and unique")
    return tuple(ordered)


def append(
    prev: Entry | None,
    time: datetime | str,
    kind: str,
    parties: Iterable[str],
    payload: Mapping[str, Any],
    *,
    salt: str | None = None,
) -> Entry:
    """The entry that follows ``prev`` (``None`` for the first entry, ``seq`` 0).

    ``time`` must not be earlier than ``prev.time`` (give ``max(now,
    prev.time)`` if the clock may step back). ``parties`` are sorted and
    de-duplicated. ``payload`` must be a JSON object in the canonical
    encoding's domain (no NaN, no integer beyond 2**53 - 1...); it is stored
    as it reads back from JSON (``1.0`` becomes ``1``). ``salt`` (32 hex
    digits) is drawn from :mod:`secrets` unless given; it keeps a redacted
    payload from being guessed from its digest.
    """
    stamp = format_time(time)
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise RecordError(
            f"kind {kind!r} is not a name matching [a-z][a-z0-9_]* (64 max); "
            f"the usual ones are {', '.join(KINDS)}"
        )
    names = _parties(parties, normalise=True)
    if not isinstance(payload, Mapping):
        raise RecordError(f"payload must be a JSON object (a mapping), got {payload!r}")
    stored: dict[str, Any] = json.loads(canonical_json(payload))
    chosen = _salt(salt) if salt is not None else secrets.token_hex(16)
    if prev is None:
        seq, prev_hash = 0, GENESIS_HASH
    else:
        if _parse_time(stamp) < _parse_time(prev.time):
            raise RecordError(f"time {stamp} is earlier than the previous entry's {prev.time}")
        seq, prev_hash = prev.seq + 1, prev.hash
    digest = payload_hash(stored, chosen)
    return Entry(
        seq,
        stamp,
        kind,
        names,
        stored,
        chosen,
        digest,
        prev_hash,
        entry_hash(seq, stamp, kind, names, digest, prev_hash),
    )


@dataclass(frozen=True)
class Failure:
    """The first thing that does not verify.

    ``reason`` is one of :data:`REASONS`; ``seq`` the entry it concerns (the
    first entry whose integrity cannot be shown), when it concerns one;
    ``index`` the 0-based position in the list of entries (line of
    chain.jsonl) or of heads/receipts; ``file`` the bundle member.
    """

    reason: str
    detail: str
    seq: int | None = None
    index: int | None = None
    file: str | None = None
    #: What was being checked: "entries", "heads", "receipts" (verify_entries),
    #: or "bundle", "contents", "files", "manifest" (verify_bundle).
    part: str = "entries"

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.seq is not None:
            where.append(f"entry {self.seq}")
        if self.index is not None:
            where.append(f"position {self.index}")
        return f"{', '.join(where) or 'bundle'}: {self.reason}: {self.detail}"


#: Reasons a verification fails, and what each means.
REASONS: Final[dict[str, str]] = {
    "unreadable": "the bundle is not a zip file, or a member cannot be read",
    "bad_manifest": "manifest.json is missing or not of the expected form",
    "malformed": "an entry, head or receipt is not of the expected form",
    "missing": "an entry is missing (a gap in seq, or the run is shorter than stated)",
    "reordered": "entries are out of order",
    "duplicate": "two entries claim the same seq (an entry was inserted or duplicated)",
    "unexpected": "an entry outside the stated run",
    "payload_mismatch": "the payload (with its salt) does not hash to payload_hash",
    "hash_mismatch": "the entry's fields do not hash to its hash",
    "broken_link": "prev_hash is not the previous entry's hash",
    "time_backwards": "the entry's time is earlier than the previous entry's",
    "key_mismatch": "signed with another key than the one given",
    "bad_signature": "an Ed25519 signature does not verify",
    "head_mismatch": "a signed head or receipt names a hash the run does not have",
    "unsigned": "entries after the last signed head (nothing vouches for them)",
    "content_mismatch": "incident.json, alerts.json or messages.json differs from the chain",
    "file_missing": "a file the manifest lists is not in the bundle",
    "file_unexpected": "a file in the bundle that the manifest does not list",
    "file_hash_mismatch": "a file's SHA-256 differs from the manifest's",
}


@dataclass(frozen=True)
class VerificationResult:
    """What :func:`verify_entries` or :func:`verify_bundle` found.

    ``failure`` is the first failure (None when everything verifies);
    the counts say how much was checked before it.
    """

    failure: Failure | None
    entries: int = 0
    redacted: int = 0
    heads: int = 0
    receipts: int = 0
    key_fingerprint: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return self.failure is None

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        """One line: OK with what was checked, or the first failure."""
        if self.failure is not None:
            return f"FAILED: {self.failure}"
        span = f"entries {self.first_seq}..{self.last_seq}" if self.entries else "no entries"
        return (
            f"OK: {self.entries} entries ({span}, {self.redacted} redacted), "
            f"{self.heads} signed head(s), {self.receipts} receipt(s)"
            + (f", key {self.key_fingerprint}" if self.key_fingerprint else "")
        )


def check_entry(entry: Entry) -> tuple[str, str] | None:
    """(reason, detail) when an entry's own hashes do not match its fields."""
    if entry.payload is not None:
        assert entry.salt is not None
        try:
            digest = payload_hash(entry.payload, entry.salt)
        except RecordError as exc:
            return "malformed", str(exc)
        if digest != entry.payload_hash:
            return (
                "payload_mismatch",
                f"payload and salt hash to {digest}, the entry says {entry.payload_hash}",
            )
    computed = entry_hash(
        entry.seq, entry.time, entry.kind, entry.parties, entry.payload_hash, entry.prev_hash
    )
    if computed != entry.hash:
        return "hash_mismatch", f"fields hash to {computed}, the entry says {entry.hash}"
    return None


def walk(
    raw: Sequence[Entry | Mapping[str, Any]],
    *,
    first_seq: int | None,
    last_seq: int | None,
) -> tuple[list[Entry], Failure | None]:
    """Check entries one after another; the entries read and the first failure."""
    entries: list[Entry] = []
    parsed: list[Entry | None] = []
    problems: dict[int, str] = {}
    for index, item in enumerate(raw):
        try:
            parsed.append(item if isinstance(item, Entry) else Entry.from_json(item))
        except RecordError as exc:
            parsed.append(None)
            problems[index] = str(exc)
    # Where the run starts: as stated; at 0 when it starts from the genesis
    # link; else at its lowest seq.
    expected = first_seq
    if expected is None:
        if not parsed or (parsed[0] is not None and parsed[0].prev_hash == GENESIS_HASH):
            expected = 0
        else:
            expected = min((e.seq for e in parsed if e is not None), default=0)
    link = GENESIS_HASH if expected == 0 else None
    previous_time: datetime | None = None
    seen: set[int] = set()
    for index, entry in enumerate(parsed):
        if entry is None:
            return entries, Failure("malformed", problems[index], seq=expected, index=index)
        if last_seq is not None and entry.seq > last_seq and expected > last_seq:
            return entries, Failure(
                "unexpected",
                f"entry {entry.seq} comes after the run's last entry {last_seq}",
                seq=entry.seq,
                index=index,
            )
        if entry.seq != expected:
            return entries, _out_of_place(entry, expected, index, seen, parsed[index + 1 :])
        problem = check_entry(entry)
        if problem is not None:
            return entries, Failure(problem[0], problem[1], seq=entry.seq, index=index)
        if link is not None and entry.prev_hash != link:
            return entries, Failure(
                "broken_link",
                f"prev_hash {entry.prev_hash} is not the previous entry's hash {link}",
                seq=entry.seq,
                index=index,
            )
        time = _parse_time(entry.time)
        if previous_time is not None and time < previous_time:
            return entries, Failure(
                "time_backwards",
                f"time {entry.time} is earlier than the previous entry's {entries[-1].time}",
                seq=entry.seq,
                index=index,
            )
        entries.append(entry)
        seen.add(entry.seq)
        previous_time = time
        link = entry.hash
        expected += 1
    if last_seq is not None and expected <= last_seq:
        return entries, Failure(
            "missing",
            f"the run ends before entry {expected} (it should end at {last_seq})",
            seq=expected,
            index=len(parsed),
        )
    return entries, None


def _out_of_place(
    entry: Entry,
    expected: int,
    index: int,
    seen: set[int],
    rest: Sequence[Entry | None],
) -> Failure:
    later = {e.seq for e in rest if e is not None}
    if entry.seq in seen:
        return Failure(
            "duplicate",
            f"entry {entry.seq} appears again at position {index} "
            f"(entry {expected} expected): an entry was inserted or repeated",
            seq=entry.seq,
            index=index,
        )
    if expected in later:
        return Failure(
            "reordered",
            f"entry {entry.seq} at position {index}, where entry {expected} belongs",
            seq=expected,
            index=index,
        )
    if entry.seq > expected:
        return Failure(
            "missing",
            f"entry {expected} is missing (entry {entry.seq} at position {index})",
            seq=expected,
            index=index,
        )
    return Failure(
        "reordered",
        f"entry {entry.seq} at position {index}, where entry {expected} belongs",
        seq=expected,
        index=index,
    )
