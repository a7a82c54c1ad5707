"""The warehouse helpers: SQL files with bound parameters, atomic publication of files and folders."""

from __future__ import annotations

import os

import pytest

from observatory import warehouse


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
    with warehouse.atomic_path(dest) as tmp:
        tmp.write_text("v1")
    with pytest.raises(RuntimeError), warehouse.atomic_path(dest) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("crash")
    assert dest.read_text() == "v1"
    assert [p.name for p in dest.parent.iterdir()] == ["table.csv"]


def test_atomic_dir_swaps_and_recovers(tmp_path):
    dest = tmp_path / "portail"
    with warehouse.atomic_dir(dest) as tmp:
        (tmp / "index.html").write_text("v1")
    # A crash between the two renames leaves only dest.old: recover_dir puts it back.
    os.replace(dest, tmp_path / "portail.old")
    warehouse.recover_dir(dest)
    assert (dest / "index.html").read_text() == "v1"
    with pytest.raises(ValueError), warehouse.atomic_dir(dest) as tmp:
        (tmp / "index.html").write_text("v2")
        raise ValueError
    assert (dest / "index.html").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portail"]


def test_copy_to_parquet_counts_rows(tmp_path):
    con = warehouse.connect()
    n = warehouse.copy_to_parquet(con, "SELECT range AS i FROM range(7)", tmp_path / "x.parquet")
    assert n == 7
