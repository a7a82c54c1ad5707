"""The warehouse helpers (SQL files with bound parameters) and the atomic publication of files and folders."""

from __future__ import annotations

import os

import pytest

from observatory import files, warehouse


def test_split_statements_ignores_semicolons_in_strings_and_comments():
    text = "SELECT 'a;b' AS x; -- a comment; still comment\nSELECT 2;"
    parts = [s.strip() for s in warehouse._split_statements(text) if s.strip()]
    assert parts == ["SELECT 'a;b' AS x", "SELECT 2"]


def test_run_sql_binds_only_used_parameters(tmp_path, monkeypatch):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "q.sql").write_text("CREATE TABLE x AS SELECT $a::INTEGER AS v;\nSELECT v + $a FROM x;")
    monkeypatch.setattr(warehouse, "SQL_DIR", tmp_path)
    con = warehouse.connect()
    assert warehouse.run_sql(con, "t/q.sql", {"a": 20, "unused": 1}).fetchall() == [(40,)]
    with pytest.raises(KeyError, match="t/q.sql"):
        warehouse.run_sql(con, "t/q.sql", {})


def test_atomic_path_keeps_previous_file_on_failure(tmp_path):
    dest = tmp_path / "out" / "table.csv"
    with files.atomic_path(dest) as tmp:
        tmp.write_text("v1")
    with pytest.raises(RuntimeError), files.atomic_path(dest) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("crash")
    assert dest.read_text() == "v1"
    assert [p.name for p in dest.parent.iterdir()] == ["table.csv"]


def test_atomic_dir_swaps_and_recovers(tmp_path):
    dest = tmp_path / "portail"
    with files.atomic_dir(dest) as tmp:
        (tmp / "index.html").write_text("v1")
    # A crash between the two renames leaves only dest.old: recover_dir puts it back.
    os.replace(dest, tmp_path / "portail.old")
    files.recover_dir(dest)
    assert (dest / "index.html").read_text() == "v1"
    with pytest.raises(ValueError), files.atomic_dir(dest) as tmp:
        (tmp / "index.html").write_text("v2")
        raise ValueError
    assert (dest / "index.html").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portail"]


def test_copy_to_parquet_counts_rows(tmp_path):
    con = warehouse.connect()
    n = warehouse.copy_to_parquet(con, "SELECT range AS i FROM range(7)", tmp_path / "x.parquet")
    assert n == 7


def test_sql_files_are_package_data():
    """Every SQL file is read from the package (``importlib.resources``), and the packaging declares them, so a
    non-editable ``pip install .`` ships them (``test_wheel_ships_the_sql_files`` builds one)."""
    import importlib.resources
    import tomllib
    from pathlib import Path

    root = importlib.resources.files("observatory") / "sql"
    assert warehouse.SQL_DIR == root
    names = sorted(str(p.relative_to(Path(str(root)))) for p in Path(str(root)).rglob("*.sql"))
    assert "indicators/cellules.sql" in names and "staging/postes.sql" in names and len(names) > 20
    assert warehouse.sql_text("indicators/cellules.sql").lstrip().startswith("--")
    with pytest.raises(FileNotFoundError, match="observatory/sql/nope/missing.sql"):
        warehouse.sql_text("nope/missing.sql")
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["observatory"]
    assert all(any(Path("sql", n).match(p) for p in patterns) for n in names)


def test_wheel_ships_the_sql_files(tmp_path):
    """A wheel built from a copy of the tree (what ``pip install .`` installs) holds every SQL file."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    src = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("observatory", "pipelines"):
        shutil.copytree(root / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("ess_observatory-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".sql")}
    source = {
        f"observatory/sql/{p.relative_to(root / 'observatory' / 'sql')}"
        for p in (root / "observatory" / "sql").rglob("*.sql")
    }
    assert shipped == source and len(source) > 20
