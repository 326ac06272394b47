"""`seqit runs`: the run registry of each profile, as a table and as JSON (the listing contract)."""

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
def test_every_run_of_the_registry_is_listed_once(profile):
    config = load_config(profile, ROOT)
    listed = runs.list_runs(config)
    names = [r["run"] for r in listed]
    assert len(names) == len(set(names)) and names[: len(config.runs)] == list(config.runs)
    assert all(set(r) == set(runs.COLUMNS) and r["tables"] and r["train_data"] for r in listed)
    assert all(t.startswith("table_") or t in ("model_swaps", "miniature") for r in listed for t in r["tables"])
    pair = {r["run"]: r for r in listed if r["run"] in ("it", "sit")}  # the pair the evaluation notebooks read
    assert pair["sit"]["transform"] == config.experiment.sit_transform and pair["it"]["transform"] == "none"
    assert pair["it"]["seeds"] == list(config.experiment.seeds)


def test_paper_lists_each_table_with_its_own_training_data():
    """Issue: Tables 2/9 train on translate-SIT, 4/5/10-13 on Seq-Instruct SIT of four sources, 6/12 on ablations."""
    paper = {r["run"]: r for r in runs.list_runs(load_config("paper", ROOT))}
    assert paper["it"]["base"] == "meta-llama/Meta-Llama-3-8B" and paper["it"]["train_data"] == ["alpaca"]
    assert paper["sit_translate"]["train_data"] == ["alpaca", "alpaca_multilingual"]
    assert paper["sit_translate"]["transform"] == "translate" and "table_2" in paper["sit_translate"]["tables"]
    assert paper["mistral_sit_translate"]["base"] == "mistralai/Mistral-7B-v0.1"
    sources = {tuple(r["train_data"]) for r in paper.values() if r["transform"] == "seq_instruct"}
    assert sources == {("alpaca",), ("flancot",), ("tulu_v2",), ("tulu_v2", "metamath")}
    assert paper["sit_cmdr"]["transform"] == "seq_instruct (generator command_r_plus)"
    assert {"data_level", "instance_level_it", "sit_split", "sit_multi"} <= set(paper)
    assert paper["multimodal_sit"]["tables"] == ["table_3"]


def test_smoke_runs_train_on_the_task_suite():
    smoke = {r["run"]: r for r in runs.list_runs(load_config("smoke", ROOT))}
    assert smoke["it"]["train_data"] == ["task_suite"] and "miniature" in smoke["it"]["tables"]
    assert smoke["it"]["base"] == "tiny (from config)" and smoke["it"]["seeds"] == [0, 1]
    assert smoke["translate_sit"]["train_set"] == "sit/translate_sit.jsonl"  # stage 02's, named by `train:`
    assert smoke["sit_seq_instruct"]["train_set"] == "seq_instruct/iteration_2.jsonl (seq_instruct)"


def test_json_and_table_output(capsys):
    assert cli.main(["runs", "--profile", "paper", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == runs.list_runs(load_config("paper", ROOT))
    assert {"run", "train_data", "transform", "base", "tables"} <= set(listed[0])
    assert cli.main(["runs", "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(runs.COLUMNS) and len(lines) == 1 + len(runs.list_runs(load_config("smoke", ROOT)))
    assert lines[1].index("task_suite") == lines[0].index("train_data")  # aligned columns


def test_console_script_and_unknown_profile():
    script = Path(sys.executable).parent / "seqit"
    done = subprocess.run([str(script), "runs", "--profile", "nope"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "nope" in done.stderr and "allowed values: paper, sample, smoke" in done.stderr
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=ROOT, check=True)
    for command in ("profile", "runs", "notebook", "figures"):
        assert command in done.stdout


def test_every_paper_run_has_a_stage_that_builds_its_set_before_it_trains(tmp_path):
    """Issue 15: paraphrase, translate, FlanCoT / Tulu-V2 / MetaMath and the generator swap get their sets from stage
    train_sets (notebook 11), whose out is the train@ entry's dependency; Seq-Instruct over Alpaca stays stage 03's."""
    import shutil

    import yaml
    from dvc.repo import Repo

    from seqit_utils.config import use_profile

    paper = load_config("paper", ROOT)
    assert list(runs.train_entries(paper)) == paper.trained_models()  # nothing left out any more
    built = set(runs.train_set_entries(paper))
    assert {"sit_translate", "mistral_sit_translate", "flancot_it", "flancot_sit", "tulu_it", "tulu_sit",
            "tulu_metamath_it", "tulu_metamath_sit", "sit_cmdr"} <= built  # fmt: skip
    assert {name for name, run in paper.runs.items() if run.transform == "paraphrase"} <= built
    assert runs.training_source(paper, "sit_seq_instruct") == "seq_instruct/iteration_2.jsonl"
    assert runs.train_entries(paper)["sit_translate-42"]["data"] == "train_sets/sit_translate.jsonl"
    listed = {r["run"]: r for r in runs.list_runs(paper)}
    assert listed["flancot_sit"]["train_set"] == "train_sets/flancot_sit.jsonl (train_sets)"
    assert listed["data_level"]["train_set"] == "ablations/data_level.jsonl (ablations)"

    for name in ("dvc.yaml", "params"):
        (shutil.copytree if name == "params" else shutil.copy)(ROOT / name, tmp_path / name)
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    no_scm = True\n    analytics = false\n")
    use_profile("paper", tmp_path)
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["train_sets"] == runs.train_set_entries(paper)
    index = Repo(str(tmp_path)).index
    stages = {stage.name: stage for stage in index.stages}
    build, train = stages["train_sets@sit_translate"], stages["train@sit_translate-42"]
    assert "notebooks/11_train_sets.ipynb" in build.cmd and "-p run sit_translate" in build.cmd
    assert {out.def_path for out in build.outs} >= {"outputs/paper/train_sets/sit_translate.jsonl",
                                                    "outputs/paper/metrics/train_sets/sit_translate.json"}  # fmt: skip
    assert build in index.graph.successors(train)  # `dvc repro train@sit_translate-42` builds the set first
    smoke = load_config("smoke", ROOT)  # smoke's sets come from stages 02 and 03 (its generator swap is opt-in)
    assert runs.train_set_entries(smoke) == {}
