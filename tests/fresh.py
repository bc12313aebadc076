"""Run Python code in a fresh interpreter: what an import loads shows only there."""

from __future__ import annotations

import subprocess
import sys


def run_fresh(script: str) -> str:
    """Run ``script`` in a new interpreter (this one's); its standard output. Fails the
    test, with the interpreter's standard error, when the script fails."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
