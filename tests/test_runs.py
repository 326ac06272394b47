"""`seqit runs`: every model a profile trains, read from the validated params of each profile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqit_utils import cli
from seqit_utils.config import load_config
from seqit_utils.train import runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", ["smoke", "sample", "paper"])
def test_every_trained_model_is_listed_once(profile):
    config = load_config(profile, ROOT)
    listed = runs.list_runs(config)
    names = [r["run"] for r in listed]
    assert len(names) == len(set(names))
    assert {r["stage"] for r in listed} <= {"finetune", "ablation_finetune", "multimodal"}
    pair = {r["run"]: r for r in listed if r["stage"] == "finetune"}
    assert set(pair) == {"it", "sit"} and pair["sit"]["transform"] == config.experiment.sit_transform
    assert pair["it"]["seeds"] == list(config.experiment.seeds)
    ablations = [r["run"] for r in listed if r["stage"] == "ablation_finetune"]
    assert ablations == [f"ablations/{name}" for name in config.ablations.runs]
    assert all(set(r) == set(runs.COLUMNS) and r["tables"] for r in listed)


def test_smoke_runs_train_on_the_task_suite_and_paper_on_alpaca():
    smoke = {r["run"]: r for r in runs.list_runs(load_config("smoke", ROOT))}
    assert smoke["it"]["train_data"] == ["task_suite"] and "miniature" in smoke["it"]["tables"]
    assert smoke["it"]["base"] == "tiny (from config)"
    paper = {r["run"]: r for r in runs.list_runs(load_config("paper", ROOT))}
    assert paper["it"]["base"] == "meta-llama/Meta-Llama-3-8B" and paper["it"]["train_data"] == ["alpaca"]
    assert paper["ablations/mistral_sit"]["base"] == "mistralai/Mistral-7B-v0.1"
    assert paper["ablations/seq_instruct_gpt4_turbo"]["transform"] == "seq_instruct (generator gpt4_turbo)"
    assert paper["multimodal_sit"]["tables"] == ["table_3"]


def test_json_and_table_output(capsys):
    assert cli.main(["runs", "--profile", "smoke", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == runs.list_runs(load_config("smoke", ROOT))
    assert cli.main(["runs", "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(runs.COLUMNS) and len(lines) == 1 + len(listed)
    assert lines[1].index("task_suite") == lines[0].index("train_data")  # aligned columns


def test_console_script_and_unknown_profile():
    script = Path(sys.executable).parent / "seqit"
    done = subprocess.run([str(script), "runs", "--profile", "nope"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "nope" in done.stderr
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=ROOT, check=True)
    for command in ("profile", "runs", "notebook", "figures"):
        assert command in done.stdout
