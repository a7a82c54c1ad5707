"""Process pools whose workers end with the process that made them.

Every pool of the package is made here. Its processes are started with ``spawn``: the caller may be a
Dagster step process with threads, which must not be forked. A plain
:class:`~concurrent.futures.ProcessPoolExecutor` worker that loses its parent to SIGKILL (a run killed by the
analyst, by ``timeout -s KILL`` or by the out-of-memory killer) never learns it: it waits on its task queue,
whose write end it holds itself, and stays (idle, with the indicator table it read: about 650 MB each on the
sample) until the machine restarts. Here each worker asks the kernel to kill it when its parent dies (Linux
``PR_SET_PDEATHSIG``), and ends at once if the parent died before it could ask.

The kernel sends that signal when the *thread* that started the worker ends; a pool's workers are started by
the thread that submits to it, so make and use a pool in one thread (a ``with`` block does).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
"""``prctl`` option (``<linux/prctl.h>``): the signal this process gets when its parent dies."""


def spawn_pool(
    workers: int, initializer: Callable | None = None, initargs: tuple = ()
) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that each run ``initializer(*initargs)`` first, as
    :class:`~concurrent.futures.ProcessPoolExecutor` does, and die with this process."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(os.getpid(), initializer, initargs),
    )


def _worker_start(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent (pid ``parent``) dies; exit now if it already has
    (the worker was then adopted by another process). Outside Linux only the second half holds."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning(
                "prctl(PR_SET_PDEATHSIG) failed (errno %d): this worker may outlive a killed run",
                ctypes.get_errno(),
            )
    if os.getppid() != parent:
        os._exit(1)
