"""One function call in a second process, beside the caller's own work.

The protection and its audit each have two halves that share nothing until the end (the protection's
establishment counts and magnitudes; the audit's territory relations and 2-D tables). On a large table each
runs its second half here while it works on the first. Both use this module, not each other (the audit never
imports the protection).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from observatory import config, pools

log = logging.getLogger(__name__)


def start(fn: Callable, *args, enabled: bool = True):
    """``fn(*args)`` started in a second process when ``enabled`` and a second worker is allowed
    (:func:`observatory.config.workers`: ``OBSERVATORY_WORKERS``, 1 in a daemonic process); otherwise called
    here at once. The returned object's ``result()`` is what ``fn`` returned.

    ``fn`` and its arguments are pickled (``fn`` a module-level function); the process is
    :func:`observatory.pools.spawn_pool`'s (``spawn``; it ends with this process). A process that cannot start
    (e.g. a script without an ``if __name__ == "__main__"`` guard, which ``spawn`` cannot start from) is
    replaced by a call here, with a warning."""
    if not enabled or config.workers() < 2:
        return _Done(fn(*args))
    pool = pools.spawn_pool(1)
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)  # the worker ends with its one task
    return _Beside(future, fn, args)


@dataclass
class _Done:
    value: Any

    def result(self) -> Any:
        return self.value


@dataclass
class _Beside:
    future: Future
    fn: Callable
    args: tuple

    def result(self) -> Any:
        try:
            return self.future.result()
        except BrokenProcessPool:
            log.warning("%s: its second process failed to start; run in this process", self.fn.__name__)
            return self.fn(*self.args)
