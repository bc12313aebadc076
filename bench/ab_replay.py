"""`skysep replay` of two or more commits, run alternately on one machine in one run.

The machines this project runs on are shared virtual machines whose speed
drifts by a third over an hour (the same command took 2.3 s and 3.1 s the same
evening); a before-and-after measured at different times says little. This
runs each commit's command in turn, round after round, so that all see the same
machine, and prints the fastest, the median and the slowest wall time and the
median CPU time (user + system, all the command's processes) of each.

    python bench/ab_replay.py --rev before=5c2999d --rev after=HEAD --rounds 10

Each revision is checked out in a temporary git worktree and run with this
environment's Python (its dependencies), its own sources first on the path
and compiled to bytecode first, as on a user's machine;
the first run of each compiles or loads its numba kernels and is not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay import SAMPLES, export, user_environment

ROOT = Path(__file__).resolve().parents[1]


def speed_probe() -> float:
    """Seconds for a fixed pure-Python loop: how fast the machine is right now."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i * i
    return time.perf_counter() - started


#: Each worktree's environment (see bench_replay.user_environment).
ENVS: dict[Path, dict[str, str]] = {}


def run(src: Path, sample: Path, preset: str, out: Path, extra: list[str]) -> tuple[float, float]:
    """Wall and CPU time of one ``skysep replay`` of the sources under ``src``."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(ENVS[src], PYTHONPATH=str(src))
    # The console script's entry point (skysep._start since session 6, skysep.cli before).
    entry = "skysep._start" if (src / "skysep" / "_start.py").exists() else "skysep.cli"
    command = [sys.executable, "-c", f"from {entry} import main; main()"]
    command += ["replay", str(sample), "--preset", preset, "--out", str(out), "--quiet", *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), command)
    return wall_s, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rev", action="append", required=True, help="NAME=REVISION (git), twice or more"
    )
    parser.add_argument("--sample", nargs="*", default=list(SAMPLES), choices=list(SAMPLES))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-report", action="store_true", help="pass --no-report")
    args = parser.parse_args()
    revs = dict(rev.split("=", 1) for rev in args.rev)
    extra = ["--no-report"] if args.no_report else []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trees: dict[str, Path] = {}
        for name, rev in revs.items():
            tree = folder / f"tree-{name}"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                check=True,
                capture_output=True,
            )
            trees[name] = tree / "src"
            ENVS[tree / "src"] = user_environment(tree / "src")
        try:
            files = export(folder)
            print(f"speed probe before: {speed_probe():.3f} s (a 3,000,000-step Python loop)")
            print("| sample | commit | fastest | median | slowest | CPU (median) |")
            print("|---|---|--:|--:|--:|--:|")
            for sample in args.sample:
                preset = SAMPLES[sample][0]
                out = folder / "out"
                for src in trees.values():
                    run(src, files[sample], preset, out, extra)  # kernels compiled or loaded
                times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
                for _ in range(args.rounds):
                    for name, src in trees.items():
                        times[name].append(run(src, files[sample], preset, out, extra))
                for name, runs in times.items():
                    walls = [wall for wall, _ in runs]
                    cpus = [cpu for _, cpu in runs]
                    print(
                        f"| {sample} | {name} ({revs[name]}) | {min(walls):.2f} s | "
                        f"{statistics.median(walls):.2f} s | {max(walls):.2f} s | "
                        f"{statistics.median(cpus):.2f} s |",
                        flush=True,
                    )
            print(f"speed probe after: {speed_probe():.3f} s")
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree.parent)],
                    check=False,
                    capture_output=True,
                )


if __name__ == "__main__":
    main()
