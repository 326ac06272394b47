"""Notebook 12's evaluation (`seqit_utils.evaluate.ablation_eval`) over every seed of each run: per-seed values, mean
and sample sd per (run, set) — worked out by hand on stand-in generations (no model; test_runs_train generates with
real tiny models) — and the tables' mean ± sd cells."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqit_utils.config import validate
from seqit_utils.data import tasks
from seqit_utils.evaluate import ablation_eval
from seqit_utils.train import experiment, runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def config():
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text(encoding="utf-8"))
    suite = ["task_suite"]  # two of smoke's §5.1 runs, from the base here: one on two seeds, one on one
    raw["runs"]["ablation_sit"] = {"train_data": suite, "transform": "repeat", "tables": ["table_6"], "seeds": [0, 1]}
    raw["runs"]["data_level"] = {"train_data": suite, "transform": "data_level", "tables": ["table_6"], "seeds": [0]}
    return validate(raw | {"profile": "smoke"})


def test_every_seed_is_evaluated_and_summarised(config, tmp_path, monkeypatch):
    records = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=4)["eval_seq2_seen"]
    sets = {"two_step_seen": records}
    for name in ablation_eval.table_runs(config):
        for seed in runs.seeds(config, name):
            runs.model_dir(config, f"{name}-{seed}", tmp_path).mkdir(parents=True)

    def generate(config, model_dir, sets, template=None):  # seed 0 answers all 4 items, seed 1 only the first 2
        gold = [r["output"] for r in records]
        return {"two_step_seen": gold if str(model_dir).endswith("-0") else gold[:2] + ["", ""]}

    monkeypatch.setattr(experiment, "generate_sets", generate)
    reports, generations = ablation_eval.evaluate_runs(config, sets, tmp_path)
    cell = reports["ablation_sit"]["two_step_seen"]
    assert cell["seeds"] == [0, 1] and cell["n"] == 4 and cell["n_multi_step"] == 4
    assert cell["per_seed"] == {
        "0": {"follow_all": 1.0, "accuracy": 1.0, "intermediate_exact": 1.0},
        "1": {"follow_all": 0.5, "accuracy": 0.5, "intermediate_exact": 0.5},
    }
    assert (cell["follow_all"], cell["accuracy"]) == (0.75, 0.75)
    assert cell["follow_all_sd"] == pytest.approx(0.353553, abs=1e-6)  # sample sd of (1.0, 0.5) = 0.5 / sqrt(2)
    one = reports["data_level"]["two_step_seen"]
    assert one["seeds"] == [0] and one["follow_all"] == 1.0 and one["follow_all_sd"] == 0.0
    assert sorted({(g["run"], g["seed"]) for g in generations if g["run"] == "ablation_sit"}) == [
        ("ablation_sit", 0),
        ("ablation_sit", 1),
    ]
    assert len(generations) == 4 * sum(len(runs.seeds(config, name)) for name in reports)
    assert ablation_eval.evaluated_seeds(reports) == [0, 1]

    table = ablation_eval.table_markdown(config, "table_6", reports, {})
    assert "| seeds | two_step_seen follow | two_step_seen acc |" in table
    assert "| 0, 1 | 0.75 ± 0.35 | 0.75 ± 0.35 |" in table  # ablation_sit: two seeds
    assert "| data_level | data_level | tiny |" in table and "| 0 | 1.00 | 1.00 |" in table  # one seed: the mean
    assert "mean ± sample sd over each run's seeds" in table


def test_a_seed_not_trained_names_the_stage_to_run(config, tmp_path):
    records = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=1)["eval_single"]
    with pytest.raises(FileNotFoundError, match=r"run '\w+-0' is not trained; run `dvc repro train@\w+-0`"):
        ablation_eval.evaluate_runs(config, {"single": records}, tmp_path)


def test_summarize_seeds_leaves_missing_values_out():
    report = {"n": 0, "follow_all": None, "accuracy": None, "intermediate_exact": None, "n_multi_step": 0}
    cell = ablation_eval.summarize_seeds({0: report, 1: report})
    assert (cell["follow_all"], cell["follow_all_sd"], cell["seeds"]) == (None, None, [0, 1])


def test_eval_sets_keeps_the_named_sets_and_names_the_ones_there_are(config, monkeypatch):
    every = {name: [{"id": name}] for name in ("single", "two_step_seen", "chain3", "fr_seen")}
    monkeypatch.setattr(experiment, "eval_sets", lambda config, root: every)
    assert config.ablations.eval_sets == ["single", "two_step_seen", "two_step_unseen", "chain3"]  # smoke's
    wanted = config.model_copy(update={"ablations": config.ablations.model_copy(update={"eval_sets": ["chain3"]})})
    assert ablation_eval.eval_sets(wanted) == {"chain3": [{"id": "chain3"}]}
    every_set = config.model_copy(update={"ablations": config.ablations.model_copy(update={"eval_sets": None})})
    assert ablation_eval.eval_sets(every_set) == every
    with pytest.raises(
        ValueError,
        match=r"ablations.eval_sets: \['two_step_unseen'\] are not evaluation sets of "
        r"profile 'smoke' \(it has \['chain3', 'fr_seen', 'single', 'two_step_seen'\]",
    ):
        ablation_eval.eval_sets(config)
