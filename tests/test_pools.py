"""Processes that end with the one that started them, even when it is SIGKILLed: a pool's workers
(``observatory.pools``) and a Dagster step process with its pools (``pipelines.lifeline``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import observatory
from observatory import pools

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

ROOT = Path(observatory.__file__).parents[1]

_POOL_OWNER = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
from observatory import pools

if __name__ == "__main__":
    if sys.argv[1] == "plain":
        import multiprocessing
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    else:
        pool = pools.spawn_pool(2)
    for f in [pool.submit(time.sleep, 0.5) for _ in range(2)]:  # two at once: two workers started
        f.result()
    print(*pool._processes, flush=True)
    time.sleep(120)  # killed before
"""

_RUN = """
import multiprocessing, os, sys, time
from observatory import pools


def step(bind, queue):
    if bind:
        from pipelines.lifeline import bind_step_to_run

        bind_step_to_run()
    pool = pools.spawn_pool(1)
    pool.submit(time.sleep, 0.1).result()
    queue.put((os.getpid(), *pool._processes))
    time.sleep(120)


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[2])
    queue = ctx.Queue()
    ctx.Process(target=step, args=(sys.argv[1] == "bind", queue)).start()
    print(*queue.get(), flush=True)
    time.sleep(120)  # killed before
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _left_after_sigkill(tmp_path: Path, script: str, args: list[str], wait: float) -> list[int]:
    """Run ``script``, which prints the pids of two processes it started; SIGKILL it; return those of the two
    still alive ``wait`` seconds later (at once when none are)."""
    path = tmp_path / "owner.py"
    path.write_text(textwrap.dedent(script))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    owner = subprocess.Popen([sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True, env=env)
    line = owner.stdout.readline()
    started = [int(pid) for pid in re.findall(r"\d+", line)]
    assert len(started) == 2, line
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + wait
    while any(map(_alive, started)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in started if _alive(pid)]


def _kill(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


def test_a_plain_pool_s_workers_outlive_a_killed_owner_and_ours_do_not(tmp_path):
    survivors = _left_after_sigkill(tmp_path, _POOL_OWNER, ["plain"], wait=1.0)
    _kill(survivors)  # the defect observatory.pools is for; clean up what it left
    assert len(survivors) == 2, "the standard pool no longer leaves orphans: this test shows nothing any more"
    assert _left_after_sigkill(tmp_path, _POOL_OWNER, ["ours"], wait=10.0) == []


def test_a_worker_whose_parent_is_already_gone_ends_at_once():
    code = "from observatory import pools; pools.die_with_parent(1); print('still here')"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1 and "still here" not in done.stdout


def _mark(value: str) -> None:
    os.environ["OBS_POOL_TEST"] = value


def _marked(_: int) -> str | None:
    return os.environ.get("OBS_POOL_TEST")


def test_an_initializer_still_runs_in_each_worker():
    with pools.spawn_pool(2, initializer=_mark, initargs=("yes",)) as pool:
        assert set(pool.map(_marked, range(4))) == {"yes"}


def test_every_pool_of_the_package_is_made_by_observatory_pools():
    made = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("observatory", "pipelines")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "pools.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\b(ProcessPoolExecutor|multiprocessing\.Pool|get_context\([^)]*\)\.Pool)\(", line)
    ]
    assert made == []


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_a_bound_step_and_its_pool_end_with_the_run(tmp_path, start_method):
    """A 'run' starts a 'step' process (as the multiprocess executor does) that binds itself and makes a pool."""
    assert _left_after_sigkill(tmp_path, _RUN, ["bind", start_method], wait=10.0) == []


def test_an_unbound_step_outlives_its_run(tmp_path):
    """What binding is for (and proof that the test above can fail)."""
    left = _left_after_sigkill(tmp_path, _RUN, ["free", "spawn"], wait=1.0)
    _kill(left)
    assert len(left) == 2


def test_the_run_s_own_process_is_never_bound(monkeypatch):
    from pipelines import lifeline

    monkeypatch.setattr(lifeline, "_bound", False)
    lifeline.bind_step_to_run()  # pytest's process was not started by multiprocessing: nothing to watch
    assert lifeline._bound is False


def test_every_step_of_every_job_starts_a_resource_that_binds_it():
    """Steps are bound by the resources' start (:class:`pipelines.resources.ObservatoryConfig` and
    :class:`pipelines.resources.Warehouse`): a step that used neither would outlive a killed run."""
    from pipelines.definitions import defs
    from pipelines.resources import ObservatoryConfig, Warehouse

    resources = defs.resources
    binding = {k for k, r in resources.items() if isinstance(r, ObservatoryConfig | Warehouse)}
    assert binding == {"observatory", "duckdb"}
    unbound = {
        node.name
        for job in defs.get_repository_def().get_all_jobs()
        for node in job.all_node_defs
        if not set(node.required_resource_keys) & binding
    }
    assert unbound == set()
