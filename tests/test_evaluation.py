"""The benchmark evaluation of notebooks 06/08 (`seqit_utils.evaluate.evaluation`, `seqit_utils.tables.table5`) on
the real files in
../shared/data: prompt sets and skip reasons, gold -> 100% / wrong -> 0% through the same scoring path the stage
uses, group means, cached (resumable) generation with a real tiny model, the harness wiring, and the tables."""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from seqit_utils.config import find_project_root, validate
from seqit_utils.evaluate import cached_generation, evaluation
from seqit_utils.evaluate.eval_sets import MGSM_FINAL
from seqit_utils.evaluate.models import EvalModel, eval_models
from seqit_utils.tables import paper_tables, table5
from seqit_utils.train import tiny

ROOT = find_project_root()


def make_config(shared_data, **evaluation_changes):
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text(encoding="utf-8"))
    raw["data"]["data_dir"] = str(shared_data)
    raw["evaluation"] |= evaluation_changes
    return validate(copy.deepcopy(raw) | {"profile": "smoke"}, source="test")


@pytest.fixture(scope="module")
def config(shared_data):
    return make_config(shared_data, limit=3)


@pytest.fixture(scope="module")
def sets(config):
    built, skipped = evaluation.prompt_sets(config, ["xquad", "mgsm", "csqa", "alpaca_eval"])
    assert skipped == {}
    return built


def test_prompt_sets_name_every_setting(sets):
    assert list(sets["xquad"]) == [f"{p}-prompt/{lang}" for lang in ("en", "de", "vi") for p in ("it", "sit")]
    assert list(sets["mgsm"]) == [f"{v}/{lang}" for lang in ("en", "de") for v in ("en-cot", "trans-cot")]
    assert list(sets["csqa"]) == ["single", "repeat", "paraphrase"]
    assert all(len(records) == 3 for by_setting in sets.values() for records in by_setting.values())
    # the SIT prompt of a non-English language asks for the translation first; the IT prompt does not
    assert sets["xquad"]["sit-prompt/de"][0]["instruction"].startswith("First, translate the input into English")
    assert "translate" not in sets["xquad"]["it-prompt/de"][0]["instruction"].lower()
    assert sets["alpaca_eval"]["all"][0]["generator"] == "gpt4_1106_preview"


def test_unconfigured_and_missing_benchmarks_are_skipped_with_the_reason(shared_data, tmp_path):
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text(encoding="utf-8"))
    raw["data"]["data_dir"] = str(tmp_path)  # no data here, and the hub is offline
    del raw["evaluation"]["csqa"]
    config = validate(raw | {"profile": "smoke"})
    built, skipped = evaluation.prompt_sets(config, ["xquad", "csqa"])
    assert built == {}
    assert skipped["csqa"] == "not configured: params/smoke.yaml has no evaluation.csqa"
    assert skipped["xquad"].startswith("data not found") and "xquad" in skipped["xquad"]
    with pytest.raises(ValueError, match="benchmark = 'squad' is unknown; allowed values: xquad"):
        evaluation.prompt_sets(config, ["squad"])


def gold_output(benchmark, setting, record):
    if benchmark == "xquad":  # the prompt asks for an English answer: both metrics score against the English gold
        answer = record["answers_en"][0]
        sequential = setting.startswith("sit-") and not setting.endswith("/en")
        return f"{record['steps'][0]['output']}\n{answer}" if sequential else answer
    if benchmark == "mgsm":
        return f"Let me think.\n{MGSM_FINAL}{record['answer_number']}"
    steps = [s["output"] if s["output"] is not None else record["input"] for s in record["steps"][:-1]]
    choice = dict(evaluation.scoring.csqa_choices(record))[record["answer_key"]]
    return "\n".join([*steps, f"{record['answer_key']}: {choice}"])


