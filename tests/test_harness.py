"""`seqit_utils.evaluate.harness`: Table 5's benchmarks through lm-evaluation-harness, offline, on the published files.

The scoring checks send gold (and known-wrong) answers through the harness's own filters, metrics and aggregation
(`replay_model`, no model involved); the end-to-end test runs the harness's "hf" model on a tiny local model, whose
scores are ~0: it proves the plumbing, not a result.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from seqit_utils.evaluate import harness, harness_tasks
from seqit_utils.train import tiny

pytest.importorskip("lm_eval", reason="lm-evaluation-harness is the `eval` extra")

GSM8K_FIELDS = {
    "n_samples",
    "exact_match,strict-match",
    "exact_match_stderr,strict-match",
    "exact_match,flexible-extract",
    "exact_match_stderr,flexible-extract",
}
# Table 5: MMLU 5-shot, ARC-Challenge 25-shot, GSM8K 8-shot, HumanEval 0-shot (pass@10).
TABLE5_SHOTS = {"mmlu": 5, "arc_challenge": 25, "gsm8k": 8, "humaneval": 0}
# The hub datasets of the harness's standard tasks (one subset each, to see whether they are cached).
HUB_DATA = {"mmlu": ("cais/mmlu", "abstract_algebra"), "arc_challenge": ("allenai/ai2_arc", "ARC-Challenge")}


@pytest.fixture(scope="module")
def data_files(shared_data):
    found = harness_tasks.local_data_files(shared_data)
    assert set(found) == {"gsm8k", "humaneval"}, found
    return found


@pytest.fixture(scope="module")
def gsm8k_train(data_files):
    return [json.loads(line) for line in data_files["gsm8k"]["train"].read_text(encoding="utf-8").splitlines()]


def final_number(answer: str) -> int:
    return int(answer.split("####")[-1].strip().replace(",", ""))


def test_benchmarks_carry_table5_settings():
    assert {name: bench.num_fewshot for name, bench in harness_tasks.BENCHMARKS.items()} == TABLE5_SHOTS
    assert [name for name, bench in harness_tasks.BENCHMARKS.items() if bench.unsafe] == ["humaneval"]


def test_local_data_files_lists_only_complete_published_sets(data_files, shared_data, tmp_path):
    assert data_files["gsm8k"] == {
        "train": shared_data / "gsm8k/train.jsonl",
        "test": shared_data / "gsm8k/test.jsonl",
    }
    assert data_files["humaneval"] == {"test": shared_data / "humaneval/HumanEval.jsonl.gz"}
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k/test.jsonl").write_text("{}\n")  # no train.jsonl: GSM8K then reads the hub
    assert harness_tasks.local_data_files(tmp_path) == {}


def test_task_yamls_get_their_data_paths_at_run_time(data_files, tmp_path):
    from lm_eval.tasks._yaml_loader import load_yaml

    for template in harness_tasks.TEMPLATES.glob("*.yaml"):
        text = template.read_text(encoding="utf-8")  # the data source is a placeholder, never a path
        assert "dataset_path: ${dataset_path}\n" in text and "dataset_kwargs: ${dataset_kwargs}\n" in text

    local = harness_tasks.render_tasks(tmp_path / "local", data_files)
    gsm8k = load_yaml(local / "gsm8k.yaml", resolve_func=False)  # the harness's own reader, includes merged
    assert (gsm8k["task"], gsm8k["dataset_path"], gsm8k["dataset_name"]) == ("seqit_gsm8k", "json", None)
    assert gsm8k["dataset_kwargs"] == {
        "data_files": {k: str(Path(v).resolve()) for k, v in data_files["gsm8k"].items()}
    }
    assert gsm8k["num_fewshot"] == 8 and gsm8k["fewshot_split"] == "train"
    assert gsm8k["doc_to_text"] == "Question: {{question}}\nAnswer:"  # inherited from the harness's gsm8k.yaml
    assert [f["name"] for f in gsm8k["filter_list"]] == ["strict-match", "flexible-extract"]
    humaneval = load_yaml(local / "humaneval.yaml", resolve_func=False)
    assert humaneval["dataset_kwargs"] == {
        "data_files": {"test": str(Path(data_files["humaneval"]["test"]).resolve())}
    }
    assert (humaneval["repeats"], humaneval["metric_list"][0]["k"]) == (20, [1, 10])
    assert humaneval["generation_kwargs"]["temperature"] == 0.1 and humaneval["unsafe_code"] is True

    hub = harness_tasks.render_tasks(tmp_path / "hub")  # no local files: the harness's hub datasets
    gsm8k = load_yaml(hub / "gsm8k.yaml", resolve_func=False)
    assert (gsm8k["dataset_path"], gsm8k["dataset_name"], gsm8k["dataset_kwargs"]) == ("openai/gsm8k", "main", None)


def test_data_files_are_checked_before_anything_runs(data_files, tmp_path):
    with pytest.raises(ValueError, match="'mmlu' does not read local files; allowed keys: gsm8k, humaneval"):
        harness_tasks.render_tasks(tmp_path, {"mmlu": {"test": data_files["gsm8k"]["test"]}})
    with pytest.raises(ValueError, match=r"data_files.gsm8k: give the splits \['test', 'train'\]"):
        harness_tasks.render_tasks(tmp_path, {"gsm8k": {"test": data_files["gsm8k"]["test"]}})
    with pytest.raises(FileNotFoundError, match="gsm8k train split: no file at .*nowhere.jsonl; give the published"):
        harness_tasks.render_tasks(tmp_path, {"gsm8k": {**data_files["gsm8k"], "train": tmp_path / "nowhere.jsonl"}})
    with pytest.raises(ValueError, match="num_fewshot names tasks that are not run: mmlu"):
        harness.run_tasks("unused", ["gsm8k"], seed=0, num_fewshot={"mmlu": 5})


def test_gsm8k_gold_answers_score_1_and_wrong_answers_0_through_the_harness_metric(data_files):
    gold = harness.run_tasks(harness.replay_model(lambda doc: doc["answer"]), ["gsm8k"], seed=0, data_files=data_files)
    assert gold["skipped"] == {} and set(gold["results"]["gsm8k"]) == GSM8K_FIELDS
    assert gold["results"]["gsm8k"]["n_samples"] == 989  # the whole published test file in shared/data
    assert gold["results"]["gsm8k"]["exact_match,strict-match"] == 1.0
    assert gold["results"]["gsm8k"]["exact_match,flexible-extract"] == 1.0

    def off_by_one(doc):
        wrong = final_number(doc["answer"]) + 1
        return f"{doc['answer'].split('####')[0]}#### {wrong}"

    wrong = harness.run_tasks(harness.replay_model(off_by_one), ["gsm8k"], seed=0, data_files=data_files, limit=40)
    assert wrong["results"]["gsm8k"]["exact_match,strict-match"] == 0.0
    assert wrong["results"]["gsm8k"]["exact_match,flexible-extract"] == 0.0


def test_gsm8k_prompts_are_8_shot_from_the_train_split_and_shots_can_be_overridden(data_files, gsm8k_train):
    train_questions = {row["question"] for row in gsm8k_train}
    model = harness.replay_model(lambda doc: doc["answer"])
    harness.run_tasks(model, ["gsm8k"], seed=0, data_files=data_files, limit=2)
    for prompt in model.prompts:
        questions = re.findall(r"Question: (.*?)\nAnswer:", prompt, flags=re.S)
        assert len(questions) == 9 and set(questions[:8]) <= train_questions and questions[8] not in train_questions

    again = harness.replay_model(lambda doc: doc["answer"])
    harness.run_tasks(again, ["gsm8k"], seed=0, data_files=data_files, limit=2)
    assert again.prompts == model.prompts  # same seed, same shots
    two_shot = harness.replay_model(lambda doc: doc["answer"])
    report = harness.run_tasks(two_shot, ["gsm8k"], seed=0, data_files=data_files, limit=2, num_fewshot={"gsm8k": 2})
    assert report["config"]["num_fewshot"] == {"gsm8k": 2}
    assert [prompt.count("Question:") for prompt in two_shot.prompts] == [3, 3]


def test_humaneval_is_refused_unless_code_execution_is_allowed(data_files):
    with pytest.raises(ValueError, match="humaneval executes model-written code .* allow_code_execution=True"):
        harness.run_tasks(harness.replay_model(lambda doc: ""), ["gsm8k", "humaneval"], seed=0, data_files=data_files)


@pytest.mark.skipif(
    os.environ.get("SEQIT_NO_CODE_EXECUTION") == "1", reason="executes code (SEQIT_NO_CODE_EXECUTION=1 is set)"
)
def test_humaneval_pass_at_k_executes_the_canonical_solutions(data_files):
    """EXECUTES CODE: HumanEval's own canonical solutions (and a stub returning None) under the harness's sandboxed
    checker; nothing model-written runs here."""

    def score(respond):
        report = harness.run_tasks(
            harness.replay_model(respond),
            ["humaneval"],
            seed=0,
            data_files=data_files,
            limit=2,
            allow_code_execution=True,
        )
        row = report["results"]["humaneval"]
        return row["n_samples"], row["pass@1,create_test"], row["pass@10,create_test"]

    assert score(lambda doc: doc["canonical_solution"]) == (2, 1.0, 1.0)
    assert score(lambda doc: "    return None\n") == (2, 0.0, 0.0)

    calls: dict[str, int] = {}

    def first_of_20_correct(doc):  # the 20 samples of a problem arrive together
        calls[doc["task_id"]] = calls.get(doc["task_id"], 0) + 1
        return doc["canonical_solution"] if calls[doc["task_id"]] == 1 else "    return None\n"

    before = os.environ.get("HF_ALLOW_CODE_EVAL")
    n, pass1, pass10 = score(first_of_20_correct)
    assert os.environ.get("HF_ALLOW_CODE_EVAL") == before  # set only while the harness ran
    assert set(calls.values()) == {20}
    # unbiased estimator, n = 20, c = 1: pass@1 = 1/20; pass@10 = 1 - C(19, 10) / C(20, 10) = 1/2
    assert (n, pass1, pass10) == (2, pytest.approx(0.05), pytest.approx(0.5))


def _hub_dataset_cached(path: str, name: str) -> bool:
    import datasets

    try:
        datasets.load_dataset_builder(path, name)
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, gsm8k_train, one_torch_thread):
    texts = [row["question"] + "\n" + row["answer"] for row in gsm8k_train[:200]]
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    # 1,024 positions: the 8-shot prompts (~2-3k tokens here) are left-truncated by the harness to fit.
    return tiny.build_tiny(
        texts, tmp_path_factory.mktemp("m") / "tiny", seed=0, max_position_embeddings=1024, vocab_size=400, **size
    )


def test_run_tasks_on_a_tiny_model_offline_scores_gsm8k_and_skips_hub_benchmarks(tiny_model, data_files, tmp_path):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    hub = [name for name, ids in HUB_DATA.items() if not _hub_dataset_cached(*ids)]  # a cached one would really run
    report = harness.run_tasks(
        tiny_model,
        ["gsm8k", *hub],
        seed=0,
        data_files=data_files,
        limit=3,
        gen_kwargs={"max_gen_toks": 16},  # an untrained model never stops; 16 tokens are enough to score
        output_path=tmp_path / "table5.json",
    )
    row = report["results"]["gsm8k"]
    assert set(row) == GSM8K_FIELDS and row["n_samples"] == 3
    assert all(0.0 <= row[key] <= 1.0 for key in GSM8K_FIELDS - {"n_samples"})
    assert report["config"]["num_fewshot"] == {name: TABLE5_SHOTS[name] for name in ["gsm8k", *hub]}
    assert set(report["skipped"]) == set(hub)
    for name in hub:
        assert report["skipped"][name].startswith(
            f"data not available (ConnectionError: Couldn't reach '{HUB_DATA[name][0]}'"
        )
    written = json.loads((tmp_path / "table5.json").read_text())
    assert written["results"] == report["results"] and written["skipped"] == report["skipped"]
    assert written["provenance"]["params"]["lm_eval"] == report["config"]["lm_eval"]


def test_benchmarks_whose_data_is_unavailable_are_skipped_without_loading_a_model():
    if _hub_dataset_cached("cais/mmlu", "abstract_algebra"):
        pytest.skip("MMLU is in the local datasets cache here, so its skip path cannot be shown")
    report = harness.run_tasks("no-such/model", ["mmlu"], seed=0)  # the model is never loaded
    assert report["results"] == {}
    assert report["skipped"]["mmlu"].startswith("data not available (ConnectionError: Couldn't reach 'cais/mmlu'")
