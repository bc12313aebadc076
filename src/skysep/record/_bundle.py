"""Evidence bundles: one incident, its tracks, alerts and messages, and the
chain entries and signatures that vouch for them, in one zip file that
verifies offline (see ``docs/record.md``, "Evidence bundles")."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skysep.errors import RecordError
from skysep.record._canonical import canonical_json
from skysep.record._chain import Entry, Failure, VerificationResult, format_time
from skysep.record._keys import key_fingerprint, load_public_key, public_key_pem
from skysep.record._signing import Receipt, SignedHead, sign_statement, signature_valid
from skysep.record._verify import verify_entries

__all__ = [
    "ALERT_KINDS",
    "BUNDLE_FILES",
    "BUNDLE_FORMAT",
    "MESSAGE_KINDS",
    "TRACK_COLUMNS",
    "Bundle",
    "bundle_contents",
    "read_bundle",
    "verify_bundle",
    "write_bundle",
]

#: ``type`` of manifest.json (and of the statement manifest.sig signs).
BUNDLE_FORMAT: Final = "skysep.evidence/1"
#: The files the manifest lists, each with its SHA-256; the zip also holds
#: manifest.json and manifest.sig, and nothing else.
BUNDLE_FILES: Final = (
    "incident.json",
    "tracks.csv",
    "alerts.json",
    "messages.json",
    "chain.jsonl",
    "heads.json",
    "receipts.json",
    "public_key.pem",
)
#: Columns of tracks.csv: SkySep's track-file columns (``skysep replay`` reads it).
TRACK_COLUMNS: Final = (
    "time",
    "aircraft",
    "party",
    "lat",
    "lon",
    "alt_m",
    "gs_mps",
    "track_deg",
    "vs_mps",
)
_REQUIRED_TRACK_COLUMNS: Final = ("time", "aircraft", "lat", "lon", "alt_m")
#: Entry kinds listed in alerts.json and in messages.json.
ALERT_KINDS: Final = ("alert",)
MESSAGE_KINDS: Final = ("message", "ack", "escalation")
_PARTS: Final = {"entries": "chain.jsonl", "heads": "heads.json", "receipts": "receipts.json"}
#: Zip member timestamps are fixed, so that one bundle's bytes depend on its content only.
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)


def _item(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "time": entry.time,
        "kind": entry.kind,
        "parties": list(entry.parties),
        "payload": entry.payload,
    }


def bundle_contents(
    entries: Sequence[Entry], incident_id: str
) -> tuple[Entry, list[dict[str, Any]], list[dict[str, Any]]]:
    """The incident entry, alerts.json and messages.json as a run of entries gives them.

    The incident is the last unredacted ``incident`` entry whose payload's
    ``id`` (a string, or an integer compared as its decimal text) is
    ``incident_id``; alerts and messages are the unredacted entries of
    :data:`ALERT_KINDS` and :data:`MESSAGE_KINDS`, in chain order, each as
    ``{"seq", "time", "kind", "parties", "payload"}``.
    """
    incident = None
    for entry in entries:
        if entry.kind == "incident" and entry.payload is not None:
            ident = entry.payload.get("id")
            if (
                isinstance(ident, str | int)
                and not isinstance(ident, bool)
                and str(ident) == incident_id
            ):
                incident = entry
    if incident is None:
        raise RecordError(f"no unredacted 'incident' entry with id {incident_id!r} in the run")
    alerts = [_item(e) for e in entries if e.payload is not None and e.kind in ALERT_KINDS]
    messages = [_item(e) for e in entries if e.payload is not None and e.kind in MESSAGE_KINDS]
    return incident, alerts, messages


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _cell(value: Any, column: str, row: int) -> str:
    if value is None:
        return ""
    if column == "time":
        if isinstance(value, datetime):
            return format_time(value, f"tracks row {row} time")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return format_time(datetime.fromtimestamp(float(value), UTC))
        return format_time(str(value), f"tracks row {row} time")
    if column in ("aircraft", "party"):
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"tracks row {row}: {column} {value!r} is not a number")
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def _tracks_csv(tracks: Iterable[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRACK_COLUMNS)
    for row, report in enumerate(tracks):
        missing = [c for c in _REQUIRED_TRACK_COLUMNS if report.get(c) is None]
        if missing:
            raise RecordError(f"tracks row {row}: no {', '.join(missing)}")
        extra = sorted(set(report) - set(TRACK_COLUMNS))
        if extra:
            raise RecordError(
                f"tracks row {row}: unknown column(s) {', '.join(extra)}; "
                f"the columns are {', '.join(TRACK_COLUMNS)}"
            )
        writer.writerow([_cell(report.get(c), c, row) for c in TRACK_COLUMNS])
    return out.getvalue().encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(
    path: str | Path,
    *,
    incident_id: str,
    entries: Sequence[Entry],
    heads: Sequence[SignedHead],
    receipts: Sequence[Receipt],
    tracks: Iterable[Mapping[str, Any]],
    key: Ed25519PrivateKey,
    reveal: Callable[[Entry], bool] | None = None,
) -> VerificationResult:
    """Write the evidence bundle of one incident to ``path`` (a zip), atomically.

    ``entries`` is a contiguous run of the chain, from the first entry related
    to the incident up to an entry covered by one of ``heads``. Entries for
    which ``reveal`` is false are written redacted (payload and salt left
    out); by default an entry is revealed when its parties are a non-empty
    subset of the incident entry's parties. Heads and receipts outside the
    run, and receipts of other parties, are left out. ``tracks`` are position
    reports, mappings with the keys of :data:`TRACK_COLUMNS` (``time`` as a
    UTC datetime, ISO text or epoch seconds; ``gs_mps``, ``track_deg``,
    ``vs_mps`` and ``party`` may be missing). ``key`` signs the manifest.

    The bundle is verified before it is moved into place; one that would not
    verify raises :class:`~skysep.errors.RecordError` with the failure.
    Returns the verification result.
    """
    if not entries:
        raise RecordError("an evidence bundle needs at least one chain entry")
    incident, _, _ = bundle_contents(entries, incident_id)
    parties = set(incident.parties)

    def default_reveal(entry: Entry) -> bool:
        return bool(entry.parties) and set(entry.parties) <= parties

    shown = reveal or default_reveal
    run = [e if (not e.redacted and shown(e)) else e.redact() for e in entries]
    first, last = run[0].seq, run[-1].seq
    kept_heads = [h for h in heads if first <= h.seq <= last]
    kept_receipts = [r for r in receipts if first <= r.seq <= last and r.party in parties]
    _, alerts, messages = bundle_contents(run, incident_id)
    fingerprint = key_fingerprint(key)
    files = {
        "incident.json": _json_bytes(incident.payload),
        "tracks.csv": _tracks_csv(tracks),
        "alerts.json": _json_bytes(alerts),
        "messages.json": _json_bytes(messages),
        "chain.jsonl": b"".join(canonical_json(e.to_json()) + b"\n" for e in run),
        "heads.json": _json_bytes([h.to_json() for h in kept_heads]),
        "receipts.json": _json_bytes([r.to_json() for r in kept_receipts]),
        "public_key.pem": public_key_pem(key).encode("ascii"),
    }
    manifest = {
        "type": BUNDLE_FORMAT,
        "incident_id": incident_id,
        "first_seq": first,
        "last_seq": last,
        "key": fingerprint,
        "files": {
            name: {"sha256": _sha256(data), "bytes": len(data)} for name, data in files.items()
        },
    }
    members = {
        "manifest.json": _json_bytes(manifest),
        "manifest.sig": (sign_statement(key, manifest) + "\n").encode("ascii"),
        **files,
    }
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        result = verify_bundle(tmp)
        if result.failure is not None:
            raise RecordError(f"the bundle would not verify: {result.failure}")
        tmp.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return result


@dataclass(frozen=True)
class Bundle:
    """An evidence bundle's content, as read (not verified: see :func:`verify_bundle`)."""

    manifest: dict[str, Any]
    incident: dict[str, Any]
    alerts: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    entries: list[Entry]
    heads: list[SignedHead]
    receipts: list[Receipt]
    public_key_pem: str
    tracks_csv: str


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _load_json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)