def wrong_output(benchmark, setting, record):
    if benchmark == "mgsm":
        return f"{MGSM_FINAL}{record['answer_number'] + 7}"
    if benchmark == "csqa":
        choices = evaluation.scoring.csqa_choices(record)
        key, text = next((k, t) for k, t in choices if k != record["answer_key"])
        return f"{key}: {text}"
    return "zzz qqq"


@pytest.mark.parametrize("benchmark", ["xquad", "mgsm", "csqa"])
def test_gold_answers_score_100_and_wrong_answers_0_through_the_stage_scoring(config, sets, benchmark):
    by_setting = sets[benchmark]
    gold = {s: [gold_output(benchmark, s, r) for r in records] for s, records in by_setting.items()}
    wrong = {s: [wrong_output(benchmark, s, r) for r in records] for s, records in by_setting.items()}
    right, _ = evaluation.score(config, benchmark, by_setting, gold)
    bad, _ = evaluation.score(config, benchmark, by_setting, wrong)
    for setting in by_setting:
        for family in ("paper", "strict"):
            assert right[setting][f"{family}_accuracy"] == 1.0, (setting, right[setting])
            assert bad[setting][f"{family}_accuracy"] == 0.0, (setting, bad[setting])
        if benchmark == "xquad" and setting.startswith("sit-") and not setting.endswith("/en"):
            assert (right[setting]["strict_follow_rate"], bad[setting]["strict_follow_rate"]) == (1.0, 0.0)
            assert (right[setting]["paper_follow_rate"], bad[setting]["paper_follow_rate"]) == (1.0, 0.0)
        if benchmark == "xquad":
            assert right[setting]["strict_exact_match"] == 1.0 and right[setting]["strict_f1"] == 1.0
            assert set(right[setting]) >= {"strict_exact_match_native", "strict_f1_native", "n", "no_answer"}
        if benchmark == "csqa":
            assert right[setting]["strict_follow_rate"] == 1.0
    if benchmark == "csqa":  # a bare answer skips the repeat / paraphrase step
        assert bad["repeat"]["strict_follow_rate"] == 0.0 and bad["paraphrase"]["strict_follow_rate"] == 0.0


def test_benchmark_metrics_average_groups_and_derive_the_table_settings():
    models = {
        "it-0": EvalModel("it-0", "it", "it", path="a"),
        "it-1": EvalModel("it-1", "it", "it", path="b"),
        "sit-0": EvalModel("sit-0", "sit", "sit", path="c"),
    }

    def summary(it_de, sit_de, it_vi=0.0, sit_vi=0.0):
        return {
            "it-prompt/de": {"n": 4, "paper_accuracy": it_de, "paper_follow_rate": None},
            "sit-prompt/de": {"n": 4, "paper_accuracy": sit_de, "paper_follow_rate": 0.5},
            "it-prompt/vi": {"n": 4, "paper_accuracy": it_vi, "paper_follow_rate": None},
            "sit-prompt/vi": {"n": 4, "paper_accuracy": sit_vi, "paper_follow_rate": 1.0},
        }

    per_model = {"it-0": summary(0.25, 0.0), "it-1": summary(0.75, 1.0), "sit-0": summary(0.0, 0.5, sit_vi=1.0)}
    out = evaluation.benchmark_metrics("xquad", models, per_model)
    assert out["it"]["models"] == ["it-0", "it-1"]
    assert out["it"]["it-prompt/de"] == {"n": 4, "paper_accuracy": 0.5, "paper_follow_rate": None}
    assert out["it"]["de"] == out["it"]["it-prompt/de"]  # IT rows report the IT prompt
    assert out["sit"]["de"]["paper_accuracy"] == 0.5 and out["sit"]["vi"]["paper_accuracy"] == 1.0  # the SIT prompt
    assert out["sit"]["all"]["paper_accuracy"] == 0.75 and out["sit"]["all"]["paper_follow_rate"] == 0.75
    assert out["it-1"]["all"]["paper_accuracy"] == 0.375
    mgsm = evaluation.benchmark_metrics(
        "mgsm",
        {"m": models["it-0"]},
        {"m": {"en-cot/de": {"n": 2, "strict_accuracy": 1.0}, "en-cot/fr": {"n": 2, "strict_accuracy": 0.0}}},
    )
    assert mgsm["it"]["en-cot/all"] == {"n": 2, "strict_accuracy": 0.5}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, sets, one_torch_thread):
    texts = [r["instruction"] + "\n" + r["input"] for by in sets.values() for rs in by.values() for r in rs]
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    return tiny.build_tiny(
        texts * 3, tmp_path_factory.mktemp("m") / "tiny", seed=0, max_position_embeddings=4096, vocab_size=300, **size
    )


