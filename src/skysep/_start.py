"""The ``skysep`` command's entry point: what starts before the command line loads.

``skysep replay`` forks the process that draws report.html's figures here,
before :mod:`skysep.cli` is imported (typer, rich, NumPy: 0.1 s) and before
the options are parsed (typer imports pydantic: 0.1 s more): matplotlib
loads on the other core meanwhile. This module imports nothing but the
standard library until the command runs.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from skysep.replay._figure_worker import FigureWorker

__all__ = [
    "exit_now",
    "figures_wanted",
    "keep_freed_memory",
    "main",
    "run",
    "start_early",
    "take_early",
]

#: The figure process :func:`start_early` started, until the command takes it.
_EARLY_FIGURES: list[FigureWorker] = []


def main() -> None:
    """Entry point of the ``skysep`` console script."""
    args = sys.argv[1:]
    start_early(args)
    try:
        run()
    except SystemExit as stop:
        if args[:1] == ["replay"] and stop.code in (None, 0):
            exit_now()
        raise


def exit_now() -> NoReturn:
    """End a command that succeeded without the interpreter's clean-up.

    After ``skysep replay`` has written its outputs (files closed and moved
    into place, the figure process joined), tearing down numba, llvmlite and
    pyarrow module by module takes 0.02-0.03 s for nothing; the standard
    streams are flushed first.
    """
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def run() -> None:
    """The command line (:mod:`skysep.cli`), then stop what :func:`start_early` started and
    the command did not take (it failed before, or did not run)."""
    try:
        from skysep.cli import app

        app()
    finally:
        while _EARLY_FIGURES:
            _EARLY_FIGURES.pop().close()


def start_early(args: list[str]) -> None:
    """What ``skysep replay`` starts before the command line loads (see the module)."""
    if args[:1] != ["replay"]:
        return
    keep_freed_memory()
    if figures_wanted(args):
        from skysep.replay._figure_worker import FigureWorker

        if FigureWorker.available():
            gc.freeze()  # what is loaded now stays: the collector need not go over it again
            _EARLY_FIGURES.append(FigureWorker(processes=os.cpu_count() or 1))


def take_early() -> FigureWorker | None:
    """The figure process :func:`start_early` started, for the command to use or close."""
    return _EARLY_FIGURES.pop() if _EARLY_FIGURES else None


def figures_wanted(args: list[str]) -> bool:
    """Whether these arguments are a ``skysep replay`` that will draw report.html's figures.

    A guess from the words alone, before typer parses them: a wrong guess
    costs a process started for nothing (the command closes it), or started
    later, never a different result.
    """
    if not args or args[0] != "replay":
        return False
    refused = ("--no-report", "--help", "-h", "--max-plotted")
    return not any(arg == word or arg.startswith(f"{word}=") for arg in args for word in refused)


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep the memory of freed arrays for the next ones (this process
    and those it forks); whether it could (glibc only).

    By default an array of more than 128 kB (a dynamic threshold, up to 32 MB)
    is mapped afresh from the kernel and unmapped when freed, and the heap's
    free top is given back: a replay's temporaries (tens of thousands of
    pages) fault in again and again. Here arrays up to 32 MB come from the
    heap, which grows by 64 MB and is not trimmed: a third fewer page faults
    in ``skysep replay`` (docs/numbers-replay.md). The memory goes back to
    the system when the command ends.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # malloc.h
    settings = ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_top_pad, 64 << 20))
    return all(mallopt(option, value) == 1 for option, value in settings)
