"""Shared fixtures and the suite's markers.

Expensive things are built once per session and shared:

- ``sample_extracts``: generated raw extracts (``--fraction E2E_FRACTION --seed 42``), read-only;
- ``published``: one whole ``observatory run`` on them (CLI, as a user would), read-only; under pytest-xdist
  both are made once for all processes (a file lock) — see the scheduling comment below;
- ``published_copy``: a private copy of that run (extracts, warehouse, publication) for a test that runs the
  pipeline again, breaks something or kills a run, without paying for a first run of its own;
- ``micro_published``: the hand-made micro-dataset (``tests/test_indicators.py``) through the indicators, the
  protection and the publication of the table, read-only, for the API, audit and notebook tests.

Markers (registered in ``pyproject.toml``): ``e2e`` (runs the whole pipeline, or a large part of it, through
the CLI or a Dagster job), ``browser`` (Chromium), ``faults`` (killed and broken runs). They are set here from
the fixtures a test uses and from its module (:data:`MODULE_MARKS`), so a new test that asks for
``published`` is an ``e2e`` test without saying so. ``make test-fast`` deselects all three.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MILLESIME = 2023
# The end-to-end fraction: "sample" is 0.02; OBSERVATORY_E2E_FRACTION can make it smaller for a quick local run.
E2E_FRACTION = float(os.environ.get("OBSERVATORY_E2E_FRACTION", "0.02"))

# Markers by module, for tests that build their own runs (the fixtures below mark the others).
MODULE_MARKS = {
    "test_end_to_end": ("e2e",),
    "test_idempotence": ("e2e",),
    "test_faults": ("e2e", "faults"),
    "test_distributed": ("e2e",),
}
# Markers by fixture: a test that uses one of these is marked, whatever its module.
FIXTURE_MARKS = {
    "published": ("e2e",),
    "published_copy": ("e2e",),
    "browser": ("browser",),
    "chromium_page": ("browser",),
}


# `make test` spreads the tests over two processes (pytest-xdist, `--dist loadgroup --no-loadscope-reorder`):
# groups of tests, taken in the order below by whichever process is free. The session's run is made once, by the
# first process that asks for it (a file lock: the other waits for it, or finds it made). The light users of
# that run come first, so one process starts it at once while the other takes the slowest modules that do not
# need it, then the rest of the modules that do not need it (together longer than the run: the other process
# never waits on it); the heavy users of the run, each module a group, come last, for both processes (at 1c3984e
# on 5 December, in a 421-s `make test`: the session's run and its light users 318 s, the modules that do not need
# it 347 s, the heavy users 115 s). Measured times (`make test --durations`), to be kept roughly in order when a
# module grows.
SESSION_RUN_FIXTURES = ("published", "published_copy")
SESSION_RUN_HEAVY = ("test_faults", "test_end_to_end", "test_accessibility")  # 46, 32, 37 s
# Heavy users whose tests share no module fixture: one group per test, so that the two processes end together
# (as one group per module, 28 s apart at fa3f87f: one process ran test_faults, the other the two others)
SESSION_RUN_SPLIT = ("test_end_to_end", "test_accessibility")
SLOWEST_MODULES = (  # test_distributed apart: 24, 24, 21, 19, 44, 8 s
    "test_distributed",  # `make test-system` only (≈ 300 s): beside the session's run, which it does not use
    "test_barometre",
    "test_secrecy_products",
    "test_end_to_end",
    "test_territories",
    "test_audit",
    "test_schedules_sensors",
)


def _place(module: str, uses_run: bool, system: bool = False, test: str = "") -> tuple[str, tuple[int, int]]:
    """The test's group and the group's place in the queue. Under ``make test-system``, one process makes the
    session's run and its rerun (idempotence) while the other runs the Celery runs then the fault runs: a system
    test with runs of its own (the regional extract's) comes last, for the first process to take when it is
    free, instead of delaying the fault runs."""
    if system and not uses_run and module != "test_distributed":
        return f"{module}-system", (4, 0)
    if uses_run and module in SESSION_RUN_SPLIT and not system:
        return f"session-run-{module}-{test}", (3, SESSION_RUN_HEAVY.index(module))
    if uses_run and module in SESSION_RUN_HEAVY:
        return f"session-run-{module}", (3, SESSION_RUN_HEAVY.index(module))
    if uses_run:
        return "session-run", (0, 0)
    if module in SLOWEST_MODULES:
        return module, (1, SLOWEST_MODULES.index(module))
    return module, (2, 0)  # a module's fixtures are built once; pytest's order within (the sort is stable)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items) -> None:
    place = {}
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        names = set(MODULE_MARKS.get(module, ()))
        fixtures = getattr(item, "fixturenames", ())
        for fixture in fixtures:
            names.update(FIXTURE_MARKS.get(fixture, ()))
        for name in sorted(names):
            item.add_marker(getattr(pytest.mark, name))
        system = item.get_closest_marker("system") is not None
        uses_run = any(f in fixtures for f in SESSION_RUN_FIXTURES)
        group, place[item] = _place(module, uses_run, system, getattr(item, "originalname", item.name))
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=place.__getitem__)


def pytest_configure(config) -> None:
    """A test process started with SIGINT ignored (a background job of a non-interactive shell, as a CI script
    may start it) gets the default SIGINT handler back. Dagster maps SIGTERM to SIGINT's handler when one of its
    in-process runs ends (``dagster._utils.interrupts``): SIGTERM would then be ignored by the test process and by
    every child it starts, an ignored signal surviving ``exec`` (seen: the portal tests' ``http.server`` outlived
    SIGTERM after the baromètre job had run in process)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_finish(session) -> None:
    """Under ``--dist loadgroup``, stop when pytest-xdist could not tag the groups (it rewrites node ids; a
    pytest that builds them otherwise loses the groups, and every process would make the session's run)."""
    if getattr(session.config.option, "loadgroup", False) and session.items and "@" not in session.items[0].nodeid:
        raise pytest.UsageError("pytest-xdist --dist loadgroup cannot group the tests with this pytest version")


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, except in CI (``OBSERVATORY_REQUIRE_ALL=1``) where it fails."""
    if condition:
        return
    if os.environ.get("OBSERVATORY_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Published:
    """Where an end-to-end run read and wrote."""

    root: Path
    data_dir: Path
    output_dir: Path
    warehouse: Path
    env: dict
    log: str

    @property
    def vintage(self) -> Path:
        return self.output_dir / str(MILLESIME)

    @property
    def raw(self) -> Path:
        return self.data_dir / str(MILLESIME)

    def clone(self, root: Path) -> Published:
        """A private copy under ``root`` (extracts, warehouse, publication, run reports), with its own
        environment: runs on the copy never touch the session's run."""
        root.mkdir(parents=True, exist_ok=True)
        for name in ("data_raw", "output", "warehouse"):
            src = self.root / name
            if src.exists():
                shutil.copytree(src, root / name, symlinks=True)
        return replace(
            self,
            root=root,
            data_dir=root / "data_raw",
            output_dir=root / "output",
            warehouse=root / "warehouse" / "observatory.duckdb",
            env=observatory_env(root),
        )


def observatory_env(root: Path) -> dict:
    """The environment of an ``observatory`` command whose extracts, warehouse and publication live under
    ``root`` (the map cache is the worktree's, shared). No ``DAGSTER_HOME``: each run has an ephemeral
    instance unless a test sets one."""
    env = dict(os.environ)
    env.update(
        OBSERVATORY_DATA_DIR=str(root / "data_raw"),
        OBSERVATORY_OUTPUT_DIR=str(root / "output"),
        OBSERVATORY_WAREHOUSE=str(root / "warehouse" / "observatory.duckdb"),
        OBSERVATORY_CACHE_DIR=str(ROOT / "warehouse" / "cache"),
        OBSERVATORY_MILLESIME=str(MILLESIME),
    )
    env.pop("DAGSTER_HOME", None)
    return env


def run_cli(args: list[str], env: dict, timeout: int = 2400) -> subprocess.CompletedProcess:
    """Run ``observatory ARGS`` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "observatory.cli", *args],
        check=False,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def generate_extracts(env: dict, fraction: float | str = E2E_FRACTION, seed: int = 42) -> None:
    """``observatory generate`` into the ``OBSERVATORY_DATA_DIR`` of ``env``."""
    gen = run_cli(
        ["generate", "--fraction", str(fraction), "--millesime", str(MILLESIME), "--seed", str(seed)], env
    )
    assert gen.returncode == 0, gen.stderr


def _shared(tmp_path_factory, name: str) -> Path:
    """A folder of the whole test session, the same for every pytest-xdist process (their temporary folders
    are siblings)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


@contextmanager
def _made_once(tmp_path_factory, name: str):
    """Hold the session-wide lock of ``name``: yields its folder and the path of its record, which does not
    exist until the first holder has made the thing and written it."""
    folder = _shared(tmp_path_factory, name)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = folder / ".made.json"
        yield folder, record


@pytest.fixture(scope="session")
def sample_extracts(tmp_path_factory) -> Path:
    """The generated extracts of the session (``data_raw`` folder, vintage inside); never write into it."""
    with _made_once(tmp_path_factory, "extracts") as (root, record):
        if not record.exists():
            generate_extracts(observatory_env(root))
            record.write_text("{}")
    return root / "data_raw"


@pytest.fixture(scope="session")
def published(tmp_path_factory, sample_extracts: Path) -> Published:
    """The whole pipeline run once on the session's extracts (CLI, in process Dagster); never write into it
    (use ``published_copy``). Made once for all pytest-xdist processes; a failed run fails every test that
    asks for it with the run's own output, without being run again."""
    with _made_once(tmp_path_factory, "e2e") as (root, record):
        env = observatory_env(root)
        if not record.exists():
            shutil.copytree(sample_extracts, root / "data_raw")
            run = run_cli(["run", "--millesime", str(MILLESIME)], env)
            made = {"returncode": run.returncode, "stdout": run.stdout, "stderr": run.stderr[-5000:]}
            record.write_text(json.dumps(made))
        made = json.loads(record.read_text())
    assert made["returncode"] == 0, f"stdout:\n{made['stdout']}\nstderr:\n{made['stderr']}"
    return Published(
        root=root,
        data_dir=root / "data_raw",
        output_dir=root / "output",
        warehouse=root / "warehouse" / "observatory.duckdb",
        env=env,
        log=made["stdout"],
    )


@pytest.fixture
def published_copy(published: Published, tmp_path: Path) -> Published:
    """A private copy of the session's run, for a test that runs again, breaks or kills something."""
    return published.clone(tmp_path / "copy")


@pytest.fixture(scope="session")
def micro_published(tmp_path_factory):
    """The micro-dataset's indicators protected and published once (``Settings`` of it); read-only."""
    from tests.test_indicators import publish_sample

    return publish_sample(tmp_path_factory.mktemp("micro"))


@pytest.fixture
def beside_submissions(monkeypatch) -> list[tuple[str, tuple]]:
    """What the test submits to :mod:`observatory.pools` pools, as ``(function name, arguments)``, with two
    workers allowed (``observatory.beside`` then starts its second process): the pools stay real."""
    from observatory import config, pools

    submitted: list[tuple[str, tuple]] = []
    spawn_pool = pools.spawn_pool

    def spied_pool(*args, **kwargs):
        pool = spawn_pool(*args, **kwargs)
        submit = pool.submit

        def spied_submit(fn, *fn_args, **fn_kwargs):
            submitted.append((fn.__name__, fn_args))
            return submit(fn, *fn_args, **fn_kwargs)

        pool.submit = spied_submit
        return pool

    monkeypatch.setattr(config, "WORKERS", 2)
    monkeypatch.setattr(pools, "spawn_pool", spied_pool)
    return submitted
