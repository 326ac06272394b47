"""Stage train_sets' recipes (`seqit_utils.sit.recipes`) on small files in the sources' published layouts (written
by `seqit_utils.data.layouts` from the real Alpaca sample): the IT sets of §4.2, translate-SIT, conversations, the
released-set option, clear errors for missing data before any LLM call, and the LLM recipes through real endpoints:
the tiny model under `transformers serve` (paraphrase, Seq-Instruct; a re-run is answered from the cache) and the
dry run's stand-in program (Seq-Instruct that changes records, over Tulu-V2 conversations)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seqit_utils import io
from seqit_utils.config import validate
from seqit_utils.data import layouts, loaders, tasks
from seqit_utils.data.sources import DataNotFoundError
from seqit_utils.prompts import format_prompt
from seqit_utils.sit import recipes
from seqit_utils.train import runs, tiny

ROOT = Path(__file__).resolve().parents[1]
T5 = {"tables": ["table_5"]}
RUNS = {
    "flancot_it": {"train_data": ["flancot"], "transform": "none", **T5},
    "flancot_sit": {"train_data": ["flancot"], "transform": "seq_instruct", **T5},
    "tulu_it": {"train_data": ["tulu_v2"], "transform": "none", **T5},
    "tulu_sit": {"train_data": ["tulu_v2"], "transform": "seq_instruct", **T5},
    "tulu_metamath_it": {"train_data": ["tulu_v2", "metamath"], "transform": "none", **T5},
    "tulu_metamath_sit": {"train_data": ["tulu_v2", "metamath"], "transform": "seq_instruct", **T5},
    "sit_translate": {"train_data": ["alpaca", "alpaca_multilingual"], "transform": "translate", **T5},
    "sit_paraphrase": {"train_data": ["alpaca"], "transform": "paraphrase", **T5},
    "flancot_translate": {"train_data": ["flancot"], "transform": "translate", **T5},
    "swap": {"train_data": ["task_suite"], "transform": "seq_instruct", "generator": "local_base", **T5},
}


@pytest.fixture(scope="module")
def alpaca(shared_data) -> list[dict]:
    return [r for r in loaders.load("alpaca", data_dir=shared_data) if r["input"].strip()]


def make_config(data: Path, **changes):
    """The smoke profile with the paper's training sources over `data`, the runs above added to its registry and
    `changes` merged in (section -> keys)."""
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    raw["data"].update(
        data_dir=str(data),
        datasets={"alpaca": {"loader": "alpaca", "allow_sample": True}},
        training_sources={
            "alpaca_multilingual": {"loader": "alpaca_translate_sit", "options": {"langs": "de,es"}},
            "flancot": {"loader": "flancot", "options": {"sample": 8}},
            "tulu_v2": {"loader": "tulu_v2", "allow_sample": True},  # 12 records of 326K: a sample on purpose
            "metamath": {"loader": "metamath", "options": {"sample": 5}},
        },
    )
    raw["runs"] |= RUNS
    raw["seq_instruct"].update(limit=4, source="task_suite/eval_single")  # the suite split the project writes
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values}
    return validate(raw | {"profile": "smoke"}, source="test")


@pytest.fixture(scope="module")
def project(tmp_path_factory, alpaca):
    """Published-layout files of every source (12 records each) and the data stage's Alpaca and task-suite files."""
    root = tmp_path_factory.mktemp("project")
    data = root / "data_dir"
    layouts.write_multilingual(data, alpaca[:12], ["de", "es"])
    for loader in ("flancot", "tulu_v2", "metamath"):
        layouts.write_standin(data, loader, alpaca[12:24], {})
    out = root / "outputs" / "smoke" / "data"
    io.write_jsonl(out / "real" / "alpaca.jsonl", alpaca[:6])
    suite = tasks.generate_suite(seed=0, n_train_per_task=2, n_train_sit=4, n_eval_per_split=6)
    io.write_jsonl(out / "task_suite" / "eval_single.jsonl", suite["eval_single"])
    return root, data