class _FailedError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise _FailedError(
            Failure("file_missing", f"the bundle has no {name}", file=name, part="bundle")
        ) from None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise _FailedError(Failure("unreadable", str(exc), file=name, part="bundle")) from None


def _parsed(archive: zipfile.ZipFile, name: str, kind: type) -> Any:
    try:
        value = _load_json(_member(archive, name))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _FailedError(
            Failure("malformed", f"not JSON: {exc}", file=name, part="bundle")
        ) from None
    if not isinstance(value, kind):
        raise _FailedError(
            Failure(
                "malformed",
                f"expected a JSON {'list' if kind is list else 'object'}",
                file=name,
                part="bundle",
            )
        )
    return value


def _manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = _parsed(archive, "manifest.json", dict)
    except _FailedError as exc:
        raise _FailedError(replace(exc.failure, reason="bad_manifest", part="manifest")) from None
    problems = []
    if manifest.get("type") != BUNDLE_FORMAT:
        problems.append(f"type {manifest.get('type')!r} is not {BUNDLE_FORMAT!r}")
    if not isinstance(manifest.get("incident_id"), str):
        problems.append(f"incident_id {manifest.get('incident_id')!r} is not a string")
    for name in ("first_seq", "last_seq"):
        value = manifest.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(f"{name} {value!r} is not an integer >= 0")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()
    ):
        problems.append("files is not an object of {name: {sha256, bytes}}")
    if not isinstance(manifest.get("key"), str):
        problems.append(f"key {manifest.get('key')!r} is not a fingerprint")
    if problems:
        raise _FailedError(
            Failure("bad_manifest", "; ".join(problems), file="manifest.json", part="manifest")
        )
    return manifest


