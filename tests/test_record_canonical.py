"""The canonical encoder's fast path (json's C encoder) gives exactly the general bytes."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skysep.errors import RecordError
from skysep.record._canonical import _fast, _slow, canonical_json

keys = st.text(min_size=0, max_size=6)  # any code point, surrogates excluded by hypothesis
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.sampled_from([1e-7, 1e-6, 9.99e-5, 1e-4, 0.1, 1e15 + 0.5, 2.0**53, 1e21, -0.0, 5e-324]),
    st.integers(min_value=0, max_value=2**64 - 1).map(
        lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    floats,
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=20,
)


def reference(value: Any) -> bytes | str:
    try:
        return _slow(value)
    except RecordError as exc:
        return f"error: {exc}"


@settings(max_examples=2_000, deadline=None)
@given(values)
def test_fast_path_equals_the_general_encoder(value: Any) -> None:
    fast = _fast(value)
    want = reference(value)
    if fast is not None:
        assert fast == want
    if isinstance(want, str):  # invalid values never take the fast path
        with pytest.raises(RecordError):
            canonical_json(value)
    else:
        assert canonical_json(value) == want


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"b": 1.0, "a": [0.1, -0.0, 1e-7, 123.456]}, '{"a":[0.1,0,1e-7,123.456],"b":1}'),
        ({"\u00e9": '\n\u001f"\\'}, '{"\u00e9":"\\n\\u001f\\"\\\\"}'),
        ({"\U0001f600": 1, "\ufb33": 2}, '{"\U0001f600":1,"\ufb33":2}'),  # UTF-16 order
    ],
)
def test_known_encodings(value: Any, text: str) -> None:
    assert canonical_json(value) == text.encode("utf-8")


def test_refusals_keep_their_messages() -> None:
    with pytest.raises(RecordError, match=r"\$\.x: nan has no JSON encoding"):
        canonical_json({"x": math.nan})
    with pytest.raises(RecordError, match="lone surrogate"):
        canonical_json({"x": "\ud800"})
