"""End to end: `dvc repro` of the smoke profile in a fresh copy of the project, offline; a second run skips
everything; switching profile (`python -m seqit_utils.config sample && dvc repro`) writes only under outputs/sample/.

To keep CI in minutes, the copy's smoke profile is shrunk (fewer records, 40 training steps instead of 2,500): this
checks that every stage runs and writes what it promises, not the miniature result (see README for that run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    smoke = yaml.safe_load((dest / "params" / "smoke.yaml").read_text())
    smoke["data"]["task_suite"].update(n_train_per_task=200, n_train_sit=2600, n_eval_per_split=20)
    smoke["train"]["setups"]["tiny_scratch"].update(
        max_steps=40, save_steps=20, lr_scheduler_kwargs={"num_decay_steps": 8}
    )
    (dest / "params" / "smoke.yaml").write_text(yaml.safe_dump(smoke, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        _run(cmd, dest, env)
    return dest, env


def test_smoke_repro_runs_every_stage_then_skips(project):
    dest, env = project
    dvc = [sys.executable, "-m", "dvc"]
    first = _run([*dvc, "repro"], dest, env)
    out = dest / "outputs" / "smoke"
    metrics = json.loads((out / "metrics/data.json").read_text())
    counts = metrics["records"]
    assert counts["task_suite/train_it"] == 13 * 200 and counts["task_suite/eval_seq2_unseen"] == 20
    assert metrics["provenance"]["params"]["profile"] == "smoke"
    lines = (out / "data/task_suite/train_it.jsonl").read_text().splitlines()
    assert len(lines) == counts["task_suite/train_it"]
    sit_data = json.loads((out / "metrics/sit_data.json").read_text())
    assert sit_data["records"] == {"it": 2600, "sit": 5200}
    for variant in ("it", "sit"):
        for seed in (0, 1):
            trained = json.loads((out / f"metrics/finetune-{variant}-{seed}.json").read_text())
            assert trained["global_step"] == 40 and trained["provenance"]["seeds"] == [seed]
            assert (out / f"models/{variant}-{seed}/model.safetensors").is_file()
            assert (out / f"notebooks/05_finetune-{variant}-{seed}.ipynb").is_file()
    # the contract of outputs/smoke/metrics/miniature.json: <test_set>.<model> → follow_all, accuracy, n; seeds
    mini = json.loads((out / "metrics/miniature.json").read_text())
    assert mini["seeds"] == [0, 1]
    for test_set in ("single", "two_step_seen", "two_step_unseen", "chain3", "chain4"):
        for model in ("it", "sit"):
            cell = mini[f"{test_set}.{model}"]
            assert cell["n"] == 20 and 0 <= cell["follow_all"] <= 1 and 0 <= cell["accuracy"] <= 1
    assert "| two_step_seen | 20 |" in (out / "tables/miniature.md").read_text()
    assert "Running stage 'manual_sit_eval'" in first

    second = _run([*dvc, "repro"], dest, env)
    assert "didn't change, skipping" in second and "Running stage" not in second
    assert "up to date" in _run([*dvc, "status"], dest, env)


def test_switching_profile_writes_its_own_folder(project, shared_data):
    dest, env = project
    before = {p: p.read_bytes() for p in (dest / "outputs/smoke/data").rglob("*.jsonl")}
    env = {**env, "SEQIT_DATA_DIR": str(shared_data)}
    _run([sys.executable, "-m", "seqit_utils.config", "sample"], dest, env)
    _run([sys.executable, "-m", "dvc", "repro", "data"], dest, env)  # training sample models is for the README run
    metrics = json.loads((dest / "outputs/sample/metrics/data.json").read_text())
    assert metrics["records"]["real/xquad_de"] == 50 and metrics["records"]["real/seqeval"] == 100
    assert {p: p.read_bytes() for p in (dest / "outputs/smoke/data").rglob("*.jsonl")} == before
    # an unknown profile is refused before params.yaml changes
    bad = subprocess.run([sys.executable, "-m", "seqit_utils.config", "smoek"], cwd=dest, env=env, capture_output=True)
    assert bad.returncode != 0 and b"allowed values: paper, sample, smoke" in bad.stderr
    assert yaml.safe_load((dest / "params.yaml").read_text()) == {"profile": "sample", "seeds": [0, 1]}
    # switching back costs nothing: DVC's run cache restores every smoke stage instead of running it again
    _run([sys.executable, "-m", "seqit_utils.config", "smoke"], dest, env)
    back = _run([sys.executable, "-m", "dvc", "repro"], dest, env)
    assert "Running stage" not in back and "is cached - skipping run" in back
