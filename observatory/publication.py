"""Publish the secrecy-checked indicator table and the run manifest.

``publish_indicators`` writes ``output/<millesime>/tables/indicateurs.parquet`` and ``.csv`` (the columns of
``products.md`` §2, sorted on every key column, ``valeur`` empty when secret; the CSV is a machine file:
UTF-8, comma-separated, ``.`` decimals) and ``output/<millesime>/manifest.json``. Every file is written under
a temporary name and renamed into place. A rerun on the same inputs gives byte-identical table files; the
manifest's ``created_at`` is the only field that changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from observatory.config import Settings
from observatory.errors import PublicationError
from observatory.files import atomic_path, locked, writer_alive, writer_tag
from observatory.warehouse import copy_to_parquet, run_sql

TABLE = "indicateurs"


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_version() -> dict:
    """Package version and, when the code is a git checkout, the commit and whether the package's tracked
    files (its Python and SQL) differ from it (``git_modified``: a publication made from local changes does
    not claim the commit alone)."""
    try:
        version = metadata.version("ess-observatory")
    except metadata.PackageNotFoundError:
        version = "unknown"
    package_dir = Path(__file__).resolve().parent
    try:
        commit = _git(package_dir, "rev-parse", "HEAD")
        modified = bool(_git(package_dir, "status", "--porcelain", "--untracked-files=no", "--", "."))
    except (OSError, subprocess.CalledProcessError):
        commit, modified = None, None
    return {"package": version, "git_commit": commit, "git_modified": modified}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def publish_indicators(
    con,
    settings: Settings,
    *,
    inputs: list[Path] | tuple = (),
    row_counts: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write the indicator table (Parquet + CSV) and the manifest; return the Parquet path.

    Requires ``ind.indicateurs`` (see :func:`observatory.indicators.build_indicators`). ``inputs`` are the
    extract files (listed with size and SHA-256), ``row_counts`` the in / out / quarantined counts of the
    run, ``extra`` further manifest sections.
    """
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ind' AND table_name = 'masque'"
    ).fetchone()[0]:
        raise PublicationError("no secrecy mask (ind.masque): run build_indicators first")
    run_sql(con, "indicators/publication.sql")
    tables = settings.vintage_output / "tables"
    parquet = tables / f"{TABLE}.parquet"
    csv = tables / f"{TABLE}.csv"
    rows = copy_to_parquet(con, "SELECT * FROM ind.publication", parquet)
    with atomic_path(csv) as tmp:
        con.execute(f"COPY ind.publication TO '{tmp.as_posix()}' (FORMAT csv, HEADER, DELIMITER ',')")
    sections = {
        "millesime": int(settings.millesime),
        "perimetre_version": settings.perimetre,
        "code_version": code_version(),
        "inputs": [
            {"path": str(p), "size": Path(p).stat().st_size, "sha256": sha256(p)}
            for p in sorted(map(Path, inputs))
        ],
        "row_counts": {**(row_counts or {}), f"{TABLE}_out": rows},
        "tables": {
            TABLE: {
                "parquet": str(parquet.relative_to(settings.vintage_output)),
                "csv": str(csv.relative_to(settings.vintage_output)),
                "rows": rows,
                "csv_sha256": sha256(csv),
            }
        },
        **(extra or {}),
    }
    # merged, not replaced: the section also holds each baromètre's cost (written by its own job)
    update_manifest(settings, merge={"cout_du_secret": secrecy_cost(con)}, **sections)
    return parquet


def secrecy_cost(con) -> dict:
    """What secrecy cost, per published level (``sql/indicators/cout_secret.sql``): the indicator table's
    figures by statut and the share of jobs at 31/12 in hidden headcount cells (whole percent).

    ``{"annuel": {niveau: {"cellules", "publie", "secret_primaire", "secret_secondaire",
    "part_emploi_masque_pourcent"}}}``.
    """
    run_sql(con, "indicators/macro_cout_secret.sql")
    rel = run_sql(con, "indicators/cout_secret.sql")
    cols = [d[0] for d in rel.description]
    rows = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
    return {"annuel": {r.pop("niveau"): r for r in rows}}


def read_manifest(settings: Settings) -> dict:
    """The vintage's manifest (empty when none was written yet)."""
    path = settings.vintage_output / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _merge(into: dict, new: dict) -> dict:
    for k, v in new.items():
        into[k] = _merge(dict(into.get(k) or {}), v) if isinstance(v, dict) and isinstance(into.get(k), dict) else v
    return into


