"""The same jobs past one machine: the ``celery`` executor (``pipelines/executor.py``) with a Redis broker and
two ``dagster-celery`` workers, all on 127.0.0.1 (ephemeral ports, stopped at the end).

The annual job and région partitions of ``panoramas_job`` run through the workers, launched with the
``dagster job execute`` command and the run config of ``deploy/celery/``; the same jobs run in process
(``execution: config: in_process``) on a copy of the same extracts. The outputs must be equal: the same
SHA-256 for the indicator table (Parquet and CSV), the same text in every PDF of those régions (PDFium). Both
workers must have run steps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from observatory.publication import sha256
from tests.conftest import MILLESIME, ROOT, generate_extracts, observatory_env, require

# A long system test: left out of `make test`, run by `make test-system` and by CI after it.
pytestmark = pytest.mark.system

REGIONS = os.environ.get("OBSERVATORY_DISTRIBUTED_REGIONS", "53,94,28").split(",")
"""Région partitions run through the workers (all 18: ``OBSERVATORY_DISTRIBUTED_REGIONS`` with every code)."""
BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy" / "celery"
WORKERS = ("w1", "w2")
TIMEOUT = 1800
FRACTION = os.environ.get("OBSERVATORY_DISTRIBUTED_FRACTION", "0.005")
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process group this test started (the worker command starts ``celery``, which forks)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait(condition, what: str, procs: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [p.args for p in procs if p.poll() is not None]
        assert not dead, f"exited before {what}: {dead}"
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def extracts(tmp_path_factory) -> Path:
    """Generated extracts (``data_raw``) for both runs; never written into."""
    root = tmp_path_factory.mktemp("distributed-extracts")
    generate_extracts(observatory_env(root), fraction=FRACTION)
    return root / "data_raw"


@pytest.fixture(scope="module")
def cluster(extracts, tmp_path_factory):
    """A Redis server and two Celery workers on the loopback, with their own Dagster instance (SQLite, the
    repository's ``dagster.yaml``) and a fresh warehouse and output over a copy of the extracts."""
    redis = shutil.which("redis-server")
    require(
        redis is not None, "redis-server is not installed (Debian package redis-server; .ci/run installs it)"
    )
    root = tmp_path_factory.mktemp("distributed")
    shutil.copytree(extracts, root / "data_raw")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = observatory_env(root)
    env.update(
        DAGSTER_HOME=str(home),
        OBSERVATORY_CELERY_BROKER=f"redis://127.0.0.1:{port}/0",
        OBSERVATORY_CELERY_BACKEND=f"redis://127.0.0.1:{port}/1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    # Create the instance's storage once: two workers starting together would both migrate a new SQLite schema.
    migrate = subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"], check=False, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    procs: list[subprocess.Popen] = []
    logs: dict[str, Path] = {}
    try:
        with open(root / "redis.log", "w") as out:
            procs.append(
                subprocess.Popen(
                    [
                        redis,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(root),
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        _wait(lambda: _redis_ready(port), "redis-server", procs)
        for name in WORKERS:
            logs[name] = root / f"worker-{name}.log"
            with open(logs[name], "w") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            str(BIN / "dagster-celery"),
                            "worker",
                            "start",
                            "-A",
                            "dagster_celery.app",
                            "-y",
                            str(DEPLOY / "worker.yaml"),
                            "-n",
                            name,
                            "--",
                            "--concurrency=1",
                        ],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        for name in WORKERS:
            _wait(lambda n=name: " ready." in logs[n].read_text(errors="replace"), f"worker {name}", procs)
        yield root, env, logs
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _execute(env: dict, job: str, tags: dict | None = None, config: Path | None = None):
    args = [str(BIN / "dagster"), "job", "execute", "-m", "pipelines.definitions", "-j", job]
    args += ["-c", str(config or DEPLOY / "run_config.yaml")]
    if tags:
        args += ["--tags", json.dumps(tags)]
    return subprocess.run(
        args, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT
    )


def _run_all(env: dict, config: Path | None = None) -> list[subprocess.CompletedProcess]:
    """The annual job, then each région of :data:`REGIONS`; each must succeed."""
    runs = [_execute(env, "observatory_job", config=config)]
    runs += [_execute(env, "panoramas_job", {"dagster/partition": code}, config) for code in REGIONS]
    for run in runs:
        assert run.returncode == 0, f"{run.args}\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}"
    return runs


@pytest.fixture(scope="module")
def distributed(cluster):
    """The annual job, then each région of :data:`REGIONS`, through the workers."""
    root, env, logs = cluster
    return root / "output" / str(MILLESIME), logs, _run_all(env)


@pytest.fixture(scope="module")
def in_process(extracts, tmp_path_factory) -> Path:
    """The same jobs, every step in the launching process (ephemeral instance), on a copy of the extracts."""
    root = tmp_path_factory.mktemp("in-process")
    shutil.copytree(extracts, root / "data_raw")
    config = root / "in_process.yaml"
    config.write_text(json.dumps(IN_PROCESS))  # JSON is YAML
    home = root / "dagster_home"  # its own instance (the CLI's temporary one would read ./dagster.yaml)
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    _run_all(observatory_env(root) | {"DAGSTER_HOME": str(home)}, config)
    return root / "output" / str(MILLESIME)


def _pdf_text(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def _celery_steps(home: Path) -> dict[str, set[str]]:
    """Job name → the Celery workers that ran its steps, from the runs' event logs in the instance."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    seen: dict[str, set[str]] = {}
    try:
        for run in instance.get_runs():
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                data = record.dagster_event.engine_event_data
                if data and "Celery worker" in data.metadata:
                    seen.setdefault(run.job_name, set()).add(str(data.metadata["Celery worker"].value))
    finally:
        instance.dispose()
    return seen


def test_steps_ran_on_both_celery_workers(distributed, cluster, monkeypatch):
    _, logs, _ = distributed
    home = cluster[0] / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance's dagster.yaml reads its base_dir from it
    seen = _celery_steps(home)
    assert set(seen) == {"observatory_job", "panoramas_job"}
    workers = set().union(*seen.values())
    assert {w.split("@")[0] for w in workers} == set(WORKERS), workers
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        assert "execute_plan" in text and "succeeded" in text, f"worker {name} ran no step:\n{text[-3000:]}"


def test_distributed_indicator_table_equals_the_in_process_one(distributed, in_process):
    vintage, _, _ = distributed
    for name in ("indicateurs.parquet", "indicateurs.csv"):
        assert sha256(vintage / "tables" / name) == sha256(in_process / "tables" / name), name


def test_distributed_region_pdfs_have_the_in_process_text(distributed, in_process):
    vintage, _, _ = distributed
    pdfs = sorted(p.relative_to(vintage) for p in (vintage / "panoramas").rglob("*.pdf"))
    assert {f"region-{code}.pdf" for code in REGIONS} <= {p.name for p in pdfs}
    assert len(pdfs) > len(REGIONS)  # the départements' plaquettes of those régions too
    for rel in pdfs:
        assert _pdf_text(vintage / rel) == _pdf_text(in_process / rel), rel
