"""``skysep demo`` as a user runs it: a separate process, its printed URLs, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

pytestmark = pytest.mark.slow

URL = re.compile(r"^(\w+) dashboard: (http://127\.0\.0\.1:\d+)/dashboard/#token=(\S+)$")


def start(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", "from skysep.cli import main; main()", "demo", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def read_urls(stdout: IO[str], lines: list[str]) -> dict[str, tuple[str, str]]:
    """Each party's (base URL, token), read from the demo's output."""
    found: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + 90.0
    while len(found) < 2 and time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            break
        lines.append(line)
        match = URL.match(line.strip())
        if match:
            found[match[1]] = (match[2], match[3])
    return found


def test_demo_serves_both_dashboards_feeds_the_api_and_stops_after_duration() -> None:
    process = start("--port", "0", "--speed", "20", "--duration", "120", "--seed", "3")
    assert process.stdout is not None
    lines: list[str] = []
    try:
        urls = read_urls(process.stdout, lines)
        assert set(urls) == {"north", "south"}, "".join(lines)
        base, north_token = urls["north"]
        page = httpx.get(f"{base}/dashboard/", timeout=10.0)
        assert page.status_code == 200
        assert '<script src="app.js">' in page.text
        # The printed token is North's, for the real API.
        me = httpx.get(
            f"{base}/v1/me", headers={"Authorization": f"Bearer {north_token}"}, timeout=10.0
        )
        assert me.json() == {
            "party": "north",
            "name": "North air operations centre",
            "language": "en",
        }
        south = httpx.get(
            f"{base}/v1/me", headers={"Authorization": f"Bearer {urls['south'][1]}"}, timeout=10.0
        )
        assert south.json()["language"] == "ru"
        rest, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines) + rest
    assert process.returncode == 0, errors
    # 120 s of scenario at one tick every 4 s: 31 ticks, each party's reports posted.
    fed = re.search(r"fed (\d+) ticks \(north (\d+), south (\d+) reports\)", output)
    assert fed is not None, output
    assert int(fed[1]) == 31
    assert int(fed[2]) > 0
    assert int(fed[3]) > 0
    assert output.rstrip().endswith("demo stopped")
    folder = re.search(r"database: (\S+)/skysep\.sqlite3", output)
    assert folder is not None
    assert not Path(folder[1]).exists()  # the temporary folder is gone


def test_demo_stops_cleanly_on_ctrl_c() -> None:
    process = start("--port", "0", "--speed", "2")
    assert process.stdout is not None
    lines: list[str] = []
    try:
        urls = read_urls(process.stdout, lines)
        assert set(urls) == {"north", "south"}, "".join(lines)
        base, token = urls["south"]
        traffic = httpx.get(
            f"{base}/v1/traffic", headers={"Authorization": f"Bearer {token}"}, timeout=10.0
        )
        assert traffic.status_code == 200
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    assert rest.rstrip().endswith("demo stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health", timeout=2.0)
