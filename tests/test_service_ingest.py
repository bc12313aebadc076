"""The ingest worker: report batches checked and stored on a process of their own.

``skysep serve`` runs ingest on a worker process; the in-process tests in
``test_service_api.py`` run the same code on a thread. These tests start the
real worker process (``create_app(..., worker_processes=True)``) and check that
it answers exactly as the thread does, and that a worker that dies is
replaced without losing or half-storing a batch.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from harness import Clock
from test_service_api import T0, agreement, head_on

from skysep.service import create_app
from skysep.service._ingest import BatchIn, BatchRefused, BatchStored, ingest_group
from skysep.storage import Store


def _client(store: Store, clock: Clock, *, process: bool) -> TestClient:
    app = create_app(store, agreement(), clock=clock, run_cycles=False, worker_processes=process)
    return TestClient(app)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[TestClient, Store, dict[str, str]]]:
    store = Store.open(str(tmp_path / "ingest.sqlite3"))
    tokens = {p: store.add_party(p, p.title(), "en", T0) for p in ("north", "south")}
    with _client(store, Clock(T0), process=True) as client:
        yield client, store, tokens
    store.close()


def _post(client: TestClient, token: str, body: Any) -> Any:
    return client.post("/v1/reports", headers={"Authorization": f"Bearer {token}"}, json=body)


def _worker_pids(client: TestClient) -> list[int]:
    worker = client.app.state.live.ingestor.worker  # type: ignore[attr-defined]
    return [] if worker.pid is None else [worker.pid]


BAD_BATCH = [
    head_on(T0)["north"][0],
    {**head_on(T0)["north"][0], "lat": 95.0},
    {**head_on(T0)["north"][0], "time": "yesterday"},
    {**head_on(T0)["north"][0], "alt_m": 9_000.0},
    {**head_on(T0)["north"][0], "colour": "red"},
]


def test_the_worker_is_a_process_of_its_own(
    worker: tuple[TestClient, Store, dict[str, str]],
) -> None:
    client, _store, _tokens = worker
    pids = _worker_pids(client)
    assert len(pids) == 1
    assert pids[0] != os.getpid()


def test_the_worker_stores_a_batch_once_and_counts_a_retry(
    worker: tuple[TestClient, Store, dict[str, str]],
) -> None:
    client, store, tokens = worker
    batch = head_on(T0)["south"]
    first = _post(client, tokens["south"], {"reports": batch})
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 2, "duplicates": 0}
    again = _post(client, tokens["south"], {"reports": batch})
    assert again.json() == {"accepted": 2, "duplicates": 2}
    assert store.count_reports() == 2
    # The live picture (in the server's process) took the rows the worker stored.
    assert len(client.app.state.live.picture) == 2  # type: ignore[attr-defined]


def test_the_worker_refuses_a_bad_batch_exactly_as_the_thread_does(
    worker: tuple[TestClient, Store, dict[str, str]], tmp_path: Path
) -> None:
    client, store, tokens = worker
    from_worker = _post(client, tokens["north"], {"reports": BAD_BATCH})
    other = Store.open(str(tmp_path / "thread.sqlite3"))
    token = other.add_party("north", "North", "en", T0)
    with _client(other, Clock(T0), process=False) as in_thread:
        from_thread = _post(in_thread, token, {"reports": BAD_BATCH})
    other.close()
    assert from_worker.status_code == from_thread.status_code == 422
    assert from_worker.json() == from_thread.json()
    fields = {(p["index"], p["field"]) for p in from_worker.json()["error"]["problems"]}
    assert fields == {(1, "lat"), (2, "time"), (3, "alt_ft/alt_m"), (4, "colour")}
    assert store.count_reports() == 0


def test_the_worker_refuses_another_party_s_aircraft_and_bad_json(
    worker: tuple[TestClient, Store, dict[str, str]],
) -> None:
    client, store, tokens = worker
    foreign = {**head_on(T0)["north"][0], "party": "south"}
    response = _post(client, tokens["north"], {"reports": [foreign]})
    assert response.status_code == 403
    assert response.json()["error"]["problems"][0]["field"] == "party"
    garbled = client.post(
        "/v1/reports", headers={"Authorization": f"Bearer {tokens['north']}"}, content=b"{nope"
    )
    assert garbled.status_code == 422
    assert "JSON" in garbled.json()["error"]["problems"][0]["message"]
    assert store.count_reports() == 0


def test_a_worker_that_dies_is_replaced_and_nothing_is_half_stored(
    worker: tuple[TestClient, Store, dict[str, str]],
) -> None:
    client, store, tokens = worker
    (pid,) = _worker_pids(client)
    os.kill(pid, signal.SIGKILL)
    # Whether or not the pool has noticed yet, the batch under way is refused.
    batch = head_on(T0)["north"]
    refused = _post(client, tokens["north"], {"reports": batch})
    assert refused.status_code == 503, refused.text
    assert "send it again" in refused.json()["error"]["message"]
    again = _post(client, tokens["north"], {"reports": batch})
    assert again.status_code == 200, again.text
    assert store.count_reports() == 1
    (new_pid,) = _worker_pids(client)
    assert new_pid != pid


def test_a_group_commits_good_batches_and_refuses_bad_ones_each_on_its_own(
    tmp_path: Path,
) -> None:
    store = Store.open(str(tmp_path / "group.sqlite3"))
    good = head_on(T0)["south"]
    batches = [
        BatchIn("south", good, T0),
        BatchIn("north", b'{"reports": [{"aircraft": "N1"}]}', T0),
        BatchIn("north", b'{"reports": []}', T0),
    ]
    replies = ingest_group(store, batches)
    assert isinstance(replies[0], BatchStored)
    assert replies[0].new == 2
    assert [r.aircraft for r in replies[0].rows] == ["S1", "FAR"]
    assert isinstance(replies[1], BatchRefused)
    assert replies[1].status == 422
    assert {p.field for p in replies[1].problems} == {"time", "lat", "lon"}
    assert isinstance(replies[2], BatchRefused)
    assert store.count_reports() == 2
    store.close()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (95.0, 95.0),
        ("yesterday", "yesterday"),
        (None, None),
        ({"kind": "shout", "n": [1, 2]}, {"kind": "shout", "n": [1, 2]}),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ({"lat": float("nan")}, "{'lat': nan}"),
        (b"\x00", "b'\\x00'"),
    ],
)
def test_a_problem_shows_its_value_as_json_carries_it_or_its_repr(
    value: object, shown: object
) -> None:
    from skysep.service._models import problem_value

    assert problem_value(value) == shown