def _entries(archive: zipfile.ZipFile) -> list[Any]:
    data = _member(archive, "chain.jsonl")
    raw: list[Any] = []
    for index, line in enumerate(data.split(b"\n")):
        if not line and index == len(data.split(b"\n")) - 1:
            break
        try:
            raw.append(_load_json(line))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _FailedError(
                Failure(
                    "malformed",
                    f"line {index + 1} is not JSON: {exc}",
                    index=index,
                    file="chain.jsonl",
                )
            ) from None
    return raw


def read_bundle(path: str | Path) -> Bundle:
    """Read an evidence bundle's files (raises :class:`~skysep.errors.RecordError`
    when one cannot be read). Does not verify it: see :func:`verify_bundle`."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _manifest(archive)
            raw = _entries(archive)
            try:
                entries = [Entry.from_json(item) for item in raw]
                heads = [SignedHead.from_json(h) for h in _parsed(archive, "heads.json", list)]
                receipts = [Receipt.from_json(r) for r in _parsed(archive, "receipts.json", list)]
            except RecordError as exc:
                raise RecordError(f"{path}: {exc}") from None
            return Bundle(
                manifest=manifest,
                incident=_parsed(archive, "incident.json", dict),
                alerts=_parsed(archive, "alerts.json", list),
                messages=_parsed(archive, "messages.json", list),
                entries=entries,
                heads=heads,
                receipts=receipts,
                public_key_pem=_member(archive, "public_key.pem").decode("ascii", "replace"),
                tracks_csv=_member(archive, "tracks.csv").decode("utf-8", "replace"),
            )
    except (OSError, zipfile.BadZipFile) as exc:
        raise RecordError(f"{path}: not a readable zip file ({exc})") from None
    except _FailedError as exc:
        raise RecordError(f"{path}: {exc.failure}") from None


def verify_bundle(path: str | Path, *, fingerprint: str | None = None) -> VerificationResult:
    """Verify an evidence bundle offline; the result names the first failure.

    In order: the manifest's form; the public key (and that its fingerprint
    is ``fingerprint``, when given: pin the server's published key, or a
    forger's bundle signed with the forger's own key would verify); every
    chain entry (form, seq, payload digest, hash, link, time) within the
    manifest's ``first_seq..last_seq``; every signed head and that the last
    entry is covered by one; every receipt; incident.json, alerts.json and
    messages.json against the chain's entries; every file's SHA-256 against
    the manifest, and no file missing or extra; the manifest's signature.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return _verify(archive, fingerprint)
    except (OSError, zipfile.BadZipFile) as exc:
        return VerificationResult(
            Failure("unreadable", f"not a readable zip file ({exc})", part="bundle")
        )