def test_generation_is_cached_per_setting_and_restarts_when_the_model_changes(
    shared_data, sets, tiny_model, tmp_path, monkeypatch
):
    config = make_config(shared_data, limit=3, models={"a": {"path": str(tiny_model), "group": "it", "prompt": "it"}})
    models = eval_models(config, tmp_path)
    wanted = {"xquad": {k: v for k, v in sets["xquad"].items() if k.endswith("/de")}, "csqa": sets["csqa"]}
    first = cached_generation.generate(config, models, wanted, tmp_path)
    files = sorted((tmp_path / "outputs" / "smoke" / "eval_cache").rglob("*.json"))
    assert len(files) == 5  # one per (model, benchmark, setting)
    assert all(len(outputs) == 3 for by in first["a"].values() for outputs in by.values())

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded although every output is cached")

    monkeypatch.setattr("seqit_utils.evaluate.generate.HFGenerator", no_load)
    assert cached_generation.generate(config, models, wanted, tmp_path) == first  # a re-run: nothing generated

    files[0].unlink()  # a run that died before this setting: only it is generated again
    with pytest.raises(AssertionError, match="was loaded"):
        cached_generation.generate(config, models, wanted, tmp_path)
    monkeypatch.undo()
    assert cached_generation.generate(config, models, wanted, tmp_path) == first  # greedy: the same outputs again

    config_file = tiny_model / "config.json"
    os.utime(config_file, ns=(config_file.stat().st_atime_ns, config_file.stat().st_mtime_ns + 10**9))
    monkeypatch.setattr("seqit_utils.evaluate.generate.HFGenerator", no_load)
    with pytest.raises(AssertionError, match="was loaded"):  # a retrained model never reuses old outputs
        cached_generation.generate(config, models, wanted, tmp_path)


def test_harness_runs_gsm8k_skips_what_cannot_run_and_resumes_from_its_cache(
    shared_data, tiny_model, tmp_path, monkeypatch
):
    config = make_config(
        shared_data,
        models={"m": {"path": str(tiny_model), "group": "sit"}},
        harness={"tasks": ["mmlu", "gsm8k", "humaneval"], "limit": 2, "max_gen_toks": 8},
    )
    models = eval_models(config, tmp_path)
    metrics, skipped = table5.evaluate_harness(config, models, tmp_path)
    assert list(metrics) == ["gsm8k"]
    assert metrics["gsm8k"]["m"]["all"]["n"] == 2 and metrics["gsm8k"]["sit"]["models"] == ["m"]
    assert 0.0 <= metrics["gsm8k"]["sit"]["all"]["accuracy"] <= 1.0
    assert skipped["arc_challenge"] == "not configured: evaluation.harness.tasks does not list arc_challenge"
    assert skipped["humaneval"].startswith("code execution not allowed")
    assert skipped["mmlu"].startswith("data not available")

    asked = []
    real = table5.harness.run_tasks
    monkeypatch.setattr(
        table5.harness, "run_tasks", lambda model, tasks, **kw: asked.append(tasks) or real(model, tasks, **kw)
    )
    again, skipped_again = table5.evaluate_harness(config, models, tmp_path)
    assert asked == [["mmlu"]]  # a re-run asks only for what has no result yet (GSM8K's is cached)
    assert skipped_again == skipped
    assert again["gsm8k"] == metrics["gsm8k"]


