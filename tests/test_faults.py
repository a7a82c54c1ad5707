"""Fault tolerance of ``observatory run``, through the real CLI, with the Dagster instance kept on disk.

The module starts from the session's published sample (``published``: a copy of its extracts, warehouse,
publication and Dagster instance), so it runs no baseline of its own, and its runs publish a subset of the
régions (``OBSERVATORY_REGIONS``), so that they are short:

1. bad extracts at several stages (an unreadable file, jobs that match no establishment, a quarantine rate above
   the threshold): each run fails with one line naming the file or the check, and every file under
   ``output/`` is byte-identical (these start from the session's extracts and a few files of its publication:
   :data:`BAD_RUN_PUBLICATION`);
2. runs killed with SIGKILL at several points — while ``staging`` holds the ``duckdb_writer`` pool slot, during
   the secrecy step, while the régions render — each leave every file under ``output/`` byte-identical and no
   process behind (step processes and their pools' workers end with the run); each next run reports the dead
   one (marked failed, its slots freed) and does not wait on it;
3. a run stopped with SIGTERM stops cleanly (no step process left, publication unchanged);
4. then a normal run finishes, while a second run started beside it refuses naming the first and a researcher
   reads the table in a loop (who only ever sees the whole table): the publication is the new one, whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import observatory as obs
from observatory.publication import sha256
from tests.conftest import MILLESIME, ROOT, run_cli

REGIONS = "52,53"
"""The régions the module's runs publish (two consecutive partitions: one panoramas run over a range)."""
RUN_TIMEOUT = 900
# Files a publication may hold besides its products: the manifest's lock file (hidden, never a product).
PERMANENT_HIDDEN = {".manifest.lock"}
TEMP_SUFFIXES = (".tmp", ".old", ".part", "-journal", "-wal", "-shm", "~")


