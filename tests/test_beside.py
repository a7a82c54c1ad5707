"""observatory.beside: one call in a second process, or here."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

from observatory import beside


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def test_a_call_runs_in_a_second_process_and_returns_its_value(monkeypatch):
    monkeypatch.setattr(beside.config, "WORKERS", 2)
    pid, value = beside.start(_pid_and_square, 7).result()
    assert value == 49 and pid != os.getpid()


def test_a_call_runs_here_when_not_enabled_or_with_one_worker(monkeypatch):
    monkeypatch.setattr(beside.config, "WORKERS", 2)
    assert beside.start(_pid_and_square, 3, enabled=False).result() == (os.getpid(), 9)
    monkeypatch.setattr(beside.config, "WORKERS", 1)
    assert beside.start(_pid_and_square, 4).result() == (os.getpid(), 16)


def test_a_second_process_that_cannot_start_is_replaced_by_a_call_here(monkeypatch, caplog):
    class Broken:  # what ProcessPoolExecutor gives when its process dies at start
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, fn, *args):
            future = Future()
            future.set_exception(BrokenProcessPool("the process died"))
            return future

        def shutdown(self, wait=True):
            pass

    monkeypatch.setattr(beside.config, "WORKERS", 2)
    monkeypatch.setattr(beside.pools, "spawn_pool", Broken)
    with caplog.at_level(logging.WARNING, logger="observatory.beside"):
        assert beside.start(_pid_and_square, 5).result() == (os.getpid(), 25)
    assert "_pid_and_square: its second process failed to start" in caplog.text


def _in_a_daemon(queue) -> None:
    """What a step sees in a ``dagster-celery`` worker: a daemonic process, which may not start processes."""
    from observatory import config
    from observatory.publish import barometre_docs, portrait, release  # noqa: F401 - their pools ask config

    config.WORKERS = 2
    queue.put((config.workers(), beside.start(_pid_and_square, 6).result(), os.getpid()))


def test_a_daemonic_process_works_alone_and_calls_here():
    """A daemonic process (a Celery prefork worker's task) gets one worker: ``beside.start`` calls ``fn`` in
    it instead of failing with "daemonic processes are not allowed to have children" (seen in the
    distributed run's audit step), and so do the publications' pools (they ask the same function)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_a_daemon, args=(queue,), daemon=True)
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 0  # it raised (its traceback is above) or hung
    workers, (pid, value), own_pid = queue.get(timeout=5)
    assert workers == 1 and value == 36 and pid == own_pid