def update_manifest(settings: Settings, merge: dict | None = None, **sections) -> Path:
    """Add or replace top-level sections of ``manifest.json`` atomically, and deep-merge ``merge`` into it (a
    nested key set, its siblings kept); stamps ``created_at``.

    Steps running at once (region partitions) serialise their updates on a lock file beside the manifest.
    """
    path = settings.vintage_output / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(".manifest.lock")):
        manifest = read_manifest(settings)
        manifest.update(sections)
        _merge(manifest, merge or {})
        manifest["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        _write_manifest(path, manifest)
    return path


def _write_manifest(path: Path, manifest: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ one run, one publication step
#
# A run builds its whole publication in a staging folder beside ``output/`` (``.output.<host>-<pid>.<x>.tmp``):
# a copy of the vintage's current publication that the run's steps overwrite, and links to the other vintages
# (the evolution section reads them). Only when every step and check has passed does
# :func:`commit_publication` swap the staged vintage folder into ``output/<millesime>`` (two renames); a failed
# or killed run changes no file under ``output/``. A swap interrupted by a crash leaves ``<millesime>.old``
# complete, which :func:`observatory.files.sweep_stale` (and :func:`recover_dir`) put back.


def stage_publication(settings: Settings) -> Settings:
    """A staging copy of the vintage's publication; returns the settings whose ``output_dir`` is the staging
    root (write there, then :func:`commit_publication`)."""
    import tempfile

    out = Path(settings.output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f".{out.name}.{writer_tag()}.", suffix=".tmp", dir=out.parent))
    root.chmod(0o755)
    current = out / str(settings.millesime)
    staged = root / str(settings.millesime)
    if current.is_dir():
        # a copy, not hard links: a step that rewrote a file in place would otherwise change the publication
        shutil.copytree(
            current,
            staged,
            symlinks=True,
            ignore=lambda d, names: [n for n in names if n.startswith(".") or n.endswith((".old", ".tmp"))],
        )
    else:
        staged.mkdir()
    for other in out.iterdir():
        if other.is_dir() and other.name.isdigit() and other.name != str(settings.millesime):
            os.symlink(other, root / other.name)
    return settings.with_(output_dir=root)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def commit_publication(settings: Settings, staged: Settings) -> Path:
    """Put the staged vintage folder in place of ``output/<millesime>`` (the previous one is removed).

    On Linux the two folders are exchanged in one step, so a reader never finds the vintage folder missing;
    elsewhere it is two renames, and a crash between them leaves ``<millesime>.old``, which
    :func:`observatory.files.recover_dir` puts back.
    """
    dest = Path(settings.output_dir).absolute() / str(settings.millesime)
    src = staged.vintage_output
    with publication_lock(settings):
        if not (dest.is_dir() and _exchange(src, dest)):
            old = dest.with_name(dest.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if dest.exists():
                os.replace(dest, old)
            os.replace(src, dest)
            shutil.rmtree(old, ignore_errors=True)
    discard_publication(staged)  # after an exchange, the staging root holds the previous publication
    return dest


def as_published(value, staged: Settings, settings: Settings):
    """``value`` (a path, or a report holding paths) with the staging root ``staged.output_dir`` named as the
    ``output/`` it is committed to: what the manifest and the UI's metadata show."""
    old, new = str(staged.output_dir), str(Path(settings.output_dir).absolute())
    if isinstance(value, (str, Path)):
        return str(value).replace(old, new)
    return json.loads(json.dumps(value, default=str).replace(old, new))


def discard_publication(staged: Settings) -> None:
    """Remove a staging root (after a commit, or when the run failed)."""
    shutil.rmtree(staged.output_dir, ignore_errors=True)


def sweep_staged(settings: Settings) -> list[Path]:
    """Staging roots of runs that died (their writer's pid is gone), removed; live runs' are kept."""
    out = Path(settings.output_dir).absolute()
    removed = []
    for path in sorted(out.parent.glob(f".{out.name}.*.tmp")):
        if writer_alive(path.name) is False:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# ---------------------------------------------------------------- runs started by the UI, the schedule, the sensors
#
# ``observatory run`` stages its whole publication and swaps it in at the end (above). A run started elsewhere
# (Dagster UI, the baromètre's schedule, the territoires sensor) is one job among others that may run at the same
# time, so its staging folder is named after the run (``.output.run-<run id>.tmp``, shared by the run's step
# processes) and is committed file by file: only the files the run wrote or removed change under
# ``output/<millesime>``, and the manifest's sections it changed are merged into the current manifest. The
# commit holds the publication lock (a ``flock`` on ``output/``), so two runs finishing together apply one
# after the other; a run that fails never commits, and its folder is removed by the next run's steps (or the
# next ``observatory run``). The last step of every job (the asset ``publication``, after the portal) commits.

_SNAPSHOT = ".snapshot.json"
UNKNOWN_RUN_AGE_S = 24 * 3600
"""A staging folder of a run that the sweeping instance does not know is removed after this long (a live run
of another Dagster instance keeps its folder meanwhile)."""
_BASE_MANIFEST = ".base-manifest.json"


def run_staging_root(settings: Settings, run_id: str) -> Path:
    out = Path(settings.output_dir).absolute()
    return out.parent / f".{out.name}.run-{run_id}.tmp"


def run_of_staging(path: Path) -> str | None:
    """The run id in a run's staging folder name (None for other names)."""
    name = path.name
    if ".run-" not in name or not name.endswith(".tmp"):
        return None
    return name.rsplit(".run-", 1)[1][: -len(".tmp")]


@contextlib.contextmanager
def publication_lock(settings: Settings):
    """The lock under which a publication is committed: an advisory ``flock`` on the ``output/`` folder itself
    (no lock file: ``output/`` holds only the vintage folders)."""
    out = Path(settings.output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _files(vintage: Path) -> dict[str, Path]:
    """The published files of a vintage folder by relative path (hidden names — locks, temporaries — left out)."""
    out = {}
    for p in sorted(vintage.rglob("*")):
        rel = p.relative_to(vintage)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out[str(rel)] = p
    return out


def _file_state(path: Path) -> list:
    st = path.stat()
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def stage_for_run(settings: Settings, run_id: str) -> Settings:
    """The settings of run ``run_id``'s staging folder, made on first call (by whichever step comes first; the
    others wait for it): a copy of the vintage's publication, the state of each copied file and the manifest
    as copied (what :func:`commit_run` compares with)."""
    root = run_staging_root(settings, run_id)
    staged = settings.with_(output_dir=root)
    ready = root / ".ready"
    if ready.exists():
        return staged
    root.parent.mkdir(parents=True, exist_ok=True)
    with locked(root.parent / f".{root.name}.lock"):
        if ready.exists():
            return staged
        shutil.rmtree(root, ignore_errors=True)
        with publication_lock(settings):  # a consistent copy: no commit under way
            made = stage_publication(settings)
        os.replace(made.output_dir, root)
        vintage = staged.vintage_output
        snapshot = {rel: _file_state(p) for rel, p in _files(vintage).items()}
        (root / _SNAPSHOT).write_text(json.dumps(snapshot), encoding="utf-8")
        (root / _BASE_MANIFEST).write_text(json.dumps(read_manifest(staged)), encoding="utf-8")
        ready.touch()
    with contextlib.suppress(OSError):
        (root.parent / f".{root.name}.lock").unlink()
    return staged


def _apply_changes(into: dict, base: dict, new: dict) -> dict:
    """``into`` with the changes from ``base`` to ``new`` (nested sections merged, keys removed in ``new`` removed)."""
    for k in base.keys() - new.keys():
        into.pop(k, None)
    for k, v in new.items():
        if base.get(k) == v:
            continue
        if isinstance(v, dict) and isinstance(base.get(k), dict) and isinstance(into.get(k), dict):
            into[k] = _apply_changes(dict(into[k]), base[k], v)
        else:
            into[k] = v
    return into


def commit_run(settings: Settings, staged: Settings, refresh=None) -> list[Path]:
    """Apply what run's staging folder ``staged`` changed to ``output/<millesime>``, under the publication lock,
    then remove the folder. Returns the paths written or removed under ``output/<millesime>``.

    ``refresh(settings)``, when given, is called under the lock after the changes: what lists the publication
    (the portal) is rebuilt on the merged result, which holds what other runs committed since this one staged
    its copy."""
    root = Path(staged.output_dir)
    src = staged.vintage_output
    dest = settings.vintage_output
    snapshot = json.loads((root / _SNAPSHOT).read_text(encoding="utf-8"))
    base_manifest = json.loads((root / _BASE_MANIFEST).read_text(encoding="utf-8"))
    now = _files(src)
    changed = [rel for rel, p in now.items() if rel != "manifest.json" and snapshot.get(rel) != _file_state(p)]
    removed = [rel for rel in snapshot if rel not in now and rel != "manifest.json"]
    touched = []
    with publication_lock(settings):
        for rel in changed:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(now[rel], target)
            touched.append(target)
        for rel in removed:
            target = dest / rel
            if target.is_file():
                target.unlink()
                touched.append(target)
        new_manifest = read_manifest(staged)
        if new_manifest != base_manifest:
            manifest = _apply_changes(read_manifest(settings), base_manifest, new_manifest)
            _write_manifest(dest / "manifest.json", manifest)
            touched.append(dest / "manifest.json")
        if refresh is not None:
            refresh(settings)
    shutil.rmtree(root, ignore_errors=True)
    return touched


def sweep_run_staging(settings: Settings, finished) -> list[Path]:
    """Staging folders of runs that ``finished(run_id)`` says are over (failed, cancelled), removed; ``None``
    means the run is unknown (another Dagster instance's, or deleted): its folder is removed only when older
    than :data:`UNKNOWN_RUN_AGE_S`."""
    out = Path(settings.output_dir).absolute()
    removed = []
    for path in sorted(out.parent.glob(f".{out.name}.run-*.tmp")):
        run_id = run_of_staging(path)
        over = finished(run_id) if run_id else False
        if over is None:
            over = time.time() - path.stat().st_mtime > UNKNOWN_RUN_AGE_S
        if over:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
