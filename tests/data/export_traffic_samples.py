"""Export the small real-data fixtures of test_tracks_io.py with the ``traffic`` library.

Run with a Python that has traffic 2.13 (it needs pandas < 3, so not SkySep's
own environment)::

    python tests/data/export_traffic_samples.py tests/data

The samples ship with traffic (MIT licence); their data come from the OpenSky
Network. Every file is written by traffic's own writers, unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from traffic.data.samples import quickstart, switzerland


def main(out: Path) -> None:
    start = pd.Timestamp("2021-10-07 13:00:00Z")
    stop = pd.Timestamp("2021-10-07 13:04:00Z")
    # CCM753K taxis (altitude empty on the ground) and takes off; AFR73KR has
    # positions without velocity; RYR716 is airborne throughout.
    excerpt = quickstart.query("icao24 in ['39e4d2', '394c0c', '4ca75f']")
    assert excerpt is not None
    excerpt = excerpt.between(start, stop)
    assert excerpt is not None
    excerpt.to_csv(out / "quickstart_excerpt.csv")  # traffic's to_csv: pandas defaults
    first = excerpt["39e4d2"]
    assert first is not None
    first.data.iloc[90:130].to_json(  # the take-off: altitude empty, then given
        out / "quickstart_excerpt.jsonl", orient="records", lines=True, date_format="iso"
    )
    # Two aircraft that fly several flights: assign_id gives each its flight_id.
    flights = switzerland.query("icao24 in ['3003ae', '00b0ed']")
    assert flights is not None
    flights.assign_id().eval().to_parquet(out / "switzerland_flights.parquet")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
