"""Files written atomically, and what killed writers leave behind.

A file is always written under a temporary name beside its destination and renamed into place, so a reader
never sees a half-written file and a failed run leaves the previous publication intact. A temporary name
carries its writer's host and process id, so that :func:`sweep_stale` removes only what dead writers left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(lock_file: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on ``lock_file`` (created if missing) for the block: writers
    that share a file or a folder take their turns. The kernel releases it if the holder dies."""
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it onto ``dest`` in one step.

    On an exception the temporary file is removed and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{writer_tag()}.", suffix=".tmp", dir=dest.parent)
    os.fchmod(fd, 0o644)  # published files are world-readable (mkstemp makes them 0600)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; on success it replaces ``dest`` (old copy kept until then).

    The swap is two renames: ``dest`` → ``dest.old``, temporary → ``dest``; a crash between them leaves
    ``dest.old`` complete, and :func:`recover_dir` puts it back.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{writer_tag()}.", suffix=".tmp", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = dest.with_name(dest.name + ".old")
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(dest: str | Path) -> None:
    """Undo a swap interrupted by a crash: if ``dest`` is missing but ``dest.old`` exists, restore it."""
    dest = Path(dest)
    old = dest.with_name(dest.name + ".old")
    if old.exists():
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, dest)
    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
# A temporary name is ``.<dest name>.<host>-<pid>.<random>.tmp`` (plus a suffix for work files derived from it,
# e.g. ``.tmp.gpkg``): the writer can be told from the name, so a sweep never removes a live writer's file.
_TEMP = re.compile(r"^\..+\.tmp(?:[.-].*)?$")
_WRITER = re.compile(r"\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp(?:[.-].*)?$")
FOREIGN_TEMP_AGE_S = 3600
"""A temporary file whose writer cannot be checked (another host, or an unnamed writer) is stale after this."""


def writer_tag() -> str:
    """``<host>-<pid>`` of this process, put in temporary names so that a sweep can tell a dead writer's."""
    return f"{_HOST}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_alive(host: str, pid: int) -> bool | None:
    """Whether the process that made a temporary name still runs (None when it cannot be told from here)."""
    return pid_alive(pid) if host == _HOST else None


def writer_alive(name: str) -> bool | None:
    """Whether the writer named in a temporary name (``.<x>.<host>-<pid>.<random>.tmp``) still runs; None when
    it cannot be told from here (another host, no writer in the name)."""
    writer = _WRITER.search(name)
    return _writer_alive(writer["host"], int(writer["pid"])) if writer else None


def sweep_stale(root: str | Path) -> list[Path]:
    """Remove what killed writers left under ``root``: temporary files and folders (``.*.tmp``) and
    interrupted folder swaps (``X.old``, restored onto ``X`` when ``X`` is missing). Returns what was removed.

    A temporary name carries its writer's host and pid: the file of a writer that still runs is kept, so the
    sweep is safe while another process publishes; a name from another host is removed only when older than
    :data:`FOREIGN_TEMP_AGE_S`. Call it from the run that holds the run lock, before it writes anything.
    """
    root = Path(root)
    removed: list[Path] = []
    if not root.exists():
        return removed
    now = time.time()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = here / name
            if name.endswith(".old") and name in dirnames:
                dest = path.with_name(name[: -len(".old")])
                if not dest.exists():
                    os.replace(path, dest)
                else:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
                continue
            if not _TEMP.match(name):
                continue
            writer = _WRITER.search(name)
            alive = _writer_alive(writer["host"], int(writer["pid"])) if writer else None
            if alive is None:
                try:
                    alive = now - path.lstat().st_mtime < FOREIGN_TEMP_AGE_S
                except FileNotFoundError:
                    continue
            if alive:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        dirnames[:] = [
            d for d in dirnames if (here / d).is_dir() and not _TEMP.match(d) and not d.endswith(".old")
        ]
    return removed
