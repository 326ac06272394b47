"""End to end: `dvc repro` of the smoke profile in a fresh copy of the project, offline; a second run skips
everything; switching profile (`python -m seqit_utils.config sample && dvc repro`) writes only under outputs/sample/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project's files (tracked + new, not ignored) copied into a new git repository."""
    dest = tmp_path_factory.mktemp("clone") / "seqit"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    env = {
        **os.environ,
        # `python` in dvc.yaml's cmds must be this environment's interpreter
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("SEQIT_DATA_DIR", None)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        _run(cmd, dest, env)
    return dest, env


def test_smoke_repro_builds_the_data_then_skips(project):
    dest, env = project
    dvc = [sys.executable, "-m", "dvc"]
    _run([*dvc, "repro"], dest, env)
    metrics = json.loads((dest / "outputs/smoke/metrics/data.json").read_text())
    counts = metrics["records"]
    assert counts["task_suite/train_it"] > 50_000 and counts["task_suite/eval_seq2_unseen"] == 200
    assert metrics["provenance"]["params"]["profile"] == "smoke"
    assert (dest / "outputs/smoke/notebooks/00_data.ipynb").is_file()
    lines = (dest / "outputs/smoke/data/task_suite/train_it.jsonl").read_text().splitlines()
    assert len(lines) == counts["task_suite/train_it"]

    second = _run([*dvc, "repro"], dest, env)
    assert "didn't change, skipping" in second and "Running stage" not in second
    assert "up to date" in _run([*dvc, "status"], dest, env)


def test_switching_profile_writes_its_own_folder(project, shared_data):
    dest, env = project
    before = {p: p.read_bytes() for p in (dest / "outputs/smoke/data").rglob("*.jsonl")}
    env = {**env, "SEQIT_DATA_DIR": str(shared_data)}
    _run([sys.executable, "-m", "seqit_utils.config", "sample"], dest, env)
    _run([sys.executable, "-m", "dvc", "repro"], dest, env)
    metrics = json.loads((dest / "outputs/sample/metrics/data.json").read_text())
    assert metrics["records"]["real/xquad_de"] == 50 and metrics["records"]["real/seqeval"] == 100
    assert {p: p.read_bytes() for p in (dest / "outputs/smoke/data").rglob("*.jsonl")} == before
    # an unknown profile is refused before params.yaml changes
    bad = subprocess.run([sys.executable, "-m", "seqit_utils.config", "smoek"], cwd=dest, env=env, capture_output=True)
    assert bad.returncode != 0 and b"allowed values: paper, sample, smoke" in bad.stderr
    assert (dest / "params.yaml").read_text().startswith("profile: sample")
