"""The verifiable record: canonical encoding, hash chain, signatures, evidence bundles.

Every single-entry modification, deletion, insertion and reordering of a
signed run is detected, and the failure names the right entry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import stat
import types
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from skysep.cli import app
from skysep.errors import RecordError, SkySepError
from skysep.record import (
    GENESIS_HASH,
    REASONS,
    Entry,
    append,
    canonical_json,
    entry_hash,
    key_fingerprint,
    load_or_create_key,
    load_public_key,
    make_receipt,
    public_key_pem,
    read_bundle,
    sign_head,
    verify_bundle,
    verify_entries,
    write_bundle,
)
from skysep.record._canonical import format_number

N = 8
SALT = "0123456789abcdef0123456789abcdef"
INCIDENT = "inc-7"


def _payload(seq: int) -> dict[str, Any]:
    kinds = ["alert", "message", "alert", "incident", "message", "ack", "notice", "message"]
    kind = kinds[seq % len(kinds)]
    if kind == "incident":
        return {"id": INCIDENT, "aircraft": ["AFR12", "RFF3"], "min_h_m": 1234.5}
    return {"n": seq, "text": f"entry {seq} — ésprit, связь", "level": "caution"}


def _kind(seq: int) -> str:
    return ["alert", "message", "alert", "incident", "message", "ack", "notice", "message"][seq % 8]


def _parties(seq: int) -> list[str]:
    # entry 6 also concerns a third party: it is redacted in the bundle.
    return ["blue", "red", "green"] if seq == 6 else ["red", "blue"]


def build_chain(n: int = N) -> list[Entry]:
    entries: list[Entry] = []
    prev = None
    for seq in range(n):
        prev = append(
            prev,
            f"2025-03-01T10:00:{seq:02d}Z",
            _kind(seq),
            _parties(seq),
            _payload(seq),
            salt=SALT[seq:] + SALT[:seq],
        )
        entries.append(prev)
    return entries


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def chain() -> list[Entry]:
    return build_chain()


def _raw(chain: list[Entry]) -> list[dict[str, Any]]:
    return [json.loads(canonical_json(e.to_json())) for e in chain]


# --- canonical encoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"b": 1, "a": [True, False, None]}, '{"a":[true,false,null],"b":1}'),
        (  # UTF-16 order: U+1F600 (D83D DE00) sorts before U+FB01
            {"é": 1, "z": 2, "\u20ac": 3, "\U0001f600": 4, "\ufb01": 5},
            '{"z":2,"é":1,"€":3,"\U0001f600":4,"\ufb01":5}',
        ),
        ('a"b\\c\n\t\x01\x7f', '"a\\"b\\\\c\\n\\t\\u0001\x7f"'),
        (1.0, "1"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1e15, "1000000000000000"),
        (2.0**51 + 0.5, "2251799813685248.5"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123.456e-10, "1.23456e-8"),
        (-5e-324, "-5e-324"),
        (1.5e-300, "1.5e-300"),
        (2**53 - 1, "9007199254740991"),
    ],
)
def test_canonical_encoding_follows_rfc_8785(value: Any, text: str) -> None:
    assert canonical_json(value) == text.encode()


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        2**53,
        2.0**53,
        -1e300,
        {1: "a"},
        b"x",
        {1, 2},
        "\ud800",
        {"a": [object()]},
    ],
)
def test_canonical_encoding_refuses_what_json_cannot_round_trip(value: Any) -> None:
    with pytest.raises(RecordError):
        canonical_json(value)


def test_refusal_names_the_path_to_the_bad_value() -> None:
    with pytest.raises(RecordError, match=r"\$\.a\[1\]\.b: nan"):
        canonical_json({"a": [0, {"b": math.nan}]})


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: abs(x) < 2**53))
def test_numbers_read_back_as_the_same_double(x: float) -> None:
    assert float(format_number(x)) == x
    assert json.loads(canonical_json({"x": x}))["x"] == x


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(-(2**53) + 1, 2**53 - 1)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_json)
def test_canonical_encoding_is_stable_through_a_json_round_trip(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once


# --- the chain ------------------------------------------------------------------------------


def test_append_links_and_numbers_entries(chain: list[Entry]) -> None:
    assert [e.seq for e in chain] == list(range(N))
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert len({e.hash for e in chain}) == N
    assert chain[1].parties == ("blue", "red")  # sorted


def test_append_is_deterministic_given_the_salt() -> None:
    assert build_chain(3) == build_chain(3)


def test_append_draws_a_salt_when_none_is_given() -> None:
    a = append(None, "2025-03-01T10:00:00Z", "message", ["a"], {"x": 1})
    b = append(None, "2025-03-01T10:00:00Z", "message", ["a"], {"x": 1})
    assert a.salt != b.salt
    assert a.payload_hash != b.payload_hash


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2025-03-01 10:00:00", "message", ["a"], {}), "not a UTC time"),
        (("2025-02-30T10:00:00Z", "message", ["a"], {}), "not a valid date"),
        (("2025-03-01T10:00:00Z", "Message", ["a"], {}), "kind 'Message'"),
        (("2025-03-01T10:00:00Z", "message", "ab", {}), "parties must be a list"),
        (("2025-03-01T10:00:00Z", "message", [""], {}), "party id ''"),
        (("2025-03-01T10:00:00Z", "message", ["a"], [1]), "payload must be a JSON object"),
        (("2025-03-01T10:00:00Z", "message", ["a"], {"x": math.nan}), r"\$\.x"),
    ],
)
def test_append_refuses_bad_input_naming_the_value(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        append(None, *args)


def test_append_refuses_time_going_back(chain: list[Entry]) -> None:
    with pytest.raises(RecordError, match="earlier than the previous"):
        append(chain[-1], "2025-03-01T09:00:00Z", "message", ["a"], {})


def test_append_accepts_aware_datetimes_only() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    entry = append(
        None, datetime(2025, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=1))), "x", [], {}
    )
    assert entry.time == "2025-03-01T10:00:00.000000Z"
    assert append(None, datetime(2025, 3, 1, 10, tzinfo=UTC), "x", [], {}).time == entry.time
    with pytest.raises(RecordError, match="no timezone"):
        append(None, datetime(2025, 3, 1), "x", [], {})


def test_payload_is_stored_as_json_reads_it_back() -> None:
    entry = append(None, "2025-03-01T10:00:00Z", "alert", ["a"], {"t": 30.0, "v": (1, 2)})
    assert entry.payload == {"t": 30, "v": [1, 2]}
    assert Entry.from_json(json.loads(json.dumps(entry.to_json()))) == entry


def test_an_untouched_chain_verifies(chain: list[Entry], key: Ed25519PrivateKey) -> None:
    result = verify_entries(
        _raw(chain),
        public_key=key.public_key(),
        heads=[sign_head(key, chain[-1])],
        receipts=[make_receipt(key, chain[2], "red")],
    )
    assert result.ok, result.failure
    assert (result.entries, result.heads, result.receipts) == (N, 1, 1)
    assert result.summary().startswith("OK: 8 entries")


def test_verify_entries_without_a_key_checks_the_links_only(chain: list[Entry]) -> None:
    assert verify_entries(chain).ok
    with pytest.raises(RecordError, match="public key"):
        verify_entries(chain, heads=[{"seq": 0}])


def test_a_redacted_entry_still_links(chain: list[Entry], key: Ed25519PrivateKey) -> None:
    run = [e.redact() if e.seq % 2 else e for e in chain]
    result = verify_entries(run, public_key=key.public_key(), heads=[sign_head(key, chain[-1])])
    assert result.ok
    assert result.redacted == N // 2
    assert "payload" not in run[1].to_json()
    assert "salt" not in run[1].to_json()


# Every field of every entry, changed alone.
MODIFICATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "seq": lambda e: e.update(seq=e["seq"] + 100),
    "time": lambda e: e.update(time=e["time"].replace("10:00", "10:01")),
    "kind": lambda e: e.update(kind="forged"),
    "parties": lambda e: e.update(parties=[*e["parties"], "zzz"]),
    "parties-removed": lambda e: e.update(parties=e["parties"][:1]),
    "payload": lambda e: e["payload"].update(forged=True),
    "payload-value": lambda e: e.update(payload={**e["payload"], "text": "changed"}),
    "salt": lambda e: e.update(salt="f" * 32),
    "payload_hash": lambda e: e.update(payload_hash="a" * 64),
    "prev_hash": lambda e: e.update(prev_hash="b" * 64),
    "hash": lambda e: e.update(hash="c" * 64),
}
EXPECTED_REASON = {
    "seq": {"missing", "unexpected"},
    "time": {"hash_mismatch"},
    "kind": {"hash_mismatch"},
    "parties": {"hash_mismatch"},
    "parties-removed": {"hash_mismatch"},
    "payload": {"payload_mismatch"},
    "payload-value": {"payload_mismatch"},
    "salt": {"payload_mismatch"},
    "payload_hash": {"payload_mismatch"},
    "prev_hash": {"hash_mismatch"},
    "hash": {"hash_mismatch"},
}


@pytest.mark.parametrize("field", MODIFICATIONS)
@pytest.mark.parametrize("position", range(N))
def test_every_single_field_modification_is_detected_at_its_entry(
    chain: list[Entry], key: Ed25519PrivateKey, field: str, position: int
) -> None:
    raw = _raw(chain)
    MODIFICATIONS[field](raw[position])
    result = verify_entries(raw, public_key=key.public_key(), heads=[sign_head(key, chain[-1])])
    assert result.failure is not None
    assert result.failure.reason in EXPECTED_REASON[field], result.failure
    assert result.failure.reason in REASONS
    if result.failure.reason != "unexpected":
        assert (result.failure.seq, result.failure.index) == (position, position)
    assert result.entries == position  # everything before it verified


@pytest.mark.parametrize("position", range(N))
def test_a_modification_with_its_hash_recomputed_breaks_the_next_link_or_the_head(
    chain: list[Entry], key: Ed25519PrivateKey, position: int
) -> None:
    forged = list(chain)
    forged[position] = append(
        chain[position - 1] if position else None,
        chain[position].time,
        chain[position].kind,
        chain[position].parties,
        {"forged": True},
        salt=SALT,
    )
    result = verify_entries(forged, public_key=key.public_key(), heads=[sign_head(key, chain[-1])])
    assert result.failure is not None
    if position < N - 1:
        assert (result.failure.reason, result.failure.seq) == ("broken_link", position + 1)
    else:
        assert (result.failure.reason, result.failure.seq) == ("head_mismatch", N - 1)


@pytest.mark.parametrize("position", range(N))
def test_every_deletion_is_detected_at_the_missing_entry(
    chain: list[Entry], key: Ed25519PrivateKey, position: int
) -> None:
    run = chain[:position] + chain[position + 1 :]
    result = verify_entries(
        run,
        public_key=key.public_key(),
        heads=[sign_head(key, chain[-1])],
        first_seq=0,
        last_seq=N - 1,
    )
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("missing", position)


def test_deleting_the_last_entry_without_stated_bounds_leaves_it_unsigned(
    chain: list[Entry], key: Ed25519PrivateKey
) -> None:
    result = verify_entries(
        chain[:-1], public_key=key.public_key(), heads=[sign_head(key, chain[-1])]
    )
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("head_mismatch", N - 1)


def _forged_after(prev: Entry | None, seq: int) -> Entry:
    """An entry with a correct-looking hash, linked to ``prev``, claiming ``seq``."""
    honest = append(
        prev,
        "2025-03-01T10:00:00Z" if prev is None else prev.time,
        "message",
        ["blue", "red"],
        {"forged": True},
        salt=SALT,
    )
    return replace(
        honest,
        seq=seq,
        hash=entry_hash(
            seq, honest.time, honest.kind, honest.parties, honest.payload_hash, honest.prev_hash
        ),
    )


@pytest.mark.parametrize("position", range(N + 1))
def test_every_insertion_is_detected_where_the_chain_breaks(
    chain: list[Entry], key: Ed25519PrivateKey, position: int
) -> None:
    forged = _forged_after(chain[position - 1] if position else None, position)
    assert forged.hash != (chain[position].hash if position < N else None)
    run = [*chain[:position], forged, *chain[position:]]
    for bounds in ({}, {"first_seq": 0, "last_seq": N - 1}):
        result = verify_entries(
            run, public_key=key.public_key(), heads=[sign_head(key, chain[-1])], **bounds
        )
        assert result.failure is not None
        if position < N:
            # The forged entry links to its predecessor; the original entry
            # that follows it claims the same seq.
            assert (result.failure.reason, result.failure.seq, result.failure.index) == (
                "duplicate",
                position,
                position + 1,
            )
        else:
            assert result.failure.seq == N
            assert result.failure.reason == ("unexpected" if bounds else "unsigned")


@pytest.mark.parametrize("position", range(N - 1))
def test_every_adjacent_swap_is_detected(
    chain: list[Entry], key: Ed25519PrivateKey, position: int
) -> None:
    run = list(chain)
    run[position], run[position + 1] = run[position + 1], run[position]
    result = verify_entries(run, public_key=key.public_key(), heads=[sign_head(key, chain[-1])])
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq, result.failure.index) == (
        "reordered",
        position,
        position,
    )


def test_swapped_seqs_with_hashes_recomputed_break_the_link(chain: list[Entry]) -> None:
    a = append(
        chain[0], chain[2].time, chain[2].kind, chain[2].parties, chain[2].payload or {}, salt=SALT
    )
    result = verify_entries([chain[0], a, *chain[2:]])
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("broken_link", 2)


def test_time_going_back_is_detected(chain: list[Entry]) -> None:
    early = append(chain[2], chain[2].time, "message", ["red"], {}, salt=SALT)
    early = replace(early, time="2025-03-01T09:00:00Z")
    early = replace(
        early,
        hash=entry_hash(
            early.seq, early.time, early.kind, early.parties, early.payload_hash, early.prev_hash
        ),
    )
    result = verify_entries([*chain[:3], early])
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("time_backwards", 3)


@pytest.mark.parametrize("line", [[], "x", {"seq": 0}, {**{"seq": -1}}, None])
def test_a_malformed_entry_is_named(chain: list[Entry], line: Any) -> None:
    raw: list[Any] = _raw(chain)
    raw[3] = line
    result = verify_entries(raw)
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq, result.failure.index) == ("malformed", 3, 3)


# --- signatures ---------------------------------------------------------------------------------


def test_a_tampered_head_signature_is_detected(chain: list[Entry], key: Ed25519PrivateKey) -> None:
    head = sign_head(key, chain[-1]).to_json()
    head["signature"] = ("0" if head["signature"][0] != "0" else "1") + head["signature"][1:]
    result = verify_entries(chain, public_key=key.public_key(), heads=[head])
    assert result.failure is not None
    assert (result.failure.reason, result.failure.part, result.failure.seq) == (
        "bad_signature",
        "heads",
        N - 1,
    )


@pytest.mark.parametrize("field", ["seq", "hash", "time"])
def test_a_head_statement_changed_after_signing_is_detected(
    chain: list[Entry], key: Ed25519PrivateKey, field: str
) -> None:
    head = sign_head(key, chain[-1]).to_json()
    head[field] = {"seq": N - 2, "hash": chain[-2].hash, "time": "2025-03-02T00:00:00Z"}[field]
    result = verify_entries(chain, public_key=key.public_key(), heads=[head])
    assert result.failure is not None
    assert result.failure.reason == "bad_signature"


def test_a_head_from_another_key_is_detected(chain: list[Entry], key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    result = verify_entries(chain, public_key=key.public_key(), heads=[sign_head(other, chain[-1])])
    assert result.failure is not None
    assert result.failure.reason == "key_mismatch"
    # Even with the fingerprint changed to the expected key's, the signature fails.
    head = replace(sign_head(other, chain[-1]), key=key_fingerprint(key))
    result = verify_entries(chain, public_key=key.public_key(), heads=[head])
    assert result.failure is not None
    assert result.failure.reason == "bad_signature"


def test_entries_after_the_last_signed_head_are_unsigned(
    chain: list[Entry], key: Ed25519PrivateKey
) -> None:
    result = verify_entries(chain, public_key=key.public_key(), heads=[sign_head(key, chain[4])])
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("unsigned", 5)
    result = verify_entries(chain, public_key=key.public_key())
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("unsigned", 0)


def test_receipts(chain: list[Entry], key: Ed25519PrivateKey) -> None:
    receipt = make_receipt(key, chain[3], "blue", head=chain[-1], signed_at="2025-03-01T10:01:00Z")
    heads = [sign_head(key, chain[-1])]
    pk = key.public_key()
    assert verify_entries(chain, public_key=pk, heads=heads, receipts=[receipt]).ok
    with pytest.raises(RecordError, match="does not concern party 'green'"):
        make_receipt(key, chain[3], "green")
    forged_entry = _forged_after(chain[2], 3)
    result = verify_entries(
        [*chain[:3], forged_entry],
        public_key=pk,
        heads=[sign_head(key, forged_entry)],
        receipts=[receipt],
    )
    # A chain in which entry 3 changed contradicts the receipt the party holds.
    assert result.failure is not None
    assert (result.failure.reason, result.failure.part, result.failure.seq) == (
        "head_mismatch",
        "receipts",
        3,
    )
    bad = receipt.to_json()
    bad["party"] = "red"
    result = verify_entries(chain, public_key=pk, heads=heads, receipts=[bad])
    assert result.failure is not None
    assert result.failure.reason == "bad_signature"


# --- keys -----------------------------------------------------------------------------------


def test_load_or_create_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "server.pem"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_fingerprint(load_or_create_key(path)) == key_fingerprint(key)
    assert [p.name for p in path.parent.iterdir()] == ["server.pem"]
    assert key_fingerprint(load_public_key(public_key_pem(key))) == key_fingerprint(key)
    os.chmod(path, 0o644)
    with pytest.raises(RecordError, match="chmod 600"):
        load_or_create_key(path)
    os.chmod(path, 0o600)
    path.write_text("not a key")
    with pytest.raises(RecordError, match="not an unencrypted PEM private key"):
        load_or_create_key(path)
    with pytest.raises(RecordError, match="not a PEM public key"):
        load_public_key("nope")


# --- evidence bundles -----------------------------------------------------------------------

TRACKS = [
    {
        "time": "2025-03-01T10:00:00Z",
        "aircraft": "AFR12",
        "party": "blue",
        "lat": 46.0,
        "lon": 6.0,
        "alt_m": 10000.0,
        "gs_mps": 220.0,
        "track_deg": 90.0,
        "vs_mps": 0.0,
    },
    {
        "time": 1740823201.5,
        "aircraft": "AFR12",
        "party": "blue",
        "lat": 46.0,
        "lon": 6.01,
        "alt_m": 10000.0,
    },
    {
        "time": "2025-03-01T10:00:00Z",
        "aircraft": "RFF3",
        "party": "red",
        "lat": 46.0,
        "lon": 6.2,
        "alt_m": 10050.0,
        "gs_mps": 230.0,
        "track_deg": 270.0,
        "vs_mps": None,
    },
    {
        "time": "2025-03-01T10:00:01.5Z",
        "aircraft": "RFF3",
        "party": "red",
        "lat": 46.0,
        "lon": 6.19,
        "alt_m": 10050.0,
        "gs_mps": float("nan"),
    },
]


def _write(path: Path, chain: list[Entry], key: Ed25519PrivateKey, **kwargs: Any) -> Path:
    heads = kwargs.pop("heads", None) or [
        sign_head(key, chain[4]),
        sign_head(key, chain[-1], signed_at="2025-03-01T10:05:00Z"),
    ]
    receipts = [make_receipt(key, e, p) for e in chain for p in e.parties]
    write_bundle(
        path,
        incident_id=INCIDENT,
        entries=kwargs.pop("entries", chain),
        heads=heads,
        receipts=receipts,
        tracks=TRACKS,
        key=key,
        **kwargs,
    )
    return path


@pytest.fixture(scope="module")
def bundle(
    tmp_path_factory: pytest.TempPathFactory, chain: list[Entry], key: Ed25519PrivateKey
) -> Path:
    return _write(tmp_path_factory.mktemp("bundle") / "bundle.zip", chain, key)


def test_a_written_bundle_verifies(bundle: Path, key: Ed25519PrivateKey) -> None:
    result = verify_bundle(bundle)
    assert result.ok, result.failure
    assert (result.entries, result.redacted, result.heads) == (N, 1, 2)
    assert result.receipts == sum(len(set(e.parties) & {"blue", "red"}) for e in build_chain())
    assert verify_bundle(bundle, fingerprint=key_fingerprint(key)).ok
    content = read_bundle(bundle)
    assert content.incident == _payload(3)
    assert [a["seq"] for a in content.alerts] == [0, 2]
    assert [m["seq"] for m in content.messages] == [1, 4, 5, 7]
    assert content.entries[6].redacted  # concerns a third party
    assert content.manifest["files"].keys() == {
        "incident.json",
        "tracks.csv",
        "alerts.json",
        "messages.json",
        "chain.jsonl",
        "heads.json",
        "receipts.json",
        "public_key.pem",
    }


def test_bundle_bytes_depend_on_content_only(
    tmp_path: Path, chain: list[Entry], key: Ed25519PrivateKey
) -> None:
    a = _write(tmp_path / "a.zip", chain, key)
    b = _write(tmp_path / "b.zip", chain, key)
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip"]  # no temp file left


def test_bundle_tracks_read_back_as_a_replay_track_file(bundle: Path, tmp_path: Path) -> None:
    from skysep.io.tracks import read_tracks

    with zipfile.ZipFile(bundle) as archive:
        (tmp_path / "tracks.csv").write_bytes(archive.read("tracks.csv"))
    tracks = read_tracks(tmp_path / "tracks.csv").tracks
    assert len(tracks) == 4
    assert list(tracks.aircraft) == ["AFR12", "AFR12", "RFF3", "RFF3"]
    assert tracks.time_s[1] - tracks.time_s[0] == pytest.approx(1.5)
    assert math.isnan(tracks.gs_mps[3])


def test_write_bundle_refuses_what_would_not_verify(
    tmp_path: Path, chain: list[Entry], key: Ed25519PrivateKey
) -> None:
    with pytest.raises(RecordError, match="no unredacted 'incident' entry"):
        _write(tmp_path / "x.zip", chain[:3], key, heads=[sign_head(key, chain[2])])
    with pytest.raises(RecordError, match="unsigned"):
        _write(tmp_path / "x.zip", chain[:7], key, heads=[sign_head(key, chain[4])])
    with pytest.raises(RecordError, match="unknown column"):
        write_bundle(
            tmp_path / "x.zip",
            incident_id=INCIDENT,
            entries=chain,
            heads=[sign_head(key, chain[-1])],
            receipts=[],
            tracks=[{**TRACKS[0], "speed": 1}],
            key=key,
        )
    assert list(tmp_path.iterdir()) == []


def _rewrite(source: Path, target: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _edit_chain(
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> Callable[[dict[str, bytes]], None]:
    def run(members: dict[str, bytes]) -> None:
        lines = [json.loads(line) for line in members["chain.jsonl"].splitlines()]
        members["chain.jsonl"] = b"".join(canonical_json(e) + b"\n" for e in edit(lines))

    return run


# Entry 6 is redacted in the bundle: it has no payload or salt to modify.
BUNDLED_MODIFICATIONS = [
    (field, position)
    for position in range(N)
    for field in MODIFICATIONS
    if not (position == 6 and field in ("payload", "payload-value", "salt"))
]


@pytest.mark.parametrize(("field", "position"), BUNDLED_MODIFICATIONS)
def test_every_modification_of_a_bundled_entry_names_it(
    bundle: Path, tmp_path: Path, field: str, position: int
) -> None:
    def edit(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        MODIFICATIONS[field](lines[position])
        return lines

    result = verify_bundle(_rewrite(bundle, tmp_path / "t.zip", _edit_chain(edit)))
    assert result.failure is not None
    assert result.failure.file == "chain.jsonl"
    if position == 6 and field == "payload_hash":  # redacted: checked through the hash only
        assert result.failure.reason == "hash_mismatch"
    else:
        assert result.failure.reason in EXPECTED_REASON[field]
    if result.failure.reason != "unexpected":
        assert result.failure.seq == position


@pytest.mark.parametrize("position", range(N))
def test_every_deletion_from_a_bundle_names_the_entry(
    bundle: Path, tmp_path: Path, position: int
) -> None:
    result = verify_bundle(
        _rewrite(
            bundle, tmp_path / "t.zip", _edit_chain(lambda ls: ls[:position] + ls[position + 1 :])
        )
    )
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq, result.failure.file) == (
        "missing",
        position,
        "chain.jsonl",
    )


@pytest.mark.parametrize("position", range(N + 1))
def test_every_insertion_into_a_bundle_is_detected(
    bundle: Path, tmp_path: Path, chain: list[Entry], position: int
) -> None:
    forged = json.loads(
        canonical_json(_forged_after(chain[position - 1] if position else None, position).to_json())
    )
    result = verify_bundle(
        _rewrite(
            bundle,
            tmp_path / "t.zip",
            _edit_chain(lambda ls: [*ls[:position], forged, *ls[position:]]),
        )
    )
    assert result.failure is not None
    assert result.failure.seq == position
    assert result.failure.reason == ("duplicate" if position < N else "unexpected")


@pytest.mark.parametrize("position", range(N - 1))
def test_every_adjacent_swap_in_a_bundle_is_detected(
    bundle: Path, tmp_path: Path, position: int
) -> None:
    def swap(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[position], lines[position + 1] = lines[position + 1], lines[position]
        return lines

    result = verify_bundle(_rewrite(bundle, tmp_path / "t.zip", _edit_chain(swap)))
    assert result.failure is not None
    assert (result.failure.reason, result.failure.seq) == ("reordered", position)


def _json_edit(name: str, edit: Callable[[Any], Any]) -> Callable[[dict[str, bytes]], None]:
    def run(members: dict[str, bytes]) -> None:
        members[name] = json.dumps(edit(json.loads(members[name]))).encode()

    return run


def _set(value: Any, key: Any, new: Any) -> Any:
    value[key] = new
    return value


def _flip(signature: str) -> str:
    return ("1" if signature[0] == "0" else "0") + signature[1:]


OTHER_KEY = Ed25519PrivateKey.generate()


def _add_track_and_rehash(members: dict[str, bytes]) -> None:
    """Add a report to tracks.csv and put its new SHA-256 in the manifest."""
    members["tracks.csv"] += b"2025-03-01T10:00:02Z,X,blue,1,1,1,,,\n"
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["tracks.csv"]["sha256"] = hashlib.sha256(members["tracks.csv"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()


TAMPERING: dict[str, tuple[Callable[[dict[str, bytes]], None], str, str]] = {
    "head signature": (
        _json_edit(
            "heads.json", lambda hs: [hs[0], _set(hs[1], "signature", _flip(hs[1]["signature"]))]
        ),
        "bad_signature",
        "heads.json",
    ),
    "head dropped": (_json_edit("heads.json", lambda hs: hs[:1]), "unsigned", "heads.json"),
    "receipt signature": (
        _json_edit(
            "receipts.json", lambda rs: [_set(rs[0], "signature", _flip(rs[0]["signature"]))]
        ),
        "bad_signature",
        "receipts.json",
    ),
    "key substituted": (
        lambda m: m.update({"public_key.pem": public_key_pem(OTHER_KEY).encode()}),
        "key_mismatch",
        "heads.json",
    ),
    "public key garbled": (
        lambda m: m.update({"public_key.pem": b"junk"}),
        "malformed",
        "public_key.pem",
    ),
    "incident edited": (
        _json_edit("incident.json", lambda i: _set(i, "min_h_m", 5000)),
        "content_mismatch",
        "incident.json",
    ),
    "alert edited": (
        _json_edit("alerts.json", lambda a: [a[0], _set(a[1], "payload", {"n": 2})]),
        "content_mismatch",
        "alerts.json",
    ),
    "alert dropped": (
        _json_edit("alerts.json", lambda a: a[1:]),
        "content_mismatch",
        "alerts.json",
    ),
    "message added": (
        _json_edit("messages.json", lambda m: [*m, {"seq": 99, "payload": {}}]),
        "content_mismatch",
        "messages.json",
    ),
    "tracks edited": (
        lambda m: m.update({"tracks.csv": m["tracks.csv"].replace(b"46.0", b"46.1", 1)}),
        "file_hash_mismatch",
        "tracks.csv",
    ),
    "file added": (lambda m: m.update({"notes.txt": b"x"}), "file_unexpected", "notes.txt"),
    "file removed": (lambda m: m.pop("tracks.csv"), "file_missing", "tracks.csv"),
    "manifest hash edited": (
        _json_edit(
            "manifest.json",
            lambda x: _set(x, "files", {**x["files"], "tracks.csv": {"sha256": "0" * 64}}),
        ),
        "file_hash_mismatch",
        "tracks.csv",
    ),
    "manifest incident id": (
        _json_edit("manifest.json", lambda x: _set(x, "incident_id", "inc-8")),
        "content_mismatch",
        "incident.json",
    ),
    "manifest range": (
        _json_edit("manifest.json", lambda x: _set(x, "last_seq", N)),
        "missing",
        "chain.jsonl",
    ),
    "manifest re-hashed": (_add_track_and_rehash, "bad_signature", "manifest.sig"),
    "manifest signature": (
        lambda m: m.update({"manifest.sig": _flip(m["manifest.sig"].decode()).encode()}),
        "bad_signature",
        "manifest.sig",
    ),
    "manifest missing": (lambda m: m.pop("manifest.json"), "bad_manifest", "manifest.json"),
    "not json": (lambda m: m.update({"heads.json": b"{"}), "malformed", "heads.json"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_with_signatures_keys_and_files_is_detected(
    bundle: Path, tmp_path: Path, case: str
) -> None:
    edit, reason, file = TAMPERING[case]
    result = verify_bundle(_rewrite(bundle, tmp_path / "t.zip", edit))
    assert result.failure is not None
    assert (result.failure.reason, result.failure.file) == (reason, file), result.failure


def test_a_forgers_consistent_bundle_is_caught_only_by_pinning_the_key(
    tmp_path: Path, chain: list[Entry], key: Ed25519PrivateKey
) -> None:
    forged = _write(tmp_path / "forged.zip", chain, OTHER_KEY)
    assert verify_bundle(forged).ok
    result = verify_bundle(forged, fingerprint=key_fingerprint(key))
    assert result.failure is not None
    assert result.failure.reason == "key_mismatch"


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_text("hello")
    result = verify_bundle(tmp_path / "x.zip")
    assert result.failure is not None
    assert result.failure.reason == "unreadable"
    with pytest.raises(RecordError):
        read_bundle(tmp_path / "x.zip")


def test_cli_verify(bundle: Path, tmp_path: Path, key: Ed25519PrivateKey) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["evidence", "verify", str(bundle), "--fingerprint", key_fingerprint(key)]
    )
    assert ok.exit_code == 0, ok.output
    assert "OK: 8 entries" in ok.output
    bad = _rewrite(bundle, tmp_path / "t.zip", _edit_chain(lambda ls: ls[:2] + ls[3:]))
    failed = runner.invoke(app, ["evidence", "verify", str(bad)])
    assert failed.exit_code == 1
    assert "entry 2" in failed.output
    assert "missing" in failed.output


def test_errors_are_skysep_errors() -> None:
    assert issubclass(RecordError, SkySepError)


def test_public_names() -> None:
    import skysep.record as record

    # Submodules (cli, export, report) become attributes once imported: not API names.
    public = {
        n
        for n in dir(record)
        if not n.startswith("_") and not isinstance(getattr(record, n), types.ModuleType)
    }
    assert set(record.__all__) == public
