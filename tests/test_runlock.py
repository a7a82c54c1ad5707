"""Two runs on one warehouse: the second refuses with a clear message; a dead holder frees the lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from observatory.runlock import RunInProgressError, run_lock


def test_second_run_refuses_while_first_holds(tmp_path):
    wh = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from observatory.runlock import run_lock
            with run_lock({str(wh)!r}):
                print("locked", flush=True)
                time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        expected = rf"another observatory run is using .*pid {holder.pid}"
        with pytest.raises(RunInProgressError, match=expected), run_lock(wh):
            pass
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL released the lock: the next run proceeds.
    with run_lock(wh) as path:
        assert path.exists()