def test_alpaca_eval_win_rate_against_the_recorded_references(config, sets):
    references = sets["alpaca_eval"]["all"]
    outputs = {"all": [f"MINE {r['instruction']}" for r in references]}

    def judge(conversations):  # a scripted judge at the LLM boundary: prefers the answer marked MINE
        replies = []
        for messages in conversations:
            text = messages[-1]["content"]
            a, b = text.index("### Response A"), text.index("### Response B")
            replies.append("[[A]]" if "MINE" in text[a:b] else "[[B]]")
        return replies

    result = table5.alpaca_eval_metrics(config, "sit-0", {"all": references}, outputs, complete=judge)["all"]
    assert result["win_rate"] == 1.0 and result["n_scored"] == 3
    assert (result["generator"], result["reference_generator"]) == ("sit-0", "gpt4_1106_preview")


def test_paper_tables_name_skipped_benchmarks_and_read_seqeval_means(tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "gsm8k.json").write_text(json.dumps({"sit": {"all": {"accuracy": 0.25}}}))
    (metrics / "mmlu.json").write_text(json.dumps({"skipped": "data not available (offline)"}))
    (metrics / "seqeval.json").write_text(json.dumps({"mean": {"sit": {"win_rate": 0.5}, "it": {}}}))
    unparsed = {"all": {"win_rate": None, "n": 4, "n_scored": 0}}
    (metrics / "alpaca_eval.json").write_text(json.dumps({"it": unparsed, "sit": unparsed}))
    table = paper_tables.write_paper_tables(["table_5"], metrics, tmp_path / "tables")["table_5"]
    assert table.value("SIT", "gsm8k") == 25.0 and table.value("SIT", "seqeval") == 50.0
    assert table.value("IT", "seqeval") is None and table.value("SIT", "mmlu") is None
    not_run, empty = table.notes[-2:]
    assert "mmlu: data not available (offline)" in not_run and "arc_challenge: no metrics file" in not_run
    assert empty.startswith("Empty although run: alpacaeval2 (no value computed")  # ran, no verdict parsed
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["table_5.csv", "table_5.md", "table_5.tex"]


def test_evaluation_params_are_validated(shared_data):
    with pytest.raises(ValueError, match=r"evaluation.models.x.endpoint = 'nope'; allowed values: local"):
        make_config(shared_data, models={"x": {"endpoint": "nope", "group": "sit"}})
    with pytest.raises(ValueError, match="give either `path`"):
        make_config(shared_data, models={"x": {"path": "a", "endpoint": "local", "group": "sit"}})
    with pytest.raises(ValueError, match="evaluation.harness.tasks"):
        make_config(shared_data, harness={"tasks": ["hellaswag"]})


def test_an_endpoint_model_answers_through_a_real_served_endpoint(shared_data, sets, tiny_model, tmp_path):
    import shutil

    shutil.copytree(tiny_model, tmp_path / "outputs" / "smoke" / "models" / "sit-0")  # llm.endpoints.local: sit-0
    config = make_config(shared_data, limit=3, models={"served": {"endpoint": "local", "group": "sit"}})
    models = eval_models(config, tmp_path)
    wanted = {"csqa": {"repeat": sets["csqa"]["repeat"]}}
    first = cached_generation.generate(config, models, wanted, tmp_path, progress=False)
    outputs = first["served"]["csqa"]["repeat"]
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
    cache = tmp_path / "outputs" / "smoke" / "llm_cache" / "local.sqlite"
    assert cache.is_file()  # the endpoint's replies went through the LLM client and its request cache
    assert cached_generation.generate(config, models, wanted, tmp_path, progress=False) == first
    entries = lambda: sorted((tmp_path / "outputs" / "smoke" / "eval_cache").rglob("*.json"))  # noqa: E731
    assert len(entries()) == 1
    served = tmp_path / "outputs" / "smoke" / "models" / "sit-0" / "config.json"  # the served model is retrained
    os.utime(served, ns=(served.stat().st_atime_ns, served.stat().st_mtime_ns + 10**9))
    cached_generation.generate(config, models, wanted, tmp_path, progress=False)
    assert len(entries()) == 2  # a new cache entry: outputs of the old model are not reused


