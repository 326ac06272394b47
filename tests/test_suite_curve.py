"""The number-of-tasks curve on the task suite (`seqit_utils.analysis.suite_curve`): values per run and number of
tasks 1-5 from notebook 06's miniature.json (mean and sd over seeds, worked out by hand), written by notebook 10's
`write_analysis` and drawn by stage `figures` from the analysis file alone, byte-identical on a re-run."""

from __future__ import annotations

import json

import pytest
import yaml

from seqit_utils.analysis import figures, suite_curve
from seqit_utils.config import find_project_root, validate
from seqit_utils.train import experiment

ROOT = find_project_root()


def cell(n, **per_seed):
    """A miniature.json cell: mean values (not read when per-seed values exist) and per-seed values."""
    seeds = {s.removeprefix("s"): {"follow_all": f, "accuracy": a} for s, (f, a) in per_seed.items()}
    return {"follow_all": -1.0, "accuracy": -1.0, "n": n, "per_seed": seeds}


MINIATURE = {
    "seeds": [0, 1],
    "single.sit": cell(20, s0=(1.0, 0.7), s1=(1.0, 0.5)),
    "two_step_seen.sit": cell(20, s0=(0.9, 0.5), s1=(0.7, 0.3)),
    "two_step_unseen.sit": cell(20, s0=(0.2, 0.1), s1=(0.4, 0.1)),  # not a chain length: left out
    "chain3.sit": cell(20, s0=(0.0, 0.1), s1=(0.0, 0.1)),
    "chain5.sit": cell(20, s0=(0.0, None), s1=(0.0, 0.05)),  # a seed without a value is left out
    "chain4.it": cell(20, s0=(0.0, 0.0)),
    "fr_seen.it": cell(20, s0=(1.0, 1.0)),  # not a suite chain set
    "chain3.shortcut": cell(20, s0=(0.0, 0.25), s1=(0.0, 0.25)),
    "provenance": {"seeds": [0, 1]},
}


def test_the_curve_has_mean_and_sd_over_seeds_per_number_of_tasks():
    curve = suite_curve.tasks_curve_suite(MINIATURE)
    assert sorted(curve) == ["it", "shortcut", "sit"] and sorted(curve["sit"]) == [1, 2, 3, 5]
    assert curve["sit"][2] == {
        "n": 20, "seeds": [0, 1], "follow_all": pytest.approx(0.8), "follow_all_sd": pytest.approx(0.141421, abs=1e-6),
        "accuracy": pytest.approx(0.4), "accuracy_sd": pytest.approx(0.141421, abs=1e-6),
    }  # fmt: skip  # (0.9, 0.7): mean 0.8, sample sd 0.2 / sqrt(2)
    assert curve["sit"][1]["accuracy"] == pytest.approx(0.6) and curve["sit"][3]["follow_all_sd"] == 0.0
    assert curve["sit"][5]["accuracy"] == 0.05 and curve["sit"][5]["accuracy_sd"] == 0.0  # one seed has a value
    assert curve["it"] == {4: {"n": 20, "seeds": [0], "follow_all": 0.0, "follow_all_sd": 0.0, "accuracy": 0.0,
                               "accuracy_sd": 0.0}}  # fmt: skip
    assert suite_curve.tasks_curve_suite({"seeds": [0]}) == {}
    assert set(suite_curve.SET_TASKS) <= set(experiment.SUITE_EVAL_SETS)  # every set is one notebook 06 evaluates


@pytest.fixture()
def smoke_config():
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text(encoding="utf-8"))
    return validate(raw | {"profile": "smoke"})


def test_written_by_notebook_10_then_drawn_from_the_file_alone(smoke_config, tmp_path):
    metrics = tmp_path / "outputs" / "smoke" / "metrics"
    with pytest.raises(FileNotFoundError, match="dvc repro manual_sit_eval"):
        suite_curve.number_of_tasks_suite(smoke_config, tmp_path)
    metrics.mkdir(parents=True)
    (metrics / "miniature.json").write_text(json.dumps(MINIATURE))
    suite = suite_curve.number_of_tasks_suite(smoke_config, tmp_path)
    assert suite["source"] == "outputs/smoke/metrics/miniature.json" and suite["sets"]["chain5"] == 5
    assert suite_curve.as_curve(suite) == suite_curve.tasks_curve_suite(MINIATURE)
    assert "sit (follow/acc by number of tasks) 1: 1.00/0.60, 2: 0.80/0.40, 3: 0.00/0.10, 5: 0.00/0.05" in (
        suite_curve.summary(suite)
    )
    verb_noun = {"parser": {"parser": "spacy"}, "n_nouns": 4, "sets": {}}
    tasks = {"sources": [], "benchmark": "b", "n_items": 0, "curve": {}}
    written = figures.write_analysis(smoke_config, verb_noun, tasks, tmp_path, suite=suite)
    assert [p.name for p in written] == ["verb_noun.json", "number_of_tasks.json", "number_of_tasks_suite.json"]
    (metrics / "miniature.json").unlink()  # the figures stage reads the analysis files only
    index = figures.draw_all(smoke_config, tmp_path)
    folder = tmp_path / "figures"
    assert index["number_of_tasks_suite"]["files"] == [
        "smoke_number_of_tasks_suite.png",
        "smoke_number_of_tasks_suite.pdf",
    ]
    assert "task suite, ground truth, tiny models" in suite_curve.title("smoke")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {"smoke_number_of_tasks_suite.png", "smoke_number_of_tasks.png", "smoke_figures.json"} <= set(before)
    figures.draw_all(smoke_config, tmp_path)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # byte-identical
    # a profile without suite sets (paper) writes an empty curve: no figure, the index says why
    empty = {**suite, "curve": {}}
    figures.write_analysis(smoke_config, verb_noun, tasks, tmp_path, suite=empty)
    index = figures.draw_all(smoke_config, tmp_path)
    assert (
        index["number_of_tasks_suite"]["files"] == [] and "no task-suite" in index["number_of_tasks_suite"]["skipped"]
    )
    assert not (folder / "smoke_number_of_tasks_suite.png").exists()  # the old figure went with its values
