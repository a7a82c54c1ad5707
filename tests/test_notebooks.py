"""The researchers' notebooks run end to end on a published sample output."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def output_dir(micro_published):
    return micro_published.output_dir


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, output_dir, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_OUTPUT_DIR", str(output_dir))  # the kernel inherits the environment
    # an editable install made before observatory/__init__.py existed maps the package as a namespace
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_there_are_two_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"portrait_region", "ecart_salarial_departements"}
