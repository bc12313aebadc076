"""Signed statements: chain heads and per-party receipts (Ed25519).

Each statement is a JSON object with a ``type`` naming what it is (so a
signature over one kind of statement can never pass for another); the
signature is Ed25519 over the statement's canonical JSON. ``key`` in the
statement is the signing key's fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skysep.errors import RecordError
from skysep.record._canonical import canonical_json
from skysep.record._chain import _HEX64, Entry, format_time
from skysep.record._keys import key_fingerprint

__all__ = [
    "HEAD_TYPE",
    "RECEIPT_TYPE",
    "Receipt",
    "SignedHead",
    "make_receipt",
    "sign_head",
    "sign_statement",
    "signature_valid",
]

HEAD_TYPE: Final = "skysep.head/1"
RECEIPT_TYPE: Final = "skysep.receipt/1"


def sign_statement(key: Ed25519PrivateKey, statement: Mapping[str, Any]) -> str:
    """Ed25519 signature (hex, 128 digits) over a statement's canonical JSON."""
    return key.sign(canonical_json(statement)).hex()


def signature_valid(
    public_key: Ed25519PublicKey, statement: Mapping[str, Any], signature: str
) -> bool:
    """True when ``signature`` (hex) is the key's signature over the statement."""
    try:
        raw = bytes.fromhex(signature)
    except (ValueError, TypeError):
        return False
    if len(raw) != 64:
        return False
    try:
        public_key.verify(raw, canonical_json(statement))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class SignedHead:
    """The server's signature over the chain's head: "entry ``seq`` has hash ``hash``".

    Signing entry n's hash vouches for every entry up to n, since each hash
    covers the previous one. ``time`` is when it was signed (UTC).
    """

    seq: int
    hash: str
    time: str
    key: str
    signature: str

    def statement(self) -> dict[str, Any]:
        """The signed statement (its canonical JSON is what the signature covers)."""
        return {
            "type": HEAD_TYPE,
            "seq": self.seq,
            "hash": self.hash,
            "time": self.time,
            "key": self.key,
        }

    def to_json(self) -> dict[str, Any]:
        """The head as a JSON object: the statement and its signature."""
        return {**self.statement(), "signature": self.signature}

    @classmethod
    def from_json(cls, data: Any) -> SignedHead:
        """Read a head's JSON object, checking the form of every field."""
        fields = _fields(data, ("type", "seq", "hash", "time", "key", "signature"), HEAD_TYPE)
        return cls(
            _seq(fields["seq"], "seq"),
            _hex64(fields["hash"], "hash"),
            format_time(fields["time"]),
            _hex64(fields["key"], "key"),
            _signature(fields["signature"]),
        )


@dataclass(frozen=True)
class Receipt:
    """The server's signature, given to ``party``, over "entry ``seq`` has hash
    ``hash``, and is in the chain whose entry ``head_seq`` has hash
    ``head_hash``" (the head is the entry itself when the receipt is issued
    as the entry is appended).

    The party keeps the entry (it concerns it) and the receipt: later, any
    chain or bundle in which entry ``seq`` has another hash, or is missing,
    contradicts a statement the server signed.
    """

    party: str
    seq: int
    hash: str
    head_seq: int
    head_hash: str
    time: str
    key: str
    signature: str

    def statement(self) -> dict[str, Any]:
        """The signed statement (its canonical JSON is what the signature covers)."""
        return {
            "type": RECEIPT_TYPE,
            "party": self.party,
            "seq": self.seq,
            "hash": self.hash,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "time": self.time,
            "key": self.key,
        }

    def to_json(self) -> dict[str, Any]:
        """The receipt as a JSON object: the statement and its signature."""
        return {**self.statement(), "signature": self.signature}

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        """Read a receipt's JSON object, checking the form of every field."""
        names = ("type", "party", "seq", "hash", "head_seq", "head_hash", "time", "key")
        fields = _fields(data, (*names, "signature"), RECEIPT_TYPE)
        party = fields["party"]
        if not isinstance(party, str) or not party:
            raise RecordError(f"party {party!r} is not a non-empty string")
        return cls(
            party,
            _seq(fields["seq"], "seq"),
            _hex64(fields["hash"], "hash"),
            _seq(fields["head_seq"], "head_seq"),
            _hex64(fields["head_hash"], "head_hash"),
            format_time(fields["time"]),
            _hex64(fields["key"], "key"),
            _signature(fields["signature"]),
        )


def sign_head(
    key: Ed25519PrivateKey, entry: Entry, *, signed_at: datetime | str | None = None
) -> SignedHead:
    """Sign the chain head ``entry`` (``signed_at`` defaults to the entry's time)."""
    time = entry.time if signed_at is None else format_time(signed_at, "signed_at")
    head = SignedHead(entry.seq, entry.hash, time, key_fingerprint(key), "")
    return replace(head, signature=sign_statement(key, head.statement()))


def make_receipt(
    key: Ed25519PrivateKey,
    entry: Entry,
    party: str,
    *,
    head: Entry | None = None,
    signed_at: datetime | str | None = None,
) -> Receipt:
    """A receipt for ``party`` over ``entry``, which must concern it.

    ``head`` is the chain head the entry is part of (default: the entry
    itself); ``signed_at`` defaults to the head's time.
    """
    if not entry.concerns(party):
        raise RecordError(
            f"entry {entry.seq} does not concern party {party!r} "
            f"(its parties: {', '.join(entry.parties) or 'none'})"
        )
    top = entry if head is None else head
    if top.seq < entry.seq:
        raise RecordError(f"head {top.seq} comes before entry {entry.seq}")
    time = top.time if signed_at is None else format_time(signed_at, "signed_at")
    unsigned = Receipt(
        party, entry.seq, entry.hash, top.seq, top.hash, time, key_fingerprint(key), ""
    )
    return replace(unsigned, signature=sign_statement(key, unsigned.statement()))


def _fields(data: Any, names: tuple[str, ...], kind: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}")
    missing = [n for n in names if n not in data]
    extra = sorted(set(data) - set(names))
    if missing or extra:
        raise RecordError(
            f"fields missing: {', '.join(missing) or 'none'}; "
            f"unexpected: {', '.join(extra) or 'none'}"
        )
    if data["type"] != kind:
        raise RecordError(f"type {data['type']!r} is not {kind!r}")
    return data


def _seq(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RecordError(f"{name} {value!r} is not an integer >= 0")
    return value


def _hex64(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise RecordError(f"{name} {value!r} is not 64 lowercase hex digits")
    return value


def _signature(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 128:
        raise RecordError(f"signature {value!r} is not 128 hex digits")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise RecordError(f"signature {value!r} is not 128 hex digits") from None
    return value
