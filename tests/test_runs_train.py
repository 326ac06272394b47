"""Stage `train` of the run registry (notebook 05) in a miniature project: each run trains on the set its transform
names, from its base and seed; a tiny base of another shape is built for a base swap; SIT-multi trains on
conversations; notebook 12's tables list every run; a recipe no stage builds fails before any model is built. The
generator swap (a served model) runs in test_pipeline's `dvc repro`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from seqit_utils import io
from seqit_utils.config import load_config
from seqit_utils.data import tasks
from seqit_utils.evaluate import ablation_eval
from seqit_utils.sit import ablations
from seqit_utils.train import experiment, runs

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)
SHORT = {"max_steps": 6, "per_device_train_batch_size": 8, "logging_steps": 2}


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
    raw["data"]["task_suite"].pop("translate")  # the French-input splits are not written here
    suite, short = ["task_suite"], {"train_overrides": SHORT}
    raw["runs"] = {
        "sit": {"train_data": suite, "transform": "repeat", "tables": ["table_6", "table_12"], **short},
        "sit_multi": {"train_data": suite, "transform": "sit_multi", "tables": ["table_12"], **short},
        "wide_sit": {"train_data": suite, "transform": "repeat", "tables": ["model_swaps"], **short,
                     "tiny": {"hidden_size": 48}},
        "sit_ft": {"train_data": suite, "transform": "repeat", "init": "sit", "tables": ["table_12"], **short},
        "translate": {"train_data": ["alpaca", "alpaca_multilingual"], "transform": "translate",
                      "tables": ["table_2"]},
    }  # fmt: skip
    raw["tables"] = {}  # no evaluation here: the rows of the profile's tables are runs this registry does not have
    raw["seqeval"]["pairwise"] = ["sit", "wide_sit"]
    (root / "params").mkdir()
    (root / "params" / "smoke.yaml").write_text(yaml.safe_dump(raw))
    config = load_config("smoke", root)
    out = experiment.profile_dir(config, root)
    suite_sets = tasks.generate_suite(seed=0, n_train_per_task=8, n_train_sit=60, n_eval_per_split=3)
    for name, records in suite_sets.items():
        io.write_jsonl(out / "data" / "task_suite" / f"{name}.jsonl", records)
    io.write_jsonl(out / "sit" / "it.jsonl", suite_sets["train_it"])
    io.write_jsonl(out / "sit" / "sit.jsonl", suite_sets["train_it"] + suite_sets["train_sit_chains"])
    multi, _ = ablations.sit_multi(suite_sets["train_sit_chains"], ablations.suite_step_instruction(0))
    io.write_jsonl(out / "ablations" / "sit_multi.jsonl", multi)
    experiment.build_tiny_bases(config, suite_sets["train_it"] + suite_sets["train_sit_chains"], root)
    return root, config


def test_runs_train_on_their_set_from_their_base_and_fill_the_tables(project):
    root, config = project
    out = experiment.profile_dir(config, root)
    trained = {}
    with pytest.raises(FileNotFoundError, match=r"runs\.sit_ft\.init = 'sit': .*models/sit-0 holds no trained model; "
                                                r"run `dvc repro train@sit-0`"):  # fmt: skip
        runs.train_run(config, "sit_ft-0", root)
    for name in ("sit", "sit_multi", "wide_sit", "sit_ft"):
        trained[name] = runs.train_run(config, f"{name}-0", root)
        assert trained[name]["global_step"] == 6 and trained[name]["seed"] == 0
        assert (out / "models" / f"{name}-0" / "model.safetensors").is_file()
    sit = io.read_jsonl(out / "sit" / "sit.jsonl")
    assert trained["sit"]["train_examples"] == len(sit) and trained["sit"]["source"] == {"train_file": "sit/sit.jsonl"}
    assert trained["sit"]["base"] == str(out / "models" / "base" / "seed-0")
    # `init: sit` fine-tuned sit's model of the same seed (a DVC dependency of its train@ entry)
    assert trained["sit_ft"]["base"] == str(out / "models" / "sit-0")
    assert runs.train_entries(config)["sit_ft-0"]["init"] == "models/sit-0"
    assert runs.train_entries(config)["sit-0"]["init"] == "models/base"
    assert trained["sit_ft"]["first_logged_loss"] < trained["sit"]["first_logged_loss"]
    # SIT-multi saw the conversations (one example each), not single-turn records
    assert trained["sit_multi"]["source"] == {"train_file": "ablations/sit_multi.jsonl"}
    assert trained["sit_multi"]["train_examples"] == len(io.read_jsonl(out / "ablations" / "sit_multi.jsonl"))
    # the base swap built its own tiny base of the changed shape; the default base is untouched
    wide = json.loads((out / "models" / "wide_sit-0" / "config.json").read_text())
    default = json.loads((out / "models" / "base" / "seed-0" / "config.json").read_text())
    assert (wide["hidden_size"], default["hidden_size"]) == (48, 32)

    sets = {
        name: records for name, records in experiment.eval_sets(config, root).items() if name in ("single", "chain3")
    }
    reports, generations = ablation_eval.evaluate_runs(config, sets, root)
    assert set(reports) == {"sit", "sit_multi", "wide_sit", "sit_ft"} and len(generations) == 4 * (3 + 3)
    table_12 = ablation_eval.table_markdown(config, "table_12", reports, trained)
    rows = [line for line in table_12.splitlines() if line.startswith("| sit")]
    assert [row.split(" | ")[0] for row in rows] == ["| sit", "| sit_ft", "| sit_multi"]
    assert "| sit_ft | repeat | run sit |" in table_12
    examples = trained["sit_multi"]["train_examples"]
    setup = "tiny_scratch (logging_steps=2, max_steps=6, per_device_train_batch_size=8)"
    assert f"| sit_multi | sit_multi | tiny | {setup} | {examples} | 6 |" in table_12
    assert "| wide_sit | repeat | tiny (hidden_size=48) |" in ablation_eval.table_markdown(
        config, "model_swaps", reports, trained
    )


def test_a_recipe_no_stage_builds_fails_before_any_model_is_built(project):
    root, config = project
    with pytest.raises(ValueError, match=r"runs\.translate: no stage builds transform 'translate' over \['alpaca'"):
        runs.train_run(config, "translate-0", root)
    assert not (experiment.profile_dir(config, root) / "models" / "translate-0").exists()
    assert "translate-0" not in runs.train_entries(config)  # no train@ entry: the DAG runs without it
    assert "no stage builds" in runs.unbuilt(config, "translate") and runs.unbuilt(config, "sit") is None


def test_a_missing_training_set_names_the_stage_to_run(project):
    root, config = project
    broken = config.model_copy(
        update={"runs": config.runs | {"x": config.runs["sit_multi"].model_copy(update={"transform": "sit_split"})}}
    )
    with pytest.raises(FileNotFoundError, match=r"runs\.x trains on ablations/sit_split\.jsonl.*dvc repro ablations"):
        runs.training_records(broken, "x", root)
    with pytest.raises(
        ValueError, match="not in runs of profile 'smoke'; has: sit, sit_ft, sit_multi, translate, wide_sit"
    ):
        runs.run_spec(config, "data_level")
    with pytest.raises(ValueError, match="expected <run>-<seed>, one of sit-0"):
        runs.split_key(config, "sit-3")
