"""The server's Ed25519 signing key: a PEM file, created once with mode 0600."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from skysep.errors import RecordError

__all__ = [
    "key_fingerprint",
    "load_or_create_key",
    "load_public_key",
    "public_key_hex",
    "public_key_pem",
]


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path`` (PKCS#8 PEM, unencrypted), created if absent.

    A new key is written to a temporary file opened with mode 0600 in the
    same directory, flushed to disk, then linked into place, so a reader
    never sees a partial file and two processes starting at once end up with
    the same key (the second one loads the first one's). An existing file
    that group or others can read is refused.
    """
    target = Path(path)
    if not target.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process got there first
                os.link(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    mode = target.stat().st_mode & 0o777
    if mode & 0o077:
        raise RecordError(
            f"{target}: the signing key is readable by others (mode {mode:04o}); chmod 600 {target}"
        )
    try:
        loaded = serialization.load_pem_private_key(target.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise RecordError(f"{target}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise RecordError(f"{target}: a {type(loaded).__name__}, not an Ed25519 key")
    return loaded


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as PEM text (SubjectPublicKeyInfo, what ``openssl pkey -pubout`` writes)."""
    return (
        _public(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key, hex (64 digits)."""
    raw = _public(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def key_fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 (hex) of the raw 32-byte public key."""
    return hashlib.sha256(bytes.fromhex(public_key_hex(key))).hexdigest()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text (SubjectPublicKeyInfo)."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise RecordError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise RecordError(f"a {type(key).__name__}, not an Ed25519 public key")
    return key
