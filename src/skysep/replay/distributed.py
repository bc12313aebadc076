"""Run a replay's time partitions on a dask.distributed cluster.

Each partition is self-contained (its window of reports with an overlap of
the lookahead plus the maximum gap on each side, and the bins it owns), so
any worker can run it; the driver merges the pieces exactly as a
single-process replay does, so the output is identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skysep.replay._replay import Partition, PartitionResult, Runner, run_partition


def dask_runner(client: Any) -> Runner:
    """A partition runner that submits the partitions to ``client`` (a ``distributed.Client``)."""
    from distributed import as_completed

    def run(parts: list[Partition]) -> Iterator[PartitionResult]:
        # Scatter the data first: partitions are large, task graphs should not be.
        data = client.scatter(parts)
        futures = client.map(run_partition, data, pure=False)
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                result: PartitionResult = future.result()
                yield result
        finally:
            for future in [*futures, *data]:
                future.release()

    return run


def connect(address: str | None = None, workers: int | None = None) -> Any:
    """A client of the cluster at ``address``, or of a new local cluster of ``workers``."""
    from distributed import Client, LocalCluster

    if address is not None:
        return Client(address)  # type: ignore[no-untyped-call]
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster)  # type: ignore[no-untyped-call]