def test_without_the_eval_extra_the_harness_tasks_are_skipped_with_the_install_command(
    shared_data, tmp_path, monkeypatch
):
    real = table5.importlib.util.find_spec
    monkeypatch.setattr(table5.importlib.util, "find_spec", lambda name: None if name == "lm_eval" else real(name))
    config = make_config(shared_data, harness={"tasks": ["gsm8k", "humaneval"], "allow_code_execution": True})
    metrics, skipped = table5.evaluate_harness(config, eval_models(config, tmp_path), tmp_path)
    assert metrics == {}
    reason = "lm-evaluation-harness is not installed: pip install -e '.[eval]'"
    assert skipped["gsm8k"] == skipped["humaneval"] == reason
    assert skipped["mmlu"].startswith("not configured")


def test_a_language_without_files_is_skipped_alone_and_named_in_the_metrics_and_tables(shared_data, tmp_path):
    # ../shared/data holds out XQuAD ar/hi/th (MANIFEST): the other languages still run
    config = make_config(shared_data, limit=2, xquad={"langs": ["de", "ar"]})
    built, skipped = evaluation.prompt_sets(config, ["xquad"])
    assert list(built["xquad"]) == ["it-prompt/de", "sit-prompt/de"]
    assert list(skipped) == ["xquad/ar"] and "xquad.ar.json" in skipped["xquad/ar"]
    models = {"m": EvalModel("m", "sit", "sit", path="x")}
    outputs = {s: [r["answers"][0] for r in records] for s, records in built["xquad"].items()}
    summaries, _ = evaluation.score(config, "xquad", built["xquad"], outputs)
    content = evaluation.benchmark_metrics("xquad", models, {"m": summaries})
    path = evaluation.write_benchmark(config, "xquad", content, skipped, tmp_path)
    written = json.loads(path.read_text())
    assert list(written["skipped_settings"]) == ["ar"] and written["sit"]["de"]["n"] == 2
    table = paper_tables.write_paper_tables(["table_9"], path.parent, tmp_path / "tables")["table_9"]
    assert table.value("SIT", "ar_acc") is None and table.value("SIT", "de_acc") is not None
    assert table.notes[-1] == "Not run: xquad ar: data not found: dataset 'xquad': could not find 'xquad.ar.json'."
    with pytest.raises(ValueError, match="csqa: no metrics and no reason it was skipped"):
        evaluation.write_benchmark(config, "csqa", None, {}, tmp_path)


def test_write_benchmarks_reports_each_benchmark_in_one_line(shared_data, tmp_path):
    config = make_config(shared_data)
    metrics = {"gsm8k": {"m": {"all": {"accuracy": 0.5}}, "sit": {"all": {"accuracy": 0.5}, "models": ["m"]}}}
    skipped = {"mmlu": "data not available (offline)\nmore detail"}
    report = evaluation.write_benchmarks(config, ["gsm8k", "mmlu"], metrics, skipped, tmp_path)
    assert report.splitlines() == ["gsm8k: {'sit': {'accuracy': 0.5}}", "mmlu: SKIPPED — data not available (offline)"]
    written = tmp_path / "outputs" / "smoke" / "metrics"
    assert json.loads((written / "mmlu.json").read_text())["skipped"] == skipped["mmlu"]
    assert json.loads((written / "gsm8k.json").read_text())["sit"]["all"]["accuracy"] == 0.5