def _verify(archive: zipfile.ZipFile, fingerprint: str | None) -> VerificationResult:
    checked: VerificationResult | None = None
    try:
        names = archive.namelist()
        for name in sorted({n for n in names if names.count(n) > 1}):
            raise _FailedError(
                Failure("file_unexpected", "two members of that name", file=name, part="bundle")
            )
        manifest = _manifest(archive)
        try:
            public_key = load_public_key(_member(archive, "public_key.pem"))
        except RecordError as exc:
            raise _FailedError(
                Failure("malformed", str(exc), file="public_key.pem", part="bundle")
            ) from None
        found = key_fingerprint(public_key)
        if fingerprint is not None and found != fingerprint.lower():
            raise _FailedError(
                Failure(
                    "key_mismatch",
                    f"the bundle's key is {found}, the trusted key is {fingerprint}",
                    file="public_key.pem",
                    part="bundle",
                )
            )
        raw = _entries(archive)
        heads = _parsed(archive, "heads.json", list)
        receipts = _parsed(archive, "receipts.json", list)
        checked = verify_entries(
            raw,
            public_key=public_key,
            heads=heads,
            receipts=receipts,
            first_seq=manifest["first_seq"],
            last_seq=manifest["last_seq"],
        )
        if checked.failure is not None:
            raise _FailedError(replace(checked.failure, file=_PARTS[checked.failure.part]))
        entries = [Entry.from_json(item) for item in raw]
        _check_contents(archive, entries, manifest["incident_id"])
        _check_files(archive, manifest)
        signature = _member(archive, "manifest.sig").decode("ascii", "replace").strip()
        if manifest["key"] != found:
            raise _FailedError(
                Failure(
                    "key_mismatch",
                    f"manifest signed by key {manifest['key']}, the bundle's key is {found}",
                    file="manifest.sig",
                    part="manifest",
                )
            )
        if not signature_valid(public_key, manifest, signature):
            raise _FailedError(
                Failure(
                    "bad_signature",
                    "the manifest's signature does not verify",
                    file="manifest.sig",
                    part="manifest",
                )
            )
    except _FailedError as exc:
        if checked is None:
            return VerificationResult(exc.failure)
        return replace(checked, failure=exc.failure)
    return checked


def _check_contents(archive: zipfile.ZipFile, entries: list[Entry], incident_id: str) -> None:
    try:
        incident, alerts, messages = bundle_contents(entries, incident_id)
    except RecordError as exc:
        raise _FailedError(
            Failure("content_mismatch", str(exc), file="incident.json", part="contents")
        ) from None
    found_incident = _parsed(archive, "incident.json", dict)
    if not _same(found_incident, incident.payload):
        raise _FailedError(
            Failure(
                "content_mismatch",
                f"incident.json differs from the payload of entry {incident.seq}",
                seq=incident.seq,
                file="incident.json",
                part="contents",
            )
        )
    for name, expected in (("alerts.json", alerts), ("messages.json", messages)):
        found = _parsed(archive, name, list)
        for index in range(max(len(found), len(expected))):
            if (
                index >= len(found)
                or index >= len(expected)
                or not _same(found[index], expected[index])
            ):
                seq = expected[index]["seq"] if index < len(expected) else None
                if seq is None and isinstance(found[index], dict):
                    seq = found[index].get("seq")
                raise _FailedError(
                    Failure(
                        "content_mismatch",
                        f"item {index} differs from the chain's "
                        + (f"entry {seq}" if isinstance(seq, int) else "entries"),
                        seq=seq if isinstance(seq, int) else None,
                        index=index,
                        file=name,
                        part="contents",
                    )
                )


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except RecordError:
        return False


def _check_files(archive: zipfile.ZipFile, manifest: Mapping[str, Any]) -> None:
    listed: dict[str, Any] = manifest["files"]
    for name in BUNDLE_FILES:
        if name not in listed:
            raise _FailedError(
                Failure(
                    "bad_manifest",
                    f"the manifest does not list {name}",
                    file="manifest.json",
                    part="files",
                )
            )
    present = set(archive.namelist())
    for name in sorted(present - set(listed) - {"manifest.json", "manifest.sig"}):
        raise _FailedError(
            Failure("file_unexpected", "not listed in the manifest", file=name, part="files")
        )
    for name, facts in listed.items():
        data = _member(archive, name)
        digest = _sha256(data)
        if digest != facts["sha256"]:
            raise _FailedError(
                Failure(
                    "file_hash_mismatch",
                    f"SHA-256 {digest}, the manifest says {facts['sha256']}",
                    file=name,
                    part="files",
                )
            )
