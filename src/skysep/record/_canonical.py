"""Canonical JSON: one byte string for one value, so that hashes and signatures
can be recomputed by anyone (see ``docs/record.md``, "Canonical encoding").

The encoding is RFC 8785 (JSON Canonicalization Scheme) restricted to values
that survive a round trip through any JSON parser unchanged:

* UTF-8, no byte order mark, no whitespace between tokens;
* objects: string keys only, sorted by their UTF-16 code units (RFC 8785
  section 3.2.3), no duplicate keys;
* strings: ``"``, ``\\`` and the control characters below U+0020 escaped
  (``\\b \\f \\n \\r \\t``, the others as ``\\u00xx``, lowercase hex); every
  other character as itself; lone surrogates refused;
* numbers: magnitude below 2**53 (integers up to 2**53 - 1), so that every
  number survives a parser that reads numbers as doubles, and one that reads
  integral numbers as integers; NaN and infinities refused;
* integers: decimal;
* floats: ECMAScript's ``Number.prototype.toString`` (the shortest digits that
  read back as the same double; ``1.0`` -> ``1``, ``1e-7`` -> ``1e-7``,
  ``0.000001`` -> ``0.000001``, ``-0.0`` -> ``0``);
* ``true``, ``false``, ``null``; arrays (lists and tuples) in order.

Anything else (bytes, sets, datetimes, non-string keys) is refused with
:class:`~skysep.errors.RecordError` naming the path to the bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from skysep.errors import RecordError

__all__ = ["MAX_SAFE_INTEGER", "canonical_json", "format_number"]

#: Largest integer a double holds exactly (ECMAScript's Number.MAX_SAFE_INTEGER).
MAX_SAFE_INTEGER: Final = 2**53 - 1

_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_ESCAPES["\t"] = "\\t"


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 encoding of a JSON value (see the module docstring)."""
    fast = _fast(value)
    if fast is not None:
        return fast
    return _slow(value)


#: Non-integral floats in this magnitude range print the same in Python's ``repr`` (what
#: the C encoder of :mod:`json` writes) and in ECMAScript's ``Number.toString``.
_REPR_AGREES: Final = (1e-4, 2.0**53)


class _NeedsGeneralEncoderError(Exception):
    """The value needs the general encoder (or is invalid: the general encoder says why)."""


def _plain(value: Any) -> Any:
    """A copy that :func:`json.dumps` writes canonically, or :class:`_NeedsGeneralEncoderError`."""
    if value is None or value is True or value is False or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise _NeedsGeneralEncoderError
        return value
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= 2**53:
                raise _NeedsGeneralEncoderError
            return int(value)  # 1.0 -> 1, -0.0 -> 0
        if not (_REPR_AGREES[0] <= abs(value) < _REPR_AGREES[1]):
            raise _NeedsGeneralEncoderError  # also NaN and infinities
        return value
    if type(value) is dict:
        for key in value:
            if type(key) is not str or (key and max(key) > "\uffff"):
                raise _NeedsGeneralEncoderError  # keys beyond the BMP sort differently in UTF-16
        return {key: _plain(item) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:
        return [_plain(item) for item in value]
    raise _NeedsGeneralEncoderError


def _fast(value: Any) -> bytes | None:
    """The canonical encoding through the C encoder of :mod:`json`, when it gives the same."""
    try:
        text = json.dumps(
            _plain(value),
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
            allow_nan=False,
        )
        return text.encode("utf-8")
    except (_NeedsGeneralEncoderError, UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return None


def _slow(value: Any) -> bytes:
    parts: list[str] = []
    _encode(value, parts, "$")
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates, checked per string too
        raise RecordError(f"text that is not valid Unicode: {exc}") from None


def format_number(value: int | float) -> str:
    """A number as the canonical encoding writes it (ECMAScript ``Number.toString``)."""
    if isinstance(value, bool):
        raise RecordError(f"not a number: {value!r}")
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise RecordError(
                f"integer {value} is outside +-(2**53 - 1), which JSON readers keep exactly"
            )
        return str(value)
    if not math.isfinite(value):
        raise RecordError(f"{value!r} has no JSON encoding (NaN and infinities are refused)")
    if abs(value) >= 2**53:
        raise RecordError(
            f"{value!r} is outside +-2**53, where JSON readers would not all keep it exactly"
        )
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that read back as the same double.
    digits_tuple = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits).rstrip("0")
    exponent = int(digits_tuple.exponent) + len(digits_tuple.digits) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def _string(text: str, path: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise RecordError(f"{path}: lone surrogate U+{code:04X} in {text!r}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, out: list[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, int | float):
        try:
            out.append(format_number(value))
        except RecordError as exc:
            raise RecordError(f"{path}: {exc}") from None
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise RecordError(f"{path}: object key {key!r} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key, path))
            out.append(":")
            _encode(value[key], out, f"{path}.{key}")
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, f"{path}[{i}]")
        out.append("]")
    else:
        raise RecordError(
            f"{path}: {type(value).__name__} {value!r} has no JSON encoding "
            "(use null, booleans, numbers, strings, lists and string-keyed objects)"
        )
