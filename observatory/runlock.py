"""One pipeline run at a time per warehouse: a second run refuses with a clear message.

The lock is an advisory ``flock`` on ``<warehouse>.lock``; the kernel releases it when the holder dies, so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from observatory.errors import ObservatoryError


class RunInProgressError(ObservatoryError):
    """Another run holds the warehouse."""


@contextlib.contextmanager
def run_lock(warehouse: str | Path) -> Iterator[Path]:
    """Hold the run lock of ``warehouse`` for the duration of the block, or raise RunInProgressError."""
    path = Path(str(warehouse) + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(path)
            raise RunInProgressError(
                f"another observatory run is using {warehouse} ({holder}); wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        yield path
    finally:
        os.close(fd)


def _read_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
        return f"pid {info.get('pid')}, started {info.get('started')}"
    except (OSError, ValueError):
        return "holder unknown"
