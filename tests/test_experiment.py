"""Experiment plumbing: training/eval sets from the data stage, the shortcut baseline, aggregation and tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqit_utils import io
from seqit_utils.config import validate
from seqit_utils.data import tasks
from seqit_utils.data.prepare import prepare_data
from seqit_utils.train import experiment

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, shared_data):
    raw = yaml.safe_load((ROOT / "params" / "sample.yaml").read_text())
    raw["data"]["task_suite"].update(n_train_per_task=20, n_train_sit=100, n_eval_per_split=10)
    raw["data"]["data_dir"] = str(shared_data)
    config = validate(raw | {"profile": "sample"})
    root = tmp_path_factory.mktemp("run")
    prepare_data(config, root)
    return config, root


def test_training_sets_merge_suite_and_real_alpaca(sample_run):
    config, root = sample_run
    sets = experiment.training_sets(config, root)
    alpaca = io.read_jsonl(root / "outputs/sample/data/real/alpaca.jsonl")
    with_input = sum(1 for r in alpaca if r["input"].strip())
    suite_it = 13 * 20
    assert len(sets["it"]) == suite_it + len(alpaca)
    assert len(sets["sit"]) == len(sets["it"]) + 100 + with_input  # + suite chains + one repeat per input record
    assert sets["sit"][: len(sets["it"])] == sets["it"]  # SIT = IT merged with the sequential records
    repeats = [r for r in sets["sit"] if r.get("sit") == "repeat"]
    assert all(r["instruction"].startswith("First repeat the input, then ") for r in repeats)


def test_eval_sets_have_gold_steps_and_csqa_repeat(sample_run):
    config, root = sample_run
    sets = experiment.eval_sets(config, root)
    assert set(sets) == {
        *experiment.SUITE_EVAL_SETS,
        "csqa_direct",
        "csqa_repeat",
        "xquad_de_translate",
        "xquad_vi_translate",
    }
    german = sets["xquad_de_translate"][0]
    english = io.read_jsonl(sample_run[1] / "outputs/sample/data/real/xquad_en.jsonl")[0]
    assert german["instruction"].startswith("First, translate the input into English, then answer the question")
    assert german["steps"] == [
        {"task": "translate", "output": english["input"]},
        {"task": "answer", "output": english["output"]},
    ]
    assert german["input"] != english["input"] and len(sets["xquad_de_translate"]) == 50
    repeat = sets["csqa_repeat"][0]
    assert [s["task"] for s in repeat["steps"]] == ["repeat", "answer"]
    assert repeat["steps"][0]["output"] == sets["csqa_direct"][0]["input"]
    assert experiment.gold_steps(sets["csqa_direct"][0]) == [
        {"task": "answer", "output": sets["csqa_direct"][0]["output"]}
    ]


def test_shortcut_is_right_only_where_skipping_steps_does_not_matter():
    suite = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=50)
    seen = suite["eval_seq2_seen"]  # "First repeat ..., then X": skipping the repeat changes nothing
    report = experiment.score(experiment.shortcut_outputs(seen), seen, 0.5)
    assert report["accuracy"] == 1.0 and report["follow_all"] == 0.0
    chains = suite["eval_seq3"]
    chain_report = experiment.score(experiment.shortcut_outputs(chains), chains, 0.5)
    assert chain_report["accuracy"] < 1.0
    gold = experiment.score([r["output"] for r in chains], chains, 0.5)
    assert gold["accuracy"] == gold["follow_all"] == gold["intermediate_exact"] == 1.0


def test_aggregate_and_table():
    def report(follow, acc):
        return {"follow_all": follow, "accuracy": acc, "intermediate_exact": follow, "n": 10}

    per_seed = {
        0: {"it": {"x": report(0.0, 0.2)}, "sit": {"x": report(1.0, 0.6)}},
        1: {"it": {"x": report(0.1, 0.4)}, "sit": {"x": report(0.9, 0.8)}},
    }
    summary = experiment.aggregate(per_seed)
    assert summary["seeds"] == [0, 1]
    assert summary["x.sit"]["follow_all"] == pytest.approx(0.95) and summary["x.it"]["accuracy"] == pytest.approx(0.3)
    assert summary["x.sit"]["per_seed"]["1"] == {"follow_all": 0.9, "accuracy": 0.8}
    table = experiment.results_table(summary, ["it", "sit", "shortcut"], ["x"])
    assert "| x | 10 | 0.05 | 0.30 | 0.95 | 0.70 | – | – |" in table and "seeds [0, 1]" in table


def test_generate_sets_uses_the_generation_backend_and_the_templates_stop_strings(
    sample_run, tmp_path, one_torch_thread
):
    """Stages 01, 04, 06 and 12 generate through `generate_sets`: the local generator of `experiment.generation`
    (hf on CUDA when there is one; vllm by param) with the stop strings of the template the model was trained in."""
    import importlib.util
    import re

    from seqit_utils import prompts
    from seqit_utils.evaluate.generate import local_generator
    from seqit_utils.train import tiny

    config, root = sample_run
    records = experiment.eval_sets(config, root)["single"][:4]
    texts = [p + r["output"] for p, r in zip(experiment.prompts_for(records, "tulu"), records, strict=True)]
    size = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = tiny.build_tiny(texts * 5, tmp_path / "m", seed=0, max_position_embeddings=256, vocab_size=200, **size)
    gen = config.experiment.generation
    outputs = experiment.generate_sets(config, model, {"single": records}, template="tulu")["single"]
    direct = local_generator(model, "tulu", batch_size=gen.batch_size, max_new_tokens=gen.max_new_tokens)
    assert direct.stop == prompts.stop_strings("tulu")
    assert outputs == direct.generate(experiment.prompts_for(records, "tulu"))
    if importlib.util.find_spec("vllm") is None:  # the param reaches the backend choice
        vllm = config.model_copy(
            update={
                "experiment": config.experiment.model_copy(
                    update={"generation": gen.model_copy(update={"backend": "vllm"})}
                )
            }
        )
        with pytest.raises(RuntimeError, match=re.escape("pip install -e '.[gpu]' -c constraints-gpu.txt")):
            experiment.generate_sets(vllm, model, {"single": records})
