"""Ablation runs (notebooks 11/12) in a miniature project: each run trains on its named set from its base, a tiny
base of another shape is built for a base swap, SIT-multi trains on conversations, and the tables list every run.
The generator swap (a served model) runs in test_pipeline's `dvc repro`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from seqit_utils import io
from seqit_utils.config import load_config
from seqit_utils.data import tasks
from seqit_utils.sit import ablations
from seqit_utils.train import ablation_runs, experiment

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_torch_thread):
    """Module-wide: the fixtures below build and train models."""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with stage 00/02/09 outputs of a small task suite and one tiny base (seed 0)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    raw["experiment"]["seeds"] = [0]
    raw["model"]["tiny"].update(TINY, vocab_size=400)
    raw["ablations"]["train_overrides"] = {"max_steps": 6, "per_device_train_batch_size": 8, "logging_steps": 2}
    raw["ablations"]["runs"] = {
        "sit": {"tables": ["table_6", "table_12"], "train": "sit"},
        "sit_multi": {"tables": ["table_12"], "train": "sit_multi"},
        "wide_sit": {"tables": ["model_swaps"], "train": "sit", "tiny": {"hidden_size": 48}},
    }
    (root / "params").mkdir()
    (root / "params" / "smoke.yaml").write_text(yaml.safe_dump(raw))
    config = load_config("smoke", root)
    out = experiment.profile_dir(config, root)
    suite = tasks.generate_suite(seed=0, n_train_per_task=8, n_train_sit=60, n_eval_per_split=3)
    for name, records in suite.items():
        io.write_jsonl(out / "data" / "task_suite" / f"{name}.jsonl", records)
    io.write_jsonl(out / "sit" / "it.jsonl", suite["train_it"])
    io.write_jsonl(out / "sit" / "sit.jsonl", suite["train_it"] + suite["train_sit_chains"])
    multi, _ = ablations.sit_multi(suite["train_sit_chains"], ablations.suite_step_instruction(0))
    io.write_jsonl(out / "ablations" / "sit_multi.jsonl", multi)
    experiment.build_tiny_bases(config, suite["train_it"] + suite["train_sit_chains"], root)
    return root, config


def test_runs_train_on_their_set_from_their_base_and_fill_the_tables(project):
    root, config = project
    out = experiment.profile_dir(config, root)
    trained = {}
    for name in config.ablations.runs:
        trained[name] = ablation_runs.train_run(config, name, root)
        assert trained[name]["global_step"] == 6
        assert (ablation_runs.run_dir(config, name, root) / "model" / "model.safetensors").is_file()
    sit = io.read_jsonl(out / "sit" / "sit.jsonl")
    assert trained["sit"]["train_examples"] == len(sit) and trained["sit"]["source"] == {"train_file": "sit/sit.jsonl"}
    assert trained["sit"]["base"] == str(out / "models" / "base" / "seed-0")
    # SIT-multi saw the conversations (one example each), not single-turn records
    assert io.read_jsonl(ablation_runs.run_dir(config, "sit_multi", root) / "train.jsonl")[0]["messages"]
    assert trained["sit_multi"]["train_examples"] == len(io.read_jsonl(out / "ablations" / "sit_multi.jsonl"))
    # the base swap built its own tiny base of the changed shape; the default base is untouched
    wide = json.loads((ablation_runs.run_dir(config, "wide_sit", root) / "model" / "config.json").read_text())
    default = json.loads((out / "models" / "base" / "seed-0" / "config.json").read_text())
    assert (wide["hidden_size"], default["hidden_size"]) == (48, 32)

    sets = {
        name: records for name, records in experiment.eval_sets(config, root).items() if name in ("single", "chain3")
    }
    reports, generations = ablation_runs.evaluate_runs(config, sets, root)
    assert set(reports) == set(config.ablations.runs) and len(generations) == 3 * (3 + 3)
    table_12 = ablation_runs.table_markdown(config, "table_12", reports, trained)
    rows = [line for line in table_12.splitlines() if line.startswith("| sit")]
    assert [row.split(" | ")[0] for row in rows] == ["| sit", "| sit_multi"]
    assert f"| sit_multi | sit_multi | tiny | {trained['sit_multi']['train_examples']} | 6 |" in table_12
    assert "| wide_sit | sit | tiny (hidden_size=48) |" in ablation_runs.table_markdown(
        config, "model_swaps", reports, trained
    )


def test_a_missing_training_set_names_the_stage_to_run(project):
    root, config = project
    runs = config.ablations.runs | {
        "sit_multi": config.ablations.runs["sit_multi"].model_copy(update={"train": "sit_split"})
    }
    broken = config.model_copy(update={"ablations": config.ablations.model_copy(update={"runs": runs})})
    with pytest.raises(
        FileNotFoundError, match=r"ablations\.runs\.sit_multi\.train = 'sit_split'.*dvc repro ablations"
    ):
        ablation_runs.training_records(broken, "sit_multi", root)
    with pytest.raises(ValueError, match="not in ablations.runs .* has: sit, sit_multi, wide_sit"):
        ablation_runs.run_spec(config, "data_level")
