"""A step process ends with the run that started it.

The multiprocess executor runs each step in a process of its own, started (``spawn``, or forked by a
``forkserver`` for ``observatory run``) on behalf of the run's process. When that process is killed with
SIGKILL (by the analyst, ``timeout -s KILL``, the out-of-memory killer), nothing tells the step: it goes on to
the end of its work. Measured: an audit step finished and recorded its success 65 s after its run had died; a
protection step on France would hold gigabytes for minutes, then write the warehouse while the next run works
in it.

:func:`bind_step_to_run` (called by the resources that every step uses, as the step starts) watches the run's
process and kills the step the moment it is gone; the step's own pools follow it (:mod:`observatory.pools`).
Steps run in the run's process (``in_process``) or by a Celery worker are not concerned: their process was not
started by ``multiprocessing``.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time

from observatory.files import pid_alive

_bound = False


def bind_step_to_run() -> None:
    """In a process started by ``multiprocessing``, SIGKILL this process when the process that started it
    ends (for a step: the run's process, also when a forkserver did the fork). Once per process; elsewhere,
    nothing."""
    global _bound
    parent = multiprocessing.parent_process()
    if _bound or parent is None or parent.pid is None:
        return
    _bound = True
    threading.Thread(target=_end_with, args=(parent.pid,), name="observatory-lifeline", daemon=True).start()


def _end_with(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # Linux ≥ 5.3: readable once ``pid`` has ended
    except ProcessLookupError:
        _die()
    except (AttributeError, OSError):  # no pidfd here: ask every second
        while pid_alive(pid):
            time.sleep(1.0)
        _die()
    else:
        select.select([fd], [], [])
        _die()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
