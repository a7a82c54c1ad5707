"""Fault tolerance of ``observatory run``, through the real CLI on generated data.

One dataset and one sequence of runs per module (a full run costs about two minutes on two cores):

1. a good run publishes ``output/2023/`` (the baseline);
2. a run is killed with SIGKILL while the secrecy step (τ-Argus) is working: the publication must be exactly
   the baseline;
3. the next run is killed with SIGKILL while the region partitions render their PDFs: the publication must
   still be complete and readable (each file the baseline one or a newer complete one);
4. the next run must finish cleanly while a second run is started beside it (which must refuse, naming the
   first) and a researcher reads the table in a loop through the API (who must only ever see the whole
   table, before and after its replacement). It must clean what the killed runs left behind.

All runs read the same extracts, so every complete read of the table has the baseline's fingerprint; a torn
read would fail to parse or give another fingerprint.

The secrecy step is recognised from outside, without a hook in the code: the run's ``TMPDIR`` is private to the
test, and the step is running when a ``tauargus*`` work folder exists there or a process of the run has
``tauargus`` in its command line.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import observatory as obs
from observatory.publication import sha256
from pipelines.partitions import REGION_CODES
from tests.conftest import MILLESIME, ROOT, observatory_env, run_cli

FRACTION = os.environ.get("OBSERVATORY_FAULTS_FRACTION", "0.005")
RUN_TIMEOUT = 900
# Files a publication may hold besides its products: the manifest's lock file (hidden, never a product).
PERMANENT_HIDDEN = {".manifest.lock"}
TEMP_SUFFIXES = (".tmp", ".old", ".part", "-journal", "-wal", "-shm", "~")


# ------------------------------------------------------------------------------------------------ helpers
def _env(root: Path) -> dict:
    env = observatory_env(root)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    # Private: the τ-Argus work folders of this run's secrecy step land here.
    env["TMPDIR"] = str(root / "tmp")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _generate(env: dict, out: Path, seed: int) -> None:
    gen = run_cli(
        [
            "generate",
            "--fraction",
            FRACTION,
            "--millesime",
            str(MILLESIME),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        env,
    )
    assert gen.returncode == 0, gen.stderr


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


def _reap(pids: list[int]) -> list[str]:
    """Kill (by pid) the processes of a killed run that are still alive; return their command lines."""
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
        "from observatory.warehouse import atomic_path\n"
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


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    """The generated extracts in ``data_raw/2023`` and a first good run on them."""
    root = tmp_path_factory.mktemp("faults")
    env = _env(root)
    _generate(env, root / "data_raw", seed=42)
    log = root / "run-baseline.log"
    proc = _start_run(env, log)
    assert proc.wait(timeout=RUN_TIMEOUT) == 0, log.read_text()[-5000:]
    w = World(root, env)
    w.baseline = _files(w.vintage)
    w.baseline_manifest = json.loads((w.vintage / "manifest.json").read_text())
    return w


@dataclass
class Killed:
    log: Path
    pid: int
    files: dict
    manifest_text: str
    leftover_processes: list[str]
    hidden: list[str]
    started_ns: int = 0
    regions_rewritten: int = 0


def _tauargus_running(pid: int, tmpdir: Path) -> bool:
    if any(p.name.startswith("tauargus") for p in tmpdir.iterdir()):
        return True
    return any("tauargus" in _cmdline(c).lower() for c in _descendants(pid))


@pytest.fixture(scope="module")
def killed_in_secrecy(world: World) -> Killed:
    tmpdir = Path(world.env["TMPDIR"])
    for stale in tmpdir.glob("tauargus*"):
        shutil.rmtree(stale, ignore_errors=True)
    log = world.root / "run-killed-secrecy.log"
    proc = _start_run(world.env, log)
    _wait_for(lambda: _tauargus_running(proc.pid, tmpdir), proc, log, "the secrecy step (τ-Argus) started")
    time.sleep(0.5)
    family = _descendants(proc.pid)
    _sigkill(proc)
    time.sleep(2)
    leftovers = _reap(family)
    if leftovers:
        warnings.warn(f"processes outlived the run killed during secrecy (reaped by the test): {leftovers}")
    return Killed(
        log=log,
        pid=proc.pid,
        files=_files(world.vintage),
        manifest_text=(world.vintage / "manifest.json").read_text(),
        leftover_processes=leftovers,
        hidden=_hidden(world.vintage),
    )


@pytest.fixture(scope="module")
def killed_in_regions(world: World, killed_in_secrecy: Killed) -> Killed:
    """The run after the one killed in secrecy, itself killed while the region partitions render PDFs."""
    log = world.root / "run-killed-regions.log"
    panoramas = world.vintage / "panoramas"
    region_pdfs = [panoramas / f"region-{code}.pdf" for code in REGION_CODES]
    started = time.time_ns()

    def rewritten() -> int:
        return sum(1 for p in region_pdfs if p.exists() and p.stat().st_mtime_ns > started)

    proc = _start_run(world.env, log)
    _wait_for(lambda: rewritten() >= 1, proc, log, "the first region panorama of the new run")
    family = _descendants(proc.pid)
    _sigkill(proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in family):
        time.sleep(0.2)
    leftovers = _reap(family)
    return Killed(
        log=log,
        pid=proc.pid,
        files=_files(world.vintage),
        manifest_text=(world.vintage / "manifest.json").read_text(),
        leftover_processes=leftovers,
        hidden=_hidden(world.vintage),
        started_ns=started,
        regions_rewritten=rewritten(),
    )


@dataclass
class Observed:
    proc_returncode: int
    pid: int
    log: str
    second: subprocess.CompletedProcess
    reads: list = field(default_factory=list)  # (rows, hash, manifest rows, start ns, end ns) per read
    table_reads: int = 0
    errors: list = field(default_factory=list)
    old: tuple = ()
    new: tuple = ()
    held_after: tuple = ()
    replaced_ns: tuple = ()  # (mtime, ctime) of the table the run published
    planted: list = field(default_factory=list)
    leftovers: list = field(default_factory=list)
    started_ns: int = 0


@pytest.fixture(scope="module")
def observed_run(world: World, killed_in_regions: Killed) -> Observed:
    """The next run, with a second run started beside it and a researcher reading meanwhile."""
    # What a SIGKILL in the middle of a write leaves (a killed run rarely stops exactly there by chance).
    planted = [
        _kill_mid_write(world.vintage / "tables" / "indicateurs.parquet"),
        _kill_mid_write(world.vintage / "panoramas" / "region-53.pdf"),
    ]
    out = world.root / "output"
    held = obs.open_table(MILLESIME, output_dir=out)  # a notebook holding the table during the whole run
    old = _fingerprint(held)
    stop = threading.Event()
    reads: list = []
    errors: list = []
    counter = {"table": 0}

    def reader() -> None:
        while not stop.is_set():
            try:
                t0 = time.time_ns()
                manifest = json.loads((world.vintage / "manifest.json").read_text(encoding="utf-8"))
                rows = manifest["tables"]["indicateurs"]["rows"]
                reads.append(
                    (*_fingerprint(obs.open_table(MILLESIME, output_dir=out)), rows, t0, time.time_ns())
                )
                if len(reads) % 10 == 0:
                    df = obs.table(MILLESIME, output_dir=out, niveau="france", indicateur="effectif_31_12")
                    assert len(df) > 0 and set(df.columns) >= {"valeur", "statut"}
                    counter["table"] += 1
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
    leftovers = _reap(sorted(family))
    return Observed(
        proc_returncode=rc,
        pid=proc.pid,
        log=log.read_text(),
        second=second,
        reads=reads,
        table_reads=counter["table"],
        errors=errors,
        old=old,
        new=_fingerprint(obs.open_table(MILLESIME, output_dir=out)),
        held_after=_fingerprint(held),
        planted=planted,
        leftovers=leftovers,
        started_ns=started,
        replaced_ns=(
            (world.vintage / "tables" / "indicateurs.parquet").stat().st_mtime_ns,
            (world.vintage / "tables" / "indicateurs.parquet").stat().st_ctime_ns,
        ),
    )


# ------------------------------------------------------------------------------------------------ tests
def test_baseline_publication_is_complete(world: World):
    assert _unreadable(world.vintage) == []
    assert _visible_temporaries(world.vintage) == []
    assert _hidden(world.vintage) == []
    manifest = _manifest_matches_table(world.vintage)
    assert manifest["run"]["ok"] is True
    assert manifest["run"]["regions_published"] == sorted(REGION_CODES)
    assert {f"panoramas/region-{c}.pdf" for c in REGION_CODES} <= world.baseline.keys()


def test_kill_during_secrecy_leaves_publication_untouched(world: World, killed_in_secrecy: Killed):
    k = killed_in_secrecy
    log = k.log.read_text()
    assert "annual graph" not in log, f"the run got past the annual graph before the kill:\n{log}"
    # Nothing is published before the audited table: every file is the baseline's, byte for byte.
    assert k.files == world.baseline
    assert json.loads(k.manifest_text) == world.baseline_manifest
    assert _unreadable(world.vintage) == []
    assert _visible_temporaries(world.vintage) == []
    assert k.hidden == []


def test_run_after_kill_during_secrecy_republishes_the_table(world: World, killed_in_regions: Killed):
    """The run after the secrecy kill went through secrecy, the audit and the publication of the table."""
    log = killed_in_regions.log.read_text()
    assert "annual graph" in log and "error" not in log.lower(), log
    table = "tables/indicateurs.parquet"
    assert killed_in_regions.files[table][0] > killed_in_regions.started_ns
    assert killed_in_regions.files[table][1] == world.baseline[table][1]  # same inputs, same table


def test_kill_during_region_pdfs_leaves_complete_publication(world: World, killed_in_regions: Killed):
    k = killed_in_regions
    assert 1 <= k.regions_rewritten < len(REGION_CODES), "the kill did not land in the middle of the regions"
    # Same files as the baseline, each either unchanged or a newer complete one; nothing missing.
    missing = sorted(world.baseline.keys() - k.files.keys())
    assert missing == []
    assert [p for p in k.files if p not in world.baseline] == []
    assert _unreadable(world.vintage) == []
    assert _visible_temporaries(world.vintage) == []
    _manifest_matches_table(world.vintage)
    json.loads(k.manifest_text)


def test_region_workers_die_with_a_killed_run(killed_in_regions: Killed):
    """No worker goes on writing publications once the run (and its lock) is gone."""
    assert killed_in_regions.leftover_processes == []


def test_second_run_refuses_naming_the_first(observed_run: Observed):
    second = observed_run.second
    assert second.returncode == 2, second.stderr
    assert "another observatory run" in second.stderr
    assert f"pid {observed_run.pid}" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr


def test_next_run_finishes_cleanly(world: World, observed_run: Observed):
    assert observed_run.proc_returncode == 0, observed_run.log[-5000:]
    assert "done in" in observed_run.log
    assert _lock_free(world.warehouse)
    assert observed_run.leftovers == []
    # Stale temporary files of killed writers are gone, and nothing else is hidden in the publication.
    assert [p for p in observed_run.planted if p.exists()] == []
    assert _hidden(world.vintage) == []
    assert _visible_temporaries(world.vintage) == []
    files = _files(world.vintage)
    assert sorted(world.baseline.keys() - files.keys()) == []
    assert _unreadable(world.vintage) == []
    manifest = _manifest_matches_table(world.vintage)
    assert manifest["run"]["ok"] is True and manifest["run"]["errors"] == []
    assert manifest["run"]["regions_published"] == sorted(REGION_CODES)
    # Every region's panorama was rebuilt by this run (the killed run had rewritten only some of them).
    stale = [c for c in REGION_CODES if files[f"panoramas/region-{c}.pdf"][0] < observed_run.started_ns]
    assert stale == []


def test_reader_sees_only_whole_tables_and_never_blocks_the_run(observed_run: Observed):
    o = observed_run
    assert o.errors == []
    assert o.proc_returncode == 0
    assert o.new == o.old  # same extracts: the run republished the same table
    assert len(o.reads) >= 20 and o.table_reads >= 2
    seen = {(n, h) for n, h, *_ in o.reads}
    assert seen == {o.old}, f"a read saw something else than the whole table: {seen - {o.old}}"
    for n, _, manifest_rows, *_ in o.reads:
        assert n == manifest_rows
    # The reads span the replacement of the table by the run (written at mtime, renamed at ctime).
    mtime, ctime = o.replaced_ns
    assert o.started_ns < mtime <= ctime
    assert any(end < mtime for *_, end in o.reads), "no read before the table was replaced"
    assert any(start > ctime for *_, start, _ in o.reads), "no read after the table was replaced"
    # The table a notebook held in memory during the run is unchanged and still usable.
    assert o.held_after == o.old


def test_sweep_removes_dead_writers_files_only(tmp_path):
    """Unit check of the sweep ``observatory run`` does first: a killed writer's temporary file goes, a live
    writer's stays, an interrupted folder swap is undone."""
    from observatory import warehouse

    dead = _kill_mid_write(tmp_path / "tables" / "indicateurs.parquet")
    with warehouse.atomic_path(tmp_path / "panoramas" / "region-53.pdf") as live:  # this process: alive
        live.write_bytes(b"%PDF-")
        (tmp_path / "portail.old").mkdir()
        (tmp_path / "portail.old" / "index.html").write_text("v1")
        removed = warehouse.sweep_stale(tmp_path)
        assert removed == [dead]
        assert not dead.exists() and live.exists()
    assert (tmp_path / "portail" / "index.html").read_text() == "v1"
    assert not (tmp_path / "portail.old").exists()
    assert sorted(p.name for p in tmp_path.rglob(".*")) == []