# ------------------------------------------------------------------------------------------------ helpers
def _env(root: Path, published_env: dict) -> dict:
    env = dict(published_env)
    env.update(
        OBSERVATORY_DATA_DIR=str(root / "data_raw"),
        OBSERVATORY_OUTPUT_DIR=str(root / "output"),
        OBSERVATORY_WAREHOUSE=str(root / "warehouse" / "observatory.duckdb"),
        OBSERVATORY_REGIONS=REGIONS,
        DAGSTER_HOME=str(root / "warehouse" / "dagster_home"),  # the instance is kept between the runs
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_run(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "observatory.cli", "run", "--millesime", str(MILLESIME)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _children() -> dict[int, int]:
    """pid → ppid of every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(pid: int) -> list[int]:
    parents = _children()
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_for(condition, proc: subprocess.Popen, log: Path, what: str, timeout: float = RUN_TIMEOUT) -> None:
    """Poll ``condition`` until true; fail if the run ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def _sigkill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _reap(pids: list[int], grace: float = 30.0) -> list[str]:
    """Kill (by pid) the processes of a run that outlive it by ``grace`` seconds; return their command lines.

    The grace is for the run's forkserver: it exits when it reads the end of the run's pipe, which a loaded
    machine may take more than a second to schedule (CI saw it alive one second after a run had ended). A
    process that is still there after half a minute has outlived the run.
    """
    deadline = time.monotonic() + grace
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in pids if _alive(p)]
    lines = [_cmdline(p) for p in left]
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return lines


def _published(vintage: Path) -> list[Path]:
    """The files of the publication, sorted.

    Hidden paths (the manifest lock, a région partition's staging folder) are not part of it: nobody
    browsing the publication or the portal sees them, and :func:`_hidden` checks that the next run removes
    what a killed run left there.
    """
    return [
        p
        for p in sorted(vintage.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(vintage).parts)
    ]


def _files(vintage: Path) -> dict[str, tuple[int, str]]:
    """Every file of the publication: relative path → (mtime_ns, sha256)."""
    return {str(p.relative_to(vintage)): (p.stat().st_mtime_ns, sha256(p)) for p in _published(vintage)}


def _check_readable(path: Path) -> None:
    """Open ``path`` with the reader its format needs; raise if it is truncated or malformed."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        assert pq.read_table(path).num_rows >= 0
    elif suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        lines = text.splitlines()
        assert lines, "empty CSV"
        assert text.endswith(("\n", "\r\n")), "CSV does not end with a newline (truncated?)"
        if path.name == "indicateurs.csv":
            pacsv.read_csv(path)
    elif suffix == ".xlsx":
        import openpyxl

        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
        wb = openpyxl.load_workbook(path, read_only=True)
        assert wb.sheetnames
        wb.close()
    elif suffix == ".pdf":
        import pypdf

        data = path.read_bytes()
        assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:], "truncated PDF"
        assert len(pypdf.PdfReader(path).pages) >= 1
    elif suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))
    elif suffix == ".png":
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-4] == b"\0\0\0\0IEND", "truncated PNG"
    elif suffix == ".svg":
        ET.parse(path)
    elif suffix == ".gpkg":
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert con.execute("SELECT count(*) FROM gpkg_contents").fetchone()[0] >= 1
        finally:
            con.close()
    elif suffix in (".html", ".css", ".js"):
        path.read_text(encoding="utf-8")
    elif path.name in PERMANENT_HIDDEN:
        pass
    else:
        raise AssertionError(f"unexpected file in the publication: {path.name}")


def _unreadable(vintage: Path) -> list[str]:
    bad = []
    for path in _published(vintage):
        try:
            _check_readable(path)
        except Exception as exc:  # noqa: BLE001 - collect every problem, report them together
            bad.append(f"{path.relative_to(vintage)}: {type(exc).__name__}: {exc}")
    return bad


def _visible_temporaries(vintage: Path) -> list[str]:
    """Temporary-looking names a user browsing the publication (or the portal) would see."""
    return [
        str(p.relative_to(vintage))
        for p in vintage.rglob("*")
        if not any(part.startswith(".") for part in p.relative_to(vintage).parts)
        and p.name.endswith(TEMP_SUFFIXES)
    ]


def _hidden(vintage: Path) -> list[str]:
    return sorted(str(p.relative_to(vintage)) for p in vintage.rglob(".*") if p.name not in PERMANENT_HIDDEN)


def _manifest_matches_table(vintage: Path) -> dict:
    """The manifest parses and describes the table that is published beside it."""
    manifest = json.loads((vintage / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["tables"]["indicateurs"]
    assert entry["rows"] == pq.read_metadata(vintage / "tables" / "indicateurs.parquet").num_rows
    assert entry["csv_sha256"] == sha256(vintage / "tables" / "indicateurs.csv")
    return manifest


def _lock_free(warehouse: Path) -> bool:
    fd = os.open(str(warehouse) + ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _lock_holder(warehouse: Path) -> int | None:
    try:
        return json.loads(Path(str(warehouse) + ".lock").read_text() or "{}").get("pid")
    except (OSError, ValueError):
        return None


def _fingerprint(rel) -> tuple[int, int]:
    """(rows, order-independent hash of every row) of a relation on the indicator table."""
    cols = ", ".join(rel.columns)
    n, h = rel.aggregate(f"count(*), sum(hash({cols}))").fetchall()[0]
    return int(n), int(h or 0)


def _kill_mid_write(dest: Path) -> Path:
    """A process killed while writing ``dest`` through ``atomic_path``: returns the temporary file it left."""
    code = (
        "import sys, time\n"
        "from observatory.files import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'PAR1 half written')\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(dest)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    tmp = Path(proc.stdout.readline().strip())
    _sigkill(proc)
    proc.stdout.close()
    assert tmp.exists() and tmp.name.startswith("."), tmp
    return tmp


# ------------------------------------------------------------------------------------------------ the runs
@dataclass
class World:
    root: Path
    env: dict
    baseline: dict = field(default_factory=dict)  # relative path → (mtime_ns, sha256)
    baseline_manifest: dict = field(default_factory=dict)

    @property
    def vintage(self) -> Path:
        return self.root / "output" / str(MILLESIME)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "observatory.duckdb"

    @property
    def raw(self) -> Path:
        return self.root / "data_raw" / str(MILLESIME)

    @contextlib.contextmanager
    def instance(self):
        """The runs' Dagster instance (its dagster.yaml reads ``DAGSTER_HOME``: set for the block only)."""
        import dagster as dg

        before = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = self.env["DAGSTER_HOME"]
        try:
            with dg.DagsterInstance.get() as instance:
                yield instance
        finally:
            if before is None:
                os.environ.pop("DAGSTER_HOME", None)
            else:
                os.environ["DAGSTER_HOME"] = before


@pytest.fixture(scope="module")
def world(published, tmp_path_factory) -> World:
    """A copy of the session's published sample: extracts, warehouse, Dagster instance and publication."""
    root = tmp_path_factory.mktemp("faults")
    copy = published.clone(root)
    w = World(root, _env(root, copy.env))
    w.baseline = _files(w.vintage)
    w.baseline_manifest = json.loads((w.vintage / "manifest.json").read_text())
    return w


def _unchanged(world: World) -> list[str]:
    """Files of ``output/`` that differ from the baseline (added, removed, rewritten)."""
    now = _files(world.vintage)
    changed = sorted(k for k in now.keys() | world.baseline.keys() if now.get(k) != world.baseline.get(k))
    every = sorted(str(p.relative_to(world.root / "output")) for p in (world.root / "output").rglob("*"))
    extra = [p for p in every if not p.startswith(str(MILLESIME))]  # nothing beside the vintage folder
    return changed + extra


# ------------------------------------------------------------------------------------ 1. bad extracts
def _rewrite_csv(src: Path, dest: Path, edit) -> None:
    with open(src, encoding="utf-8") as fin, open(dest, "w", encoding="utf-8") as fout:
        fout.writelines(edit(n, line) for n, line in enumerate(fin))


BAD = {
    # stage: reading an extract (the jobs file lost its SIRET column)
    "unreadable": (lambda n, line: line.replace("SIRET,", "SIRT,", 1) if n == 0 else line),
    # stage: the data checks (jobs whose SIRET matches no establishment: another vintage's establishments)
    "orphans": (lambda n, line: line if n == 0 else "9" + line[1:]),
    # stage: the data checks (one line in ten of the jobs file is cut short: rejected at reading, above the 5 %
    # quarantine threshold)
    "quarantine": (lambda n, line: line if n == 0 or n % 10 else line.split(",", 1)[0] + ",2\n"),
}


# What the bad-extract runs start from: a few files of the session's publication, those a failing run would be
# likeliest to touch (the quality page and the table were once rewritten in place by one), not the whole 330 MB
# that each run would copy to its staging folder before failing. Any file added, removed or rewritten is caught.
BAD_RUN_PUBLICATION = (
    "manifest.json", "tables/indicateurs.csv", "tables/indicateurs.parquet", "qualite/rapport.html",
    "portail/index.html", "panoramas/region-53.pdf",
)  # fmt: skip


@pytest.fixture(scope="module")
def bad_runs(published, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bad-extracts")
    world = World(root, _env(root, published.env))
    for rel in BAD_RUN_PUBLICATION:
        (world.vintage / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(published.vintage / rel, world.vintage / rel)
    world.baseline = _files(world.vintage)
    out = {}
    for case, edit in BAD.items():
        data = world.root / f"data_bad_{case}"
        raw = data / str(MILLESIME)
        raw.mkdir(parents=True)
        for f in published.raw.iterdir():
            if f.name.startswith("postes"):
                _rewrite_csv(f, raw / f.name, edit)
            else:
                os.link(f, raw / f.name)
        result = run_cli(["run", "--millesime", str(MILLESIME)], {**world.env, "OBSERVATORY_DATA_DIR": str(data)})
        out[case] = (result, _unchanged(world))
    assert sorted(world.baseline) == sorted(BAD_RUN_PUBLICATION)  # the files compared were there
    return out


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("unreadable", ["postes_2023.csv", "SIRET"]),
        ("orphans", ["ess_orphan_rate", "postes_2023.csv", "matches no establishment"]),
        ("quarantine", ["staging_quarantine_rate", "postes"]),
    ],
)
def test_bad_extract_fails_in_one_line_and_changes_no_published_file(bad_runs, case, names):
    result, changed = bad_runs[case]
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("observatory: error")]
    assert len(errors) == 1, result.stderr
    for name in names:
        assert name in errors[0], errors[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "No objects to concatenate" not in result.stderr
    assert "previous publication" in result.stderr and "unchanged" in result.stderr
    assert changed == [], f"a failed run changed files under output/: {changed[:10]}"


# --------------------------------------------------------------------------------- 2. runs killed -9
def _started(world: World, pid: int, step: str) -> bool:
    import dagster as dg

    with world.instance() as instance:
        for record in instance.get_run_records(filters=dg.RunsFilter(tags={"observatory/pid": str(pid)})):
            run_id = record.dagster_run.run_id
            if any(
                r.dagster_event.step_key == step
                for r in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
            ):
                return True
    return False


KILL_POINTS = [("staging", 0.5), ("indicateurs_proteges", 1.0), ("panoramas", 2.0)]


@dataclass
class Killed:
    step: str
    pid: int
    log: str
    changed: list
    left: list


@pytest.fixture(scope="module")
def killed_runs(world: World) -> list[Killed]:
    """One run killed with SIGKILL at each point of :data:`KILL_POINTS`, one after the other; each next run
    meets the dead one in the instance (its slot in the ``duckdb_writer`` pool still taken). Independent of the
    bad-extract runs (``make test``), which ``make test-system`` does not repeat."""
    out = []
    for step, delay in KILL_POINTS:
        log = world.root / f"run-killed-{step}.log"
        proc = _start_run(world.env, log)
        _wait_for(lambda s=step, p=proc: _started(world, p.pid, s), proc, log, f"step {step} started")
        time.sleep(delay)
        family = _descendants(proc.pid)
        _sigkill(proc)
        left = _reap(family)
        out.append(Killed(step, proc.pid, log.read_text(), _unchanged(world), left))
    return out


@pytest.mark.system
def test_killed_runs_change_no_published_file(killed_runs):
    for k in killed_runs:
        assert k.changed == [], f"killed during {k.step}: {k.changed[:10]}"


@pytest.mark.system
def test_a_killed_run_s_processes_end_with_it(killed_runs):
    """Its step processes stop at once (:mod:`pipelines.lifeline`) and their pools' workers with them
    (:mod:`observatory.pools`), instead of working on for a minute, or idling for ever."""
    for k in killed_runs:
        assert k.left == [], f"killed during {k.step}, still there after 30 s: {k.left}"


@pytest.mark.system
def test_next_run_reports_the_dead_one_and_does_not_wait_on_it(killed_runs):
    """The run after a killed one says in one line that the dead run was marked failed and its slots freed, and
    goes on (it reached its own kill point, past the pool the dead run held)."""
    for before, after in itertools.pairwise(killed_runs):
        lines = [line for line in after.log.splitlines() if "had died" in line]
        assert len(lines) >= 1, after.log
        assert f"pid='{before.pid}'" in lines[0] and "marked failed, pool slots freed" in lines[0]


# ------------------------------------------------------------------------------------- 3. SIGTERM
@dataclass
class Stopped:
    returncode: int
    log: str
    changed: list
    left: list
    statuses: list
    seconds: float


@pytest.fixture(scope="module")
def stopped_run(world: World, killed_runs) -> Stopped:
    log = world.root / "run-sigterm.log"
    proc = _start_run(world.env, log)
    _wait_for(lambda: _started(world, proc.pid, "staging"), proc, log, "step staging started")
    family = set(_descendants(proc.pid))
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("observatory run ignored SIGTERM for 3 minutes")
    seconds = time.monotonic() - t0
    time.sleep(2)
    import dagster as dg

    with world.instance() as instance:
        records = instance.get_run_records(filters=dg.RunsFilter(tags={"observatory/pid": str(proc.pid)}))
        statuses = [r.dagster_run.status.value for r in records]
    return Stopped(rc, log.read_text(), _unchanged(world), _reap(sorted(family)), statuses, seconds)


@pytest.mark.system
def test_sigterm_stops_a_run_cleanly(stopped_run: Stopped):
    s = stopped_run
    assert s.returncode not in (0, -signal.SIGKILL), s.log
    assert s.changed == []
    assert s.left == [], f"processes outlived the stopped run: {s.left}"
    assert s.statuses and "STARTED" not in s.statuses, s.statuses
    assert "Traceback" not in s.log, s.log[-3000:]
    assert "had died" in s.log  # it found the run killed during the régions first
    assert "interrupted (Ctrl-C or SIGTERM) during step 'staging'" in s.log


# ---------------------------------------------------------------------------------- 4. the next run
@dataclass
class Observed:
    proc_returncode: int
    pid: int
    log: str
    second: subprocess.CompletedProcess
    reads: list = field(default_factory=list)  # (rows, hash, manifest rows, start ns, end ns) per read
    errors: list = field(default_factory=list)
    old: tuple = ()
    new: tuple = ()
    held_after: tuple = ()
    planted: list = field(default_factory=list)
    leftovers: list = field(default_factory=list)
    started_ns: int = 0
    unfinished: list = field(default_factory=list)
    slots: int = -1


@pytest.fixture(scope="module")
def observed_run(world: World, stopped_run) -> Observed:
    """The next run, with a second run started beside it and a researcher reading meanwhile."""
    import dagster as dg

    # What a SIGKILL in the middle of a write leaves (a killed run rarely stops exactly there by chance).
    planted = [
        _kill_mid_write(world.vintage / "tables" / "indicateurs.parquet"),
        _kill_mid_write(world.vintage / "panoramas" / "region-53.pdf"),
    ]
    for p in planted:  # they are not part of the baseline publication
        world.baseline.pop(str(p.relative_to(world.vintage)), None)
    out = world.root / "output"
    held = obs.open_table(MILLESIME, output_dir=out)  # a notebook holding the table during the whole run
    old = _fingerprint(held)
    stop = threading.Event()
    reads: list = []
    errors: list = []

    def reader() -> None:
        while not stop.is_set():
            try:
                t0 = time.time_ns()
                manifest = json.loads((world.vintage / "manifest.json").read_text(encoding="utf-8"))
                rows = manifest["tables"]["indicateurs"]["rows"]
                reads.append((*_fingerprint(obs.open_table(MILLESIME, output_dir=out)), rows, t0, time.time_ns()))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.2)

    log = world.root / "run-observed.log"
    started = time.time_ns()
    proc = _start_run(world.env, log)
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: _lock_holder(world.warehouse) == proc.pid, proc, log, "the run took the lock", 120)
        second = run_cli(["run", "--millesime", str(MILLESIME)], world.env, timeout=300)
        family: set[int] = set()
        while proc.poll() is None:
            family.update(_descendants(proc.pid))
            time.sleep(0.5)
        rc = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        stop.set()
        thread.join(timeout=30)
    time.sleep(1)
    with world.instance() as instance:
        unfinished = [
            r.dagster_run.run_id
            for r in instance.get_run_records(
                filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
            )
        ]
        info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
        slots = info.active_slot_count + info.pending_step_count
    return Observed(
        proc_returncode=rc,
        pid=proc.pid,
        log=log.read_text(),
        second=second,
        reads=reads,
        errors=errors,
        old=old,
        new=_fingerprint(obs.open_table(MILLESIME, output_dir=out)),
        held_after=_fingerprint(held),
        planted=planted,
        leftovers=_reap(sorted(family)),
        started_ns=started,
        unfinished=unfinished,
        slots=slots,
    )


