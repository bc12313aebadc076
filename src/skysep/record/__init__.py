"""The verifiable record: an append-only log whose entries are hash-chained,
whose head is signed with the server's Ed25519 key, with per-party receipts
and offline-verifiable evidence bundles. Pure code: no database, no clock
(times are arguments), no network. See ``docs/record.md``.
"""

from skysep.errors import RecordError
from skysep.record._bundle import (
    ALERT_KINDS,
    BUNDLE_FILES,
    BUNDLE_FORMAT,
    MESSAGE_KINDS,
    TRACK_COLUMNS,
    Bundle,
    bundle_contents,
    read_bundle,
    verify_bundle,
    write_bundle,
)
from skysep.record._canonical import canonical_json
from skysep.record._chain import (
    GENESIS_HASH,
    KINDS,
    REASONS,
    Entry,
    Failure,
    VerificationResult,
    append,
    entry_hash,
    format_time,
    payload_hash,
)
from skysep.record._keys import (
    key_fingerprint,
    load_or_create_key,
    load_public_key,
    public_key_hex,
    public_key_pem,
)
from skysep.record._signing import (
    HEAD_TYPE,
    RECEIPT_TYPE,
    Receipt,
    SignedHead,
    make_receipt,
    sign_head,
    sign_statement,
    signature_valid,
)
from skysep.record._verify import verify_entries

__all__ = [
    "ALERT_KINDS",
    "BUNDLE_FILES",
    "BUNDLE_FORMAT",
    "GENESIS_HASH",
    "HEAD_TYPE",
    "KINDS",
    "MESSAGE_KINDS",
    "REASONS",
    "RECEIPT_TYPE",
    "TRACK_COLUMNS",
    "Bundle",
    "Entry",
    "Failure",
    "Receipt",
    "RecordError",
    "SignedHead",
    "VerificationResult",
    "append",
    "bundle_contents",
    "canonical_json",
    "entry_hash",
    "format_time",
    "key_fingerprint",
    "load_or_create_key",
    "load_public_key",
    "make_receipt",
    "payload_hash",
    "public_key_hex",
    "public_key_pem",
    "read_bundle",
    "sign_head",
    "sign_statement",
    "signature_valid",
    "verify_bundle",
    "verify_entries",
    "write_bundle",
]
