"""Verification of a run of entries, its signed heads and its receipts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from skysep.errors import RecordError
from skysep.record._chain import Entry, Failure, VerificationResult, walk
from skysep.record._keys import key_fingerprint
from skysep.record._signing import Receipt, SignedHead, signature_valid

__all__ = ["verify_entries"]


def verify_entries(
    entries: Sequence[Entry | Mapping[str, Any]],
    *,
    public_key: Ed25519PublicKey | None = None,
    heads: Sequence[SignedHead | Mapping[str, Any]] = (),
    receipts: Sequence[Receipt | Mapping[str, Any]] = (),
    first_seq: int | None = None,
    last_seq: int | None = None,
) -> VerificationResult:
    """Check a contiguous run of entries, then its signed heads and receipts.

    Entries (objects or their JSON form) are checked in order: form, ``seq``
    (consecutive from ``first_seq``, or from the first entry's), payload
    digest, hash, link to the previous entry (to :data:`GENESIS_HASH` when the
    run starts at 0; a run starting later takes its first ``prev_hash`` as
    given), times never going back, and the run ending at ``last_seq`` when
    given. Then, with ``public_key``, every head and receipt: the key
    fingerprint, the signature, the hash it names against the run's; and the
    run's last entry must be covered by a signed head (heads sign the chain
    up to them). The first failure is returned; nothing is raised for a run
    that does not verify. Heads or receipts without ``public_key`` raise
    :class:`~skysep.errors.RecordError`.
    """
    checked, failure = walk(entries, first_seq=first_seq, last_seq=last_seq)
    fingerprint = key_fingerprint(public_key) if public_key is not None else None

    def result(
        failure: Failure | None, n_heads: int = 0, n_receipts: int = 0
    ) -> VerificationResult:
        return VerificationResult(
            failure=failure,
            entries=len(checked),
            redacted=sum(e.redacted for e in checked),
            heads=n_heads,
            receipts=n_receipts,
            key_fingerprint=fingerprint,
            first_seq=checked[0].seq if checked else None,
            last_seq=checked[-1].seq if checked else None,
        )

    if failure is not None:
        return result(failure)
    if public_key is None:
        if heads or receipts:
            raise RecordError("signed heads and receipts can only be checked with a public key")
        return result(None)
    assert fingerprint is not None
    by_seq = {e.seq: e for e in checked}
    span = f"{checked[0].seq}..{checked[-1].seq}" if checked else "(empty)"
    covered = -1
    for index, raw in enumerate(heads):
        try:
            head = raw if isinstance(raw, SignedHead) else SignedHead.from_json(raw)
        except RecordError as exc:
            return result(
                Failure("malformed", f"signed head: {exc}", index=index, part="heads"), index
            )
        problem = _signed(head.key, fingerprint, public_key, head.statement(), head.signature)
        if problem is None:
            entry = by_seq.get(head.seq)
            if entry is None:
                problem = (
                    "head_mismatch",
                    f"the head is entry {head.seq}, outside the run {span}",
                )
            elif entry.hash != head.hash:
                problem = (
                    "head_mismatch",
                    f"signed head says entry {head.seq} has hash {head.hash}, "
                    f"the run's has {entry.hash}",
                )
        if problem is not None:
            return result(
                Failure(problem[0], problem[1], seq=head.seq, index=index, part="heads"), index
            )
        covered = max(covered, head.seq)
    if checked and covered < checked[-1].seq:
        first_unsigned = max(covered + 1, checked[0].seq)
        return result(
            Failure(
                "unsigned",
                f"entries {first_unsigned}..{checked[-1].seq} come after the last signed "
                + (f"head (entry {covered})" if covered >= 0 else "head (there is none)"),
                seq=first_unsigned,
                index=first_unsigned - checked[0].seq,
                part="heads",
            ),
            len(heads),
        )
    for index, item in enumerate(receipts):
        try:
            receipt = item if isinstance(item, Receipt) else Receipt.from_json(item)
        except RecordError as exc:
            return result(
                Failure("malformed", f"receipt: {exc}", index=index, part="receipts"),
                len(heads),
                index,
            )
        problem = _signed(
            receipt.key, fingerprint, public_key, receipt.statement(), receipt.signature
        )
        if problem is None:
            problem = _receipt_against_run(receipt, by_seq, span)
        if problem is not None:
            return result(
                Failure(problem[0], problem[1], seq=receipt.seq, index=index, part="receipts"),
                len(heads),
                index,
            )
    return result(None, len(heads), len(receipts))


def _signed(
    key: str,
    fingerprint: str,
    public_key: Ed25519PublicKey,
    statement: Mapping[str, Any],
    signature: str,
) -> tuple[str, str] | None:
    if key != fingerprint:
        return "key_mismatch", f"signed by key {key}, the public key given is {fingerprint}"
    if not signature_valid(public_key, statement, signature):
        return "bad_signature", f"the signature does not verify with key {fingerprint}"
    return None


def _receipt_against_run(
    receipt: Receipt, by_seq: Mapping[int, Entry], span: str
) -> tuple[str, str] | None:
    entry = by_seq.get(receipt.seq)
    if entry is None:
        return "head_mismatch", f"the receipt is for entry {receipt.seq}, outside the run {span}"
    if entry.hash != receipt.hash:
        return (
            "head_mismatch",
            f"receipt says entry {receipt.seq} has hash {receipt.hash}, the run's has {entry.hash}",
        )
    if not entry.concerns(receipt.party):
        return (
            "head_mismatch",
            f"receipt for party {receipt.party!r}, which entry {receipt.seq} does not concern",
        )
    head = by_seq.get(receipt.head_seq)
    if head is not None and head.hash != receipt.head_hash:
        return (
            "head_mismatch",
            f"receipt says entry {receipt.head_seq} has hash {receipt.head_hash}, "
            f"the run's has {head.hash}",
        )
    return None
