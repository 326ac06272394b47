"""Notebook lint (valid, parseable, one `parameters` cell, no outputs) and the papermill runner."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from seqit_utils.config import PROFILES
from seqit_utils.notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_numbered_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert path.name[:2].isdigit() and path.name[2] == "_", f"{path.name}: expected NN_<topic>.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_parseable(path):
    raw = json.loads(path.read_text(encoding="utf-8"))  # valid JSON
    nb = nbformat.reads(json.dumps(raw), as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for index, cell in enumerate(code):
        ast.parse(cell.source, filename=f"{path.name}[code cell {index}]")  # every code cell parses
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: code cell {index} has outputs"
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters', found {len(tagged)}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "first cell: a title"
    # papermill injects overrides after the parameters cell, so it must hold plain literals only
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), (
            f"{path.name}: the parameters cell must only assign literals"
        )
    assert "profile" in tagged[0].source, f"{path.name}: the parameters cell must define `profile`"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_prepare_only_with_every_profile(path, profile, tmp_path):
    out = run_notebook(path, tmp_path / path.name, {"profile": profile}, prepare_only=True, progress=False)
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f'profile = "{profile}"' in injected[0].source


def test_runner_uses_this_interpreter_and_writes_nothing_into_home(tmp_path):
    """Execute a real notebook through the CLI with HOME pointing at an empty folder, which must stay empty."""
    home = tmp_path / "home"
    home.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("import sys, os\nprint(sys.executable)\nprint(os.getcwd())\nprint(profile)"),
            nbformat.v4.new_code_cell("print('| a | table |')", metadata={"tags": ["report"]}),
        ]
    )
    source = tmp_path / "probe.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "out" / "probe.ipynb"
    env = {**os.environ, "HOME": str(home)}
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "seqit_utils.notebooks", str(source), str(out), "-p", "profile", "sample"]
    run = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300)
    assert run.stdout.endswith("| a | table |\n")  # a cell tagged `report` is echoed to the terminal
    assert run.stdout.count("| a | table |") == 1
    printed = nbformat.read(out, as_version=4).cells[-2].outputs[0]["text"].split("\n")
    assert printed[0] == sys.executable  # the kernel is this environment's interpreter
    assert printed[1] == str(ROOT)  # notebooks run from the project root
    assert printed[2] == "sample"  # the parameter was injected
    assert list(home.rglob("*")) == [], f"files written into HOME: {list(home.rglob('*'))}"


def test_failed_run_keeps_previous_output(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('boom')")])
    source, out = tmp_path / "bad.ipynb", tmp_path / "bad.out.ipynb"
    nbformat.write(nb, source)
    out.write_text("previous")
    with pytest.raises(Exception, match="boom"):
        run_notebook(source, out, progress=False, cwd=tmp_path)
    assert out.read_text() == "previous"
    assert (tmp_path / "bad.out.failed.ipynb").exists()