@pytest.mark.system
def test_second_run_refuses_naming_the_first(observed_run: Observed):
    second = observed_run.second
    assert second.returncode == 2, second.stderr
    assert "another observatory run" in second.stderr
    assert f"pid {observed_run.pid}" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr


@pytest.mark.system
def test_next_run_finishes_and_publishes_the_new_publication_whole(world: World, observed_run: Observed):
    o = observed_run
    assert o.proc_returncode == 0, o.log[-5000:]
    assert "done in" in o.log
    assert _lock_free(world.warehouse)
    assert o.leftovers == []
    assert o.unfinished == [] and o.slots == 0  # no dead run left in the instance, no slot held
    assert [p for p in o.planted if p.exists()] == []
    assert _hidden(world.vintage) == []
    assert _visible_temporaries(world.vintage) == []
    assert list(world.root.glob(".output.*")) == []  # no staging folder left beside the publication
    files = _files(world.vintage)
    assert sorted(world.baseline.keys() - files.keys()) == []
    assert _unreadable(world.vintage) == []
    manifest = _manifest_matches_table(world.vintage)
    assert manifest["run"]["ok"] is True and manifest["run"]["errors"] == []
    assert manifest["run"]["regions_published"] == REGIONS.split(",")
    assert manifest["created_at"] > world.baseline_manifest["created_at"]
    # the new publication, whole: what this run builds is newer than its start, the table, the quality page,
    # the portal and the two régions' panoramas among them
    for rel in ["tables/indicateurs.parquet", "qualite/rapport.html", "portail/index.html",
                "panoramas/region-52.pdf", "panoramas/region-53.pdf", "egalite/france.pdf"]:  # fmt: skip
        assert files[rel][0] > o.started_ns, rel
    assert files["panoramas/region-84.pdf"] == world.baseline["panoramas/region-84.pdf"]  # not in the subset