def test_the_it_sets_of_section_4_2_and_translate_sit_in_their_published_layouts(project, alpaca):
    root, data = project
    config = make_config(data)
    flancot, report = recipes.build(config, "flancot_it", root)
    assert len(flancot) == report["records"] == 8 and report["sources"]["flancot"]["from"] == (
        "data.training_sources.flancot"
    )
    assert flancot == recipes.build(config, "flancot_it", root)[0]  # the §4.2 sample is seeded (profile seed)
    assert set(flancot[0]) == {"id", "instruction", "input", "output"} and flancot[0]["id"].startswith("flancot/")

    # Tulu-V2 + MetaMath: one set of conversations (the trainer takes one kind per set)
    mixed, report = recipes.build(config, "tulu_metamath_it", root)
    assert len(mixed) == 12 + 5 and report["dropped_conversations"] == 0
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] * (len(r["messages"]) // 2) for r in mixed)
    with_system = mixed[0]["messages"]  # the stand-in writer gives conversation 0 a system turn and a 2nd exchange
    assert with_system[0]["content"].startswith("You are a helpful assistant.\n\n") and len(with_system) == 4
    assert [len(r["messages"]) for r in mixed[12:]] == [2] * 5  # MetaMathQA records: one exchange each

    # §4.1.1: 1/3 of the English inputs in de or es, "First, translate the input into English, then ..."
    translated, report = recipes.build(config, "sit_translate", root)
    assert len(translated) == 12 and report["by_sit"] == {"original": 8, "translate": 4}
    changed = [r for r in translated if r["instruction"].startswith("First, translate the input into English, then")]
    assert len(changed) == 4 and all(r["input"][:5] in ("<de> ", "<es> ") for r in changed)
    english = {r["input"]: r for r in alpaca[:12]}
    for record in changed:
        source = english[record["input"][5:]]
        assert record["output"] == source["input"] + "\n" + source["output"]

    written = recipes.write(config, "sit_translate", translated, report, root)
    assert io.read_jsonl(written) == translated
    metrics = json.loads((root / "outputs/smoke/metrics/train_sets/sit_translate.json").read_text())
    assert metrics["by_sit"] == {"original": 8, "translate": 4} and metrics["provenance"]["params"]["runs"]


def test_missing_or_unfit_data_stops_before_any_llm_call_naming_source_file_and_fix(project, tmp_path):
    root, data = project
    config = make_config(tmp_path / "empty")
    with pytest.raises(DataNotFoundError) as info:
        recipes.build(config, "flancot_sit", root)  # an LLM recipe: the source is read first
    message = str(info.value)
    for part in (
        "runs.flancot_sit",
        "data.training_sources.flancot",
        "loader 'flancot'",
        str(tmp_path / "empty" / "flancot" / "flancot100k.jsonl"),
        "Fix:",
        "dvc repro train_sets@flancot_sit",
    ):
        assert part in message, part  # fmt: skip
    assert not (root / "outputs/smoke/llm_cache").exists()  # no endpoint was opened
    reason = recipes.unbuildable(config, "flancot_translate")
    assert reason.startswith("translate needs one source with loader alpaca_translate_sit")
    with pytest.raises(ValueError, match=r"runs\.flancot_translate: no stage builds transform 'translate'"):
        runs.training_source(config, "flancot_translate")
    assert "flancot_translate-0" not in runs.train_entries(config)
    assert "flancot_translate" not in runs.train_set_entries(config)
    assert runs.training_source(config, "tulu_sit") == "train_sets/tulu_sit.jsonl"
    with pytest.raises(FileNotFoundError, match=r"run `dvc repro train_sets@tulu_sit` first"):
        runs.training_records(config, "tulu_sit", tmp_path)


def test_released_seq_instruct_sets_are_used_when_present_and_required_names_the_file(project, tmp_path, alpaca):
    root, data = project
    assert [recipes.released_set(make_config(data), r) for r in ("flancot_sit", "tulu_sit", "tulu_metamath_sit")] == [
        "flancot", "tulu", None
    ]  # fmt: skip
    assert recipes.released_set(make_config(data), "swap") is None  # another generator: never the authors' set
    released = tmp_path / "released"
    layouts.write_standin(released, "seqins_released", alpaca[:7], {"name": "tulu"})
    config = make_config(released, seq_instruct={"released": "when_present"})
    records, report = recipes.build(config, "tulu_sit", root)
    assert report["recipe"] == "released" and report["source"]["released"] == "tulu" and len(records) == 7
    assert records[0]["instruction"].startswith("First restate the question, then ")
    required = make_config(released, seq_instruct={"released": "required"})
    with pytest.raises(DataNotFoundError) as info:
        recipes.build(required, "flancot_sit", root)
    assert str(released / "seqins" / "flancot_100k-iteration_2.jsonl") in str(info.value)
    assert "seq_instruct.released: when_present" in str(info.value)
    with pytest.raises(ValueError, match="the authors released no Seq-Instruct set for"):
        recipes.build(required, "tulu_metamath_sit", root)


@pytest.fixture(scope="module")
def served_project(project, one_torch_thread):
    """The project with stage 02's tiny base of seed 0, which the smoke profile's `local_base` endpoint serves."""
    root, data = project
    texts = [format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in project_alpaca(root)]
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    base = root / "outputs/smoke/models/base/seed-0"
    tiny.build_tiny(texts * 4, base, seed=0, max_position_embeddings=256, vocab_size=300, **size)
    return root, data


def project_alpaca(root: Path) -> list[dict]:
    return io.read_jsonl(root / "outputs/smoke/data/real/alpaca.jsonl")


@pytest.mark.slow
def test_llm_recipes_through_a_served_model_keep_counts_and_resume_from_the_cache(served_project):
    root, data = served_project
    config = make_config(data, llm={"generator": "local_base", "endpoints": {
        "local": {"serve": "base/seed-0", "sampling": {"max_tokens": 12}, "concurrency": 4},
        "local_base": {"serve": "base/seed-0", "sampling": {"max_tokens": 12}, "concurrency": 4},
        "suite": {"suite": {}}}},
    )  # fmt: skip
    records, report = recipes.build(config, "sit_paraphrase", root, progress=False)
    originals = project_alpaca(root)
    assert report["endpoint"] == "local_base" and report["client"]["requests"] == len(originals) == 6
    assert records[:6] == recipes.as_training(originals)[0]  # §2.2: the originals, then their SIT versions
    paraphrased = records[6:]
    assert len(paraphrased) == report["by_sit"].get("paraphrase", 0) <= 6
    assert all(r["instruction"].startswith("First paraphrase the input, then ") for r in paraphrased)
    again, rerun = recipes.build(config, "sit_paraphrase", root, progress=False)  # resumed / re-run: all cached
    assert again == records and rerun["client"]["requests"] == 0 and rerun["client"]["cache_hits"] == 6

    seq, report = recipes.build(config, "flancot_sit", root, progress=False)  # Seq-Instruct over FlanCoT
    assert len(seq) == 8 and [it["n"] for it in report["summary"]["iterations"]] == [8, 8]
    assert report["client"]["failures"] == 0 and report["recipe"] == "regenerated"


@pytest.mark.slow
def test_seq_instruct_over_conversations_and_the_generator_swap_through_the_standin(project):
    from seqit_utils.llm.standin import MODEL, standin_server

    root, data = project
    with standin_server() as endpoint:
        standin = {"base_url": endpoint.base_url, "model": MODEL, "concurrency": 4}
        endpoints = {"local": {"serve": "base/seed-0"}, "local_base": standin, "suite": {"suite": {}}}
        config = make_config(data, llm={"generator": "local_base", "endpoints": endpoints})
        records, report = recipes.build(config, "tulu_sit", root, progress=False)
        swap, swap_report = recipes.build(config, "swap", root, progress=False)
    sources = recipes.as_training(loaders.load("tulu_v2", data_dir=data))[0]
    assert len(records) == len(sources) == 12 and report["summary"]["options"]["B"] > 0
    changed = [(new, old) for new, old in zip(records, sources, strict=True) if new != old]
    assert (
        len(changed) == report["summary"]["iterations"][-1]["n"] - report["summary"]["iterations"][-1]["options"]["D"]
    )
    for new, old in changed:  # the rewritten first exchange; later turns and the system turn stay
        assert "First list the key words of the task, then" in new["messages"][0]["content"]
        assert new["messages"][2:] == old["messages"][2:]
        assert new["messages"][0]["content"].startswith("You are a helpful assistant.") == old["messages"][0][
            "content"
        ].startswith("You are a helpful assistant.")
    where = {"records": 4, "from": "data/task_suite/eval_single.jsonl", "limit": 4}
    assert swap_report["sources"] == {"task_suite/eval_single": where}
    assert len(swap) == 4 and swap_report["endpoint"] == "local_base"