@pytest.mark.system
def test_reader_sees_only_whole_tables_and_never_blocks_the_run(observed_run: Observed):
    o = observed_run
    assert o.errors == []
    assert o.new == o.old  # same extracts: the run republished the same table
    assert len(o.reads) >= 20
    seen = {(n, h) for n, h, *_ in o.reads}
    assert seen == {o.old}, f"a read saw something else than the whole table: {seen - {o.old}}"
    for n, _, manifest_rows, *_ in o.reads:
        assert n == manifest_rows
    assert o.held_after == o.old  # the table a notebook held in memory during the run is still usable


def test_sweep_removes_dead_writers_files_only(tmp_path):
    """Unit check of the sweep ``observatory run`` does first: a killed writer's temporary file goes, a live
    writer's stays, an interrupted folder swap is undone."""
    from observatory import files

    dead = _kill_mid_write(tmp_path / "tables" / "indicateurs.parquet")
    with files.atomic_path(tmp_path / "panoramas" / "region-53.pdf") as live:  # this process: alive
        live.write_bytes(b"%PDF-")
        (tmp_path / "portail.old").mkdir()
        (tmp_path / "portail.old" / "index.html").write_text("v1")
        removed = files.sweep_stale(tmp_path)
        assert removed == [dead]
        assert not dead.exists() and live.exists()
    assert (tmp_path / "portail" / "index.html").read_text() == "v1"
    assert not (tmp_path / "portail.old").exists()
    assert sorted(p.name for p in tmp_path.rglob(".*")) == []
