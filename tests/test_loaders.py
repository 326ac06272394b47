"""Every real data file loads with its loader and the MANIFEST's record count; spot checks; hub adapters; registry."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from seqit_utils.data.author_loaders import list_selfseq_samples
from seqit_utils.data.loaders import LOADERS, load
from seqit_utils.data.schema import MGSM_LANGS, XQUAD_INSTRUCTION
from seqit_utils.data.sources import DataNotFoundError
from seqit_utils.train import hub_adapters

# Published file path (relative to the data folder) -> (loader, options). A file the MANIFEST lists that matches
# none of these fails the count test, so a new file family cannot slip through unloaded.
FILE_FAMILIES = [
    (r"alpaca/(?P<filename>alpaca_data.*\.json)", "alpaca"),
    (r"alpaca/seed_tasks\.jsonl", "alpaca_seed_tasks"),
    (r"alpaca_eval/(?P<generator>[^/]+)/model_outputs\.json", "alpaca_eval"),
    (r"commonsenseqa/(?P<split>\w+)_rand_split\.jsonl", "commonsenseqa"),
    (r"gsm8k/(?P<split>\w+)\.jsonl", "gsm8k"),
    (r"humaneval/HumanEval\.jsonl\.gz", "humaneval"),
    (r"mgsm/mgsm_(?P<lang>\w+)\.tsv", "mgsm"),
    (r"seqeval/seqEval\.json", "seqeval"),
    (r"seqeval/intermediate_iterations/seqEval_iteration_(?P<iteration>\d+)\.json", "seqeval_iteration"),
    (r"seqit_eval/eval/mgsm/(?P<part>\w+)/(?P<lang>\w+)\.jsonl", "seqit_eval_mgsm"),
    (r"seqit_eval/test/(?P<name>[^/]+)\.json", "seqit_eval_test"),
    (r"seqit_eval/xquad/examples/xquad_few_shot_(?P<lang>\w+)\.jsonl", "seqit_eval_xquad_few_shot"),
    (r"seqit_selfseq_samples/(?P<subset>\w+)/(?P<name>[^/]+)\.jsonl", "selfseq_samples"),
    (r"xquad/xquad\.(?P<lang>\w+)\.json", "xquad"),
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, request):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # before anything could touch the hub
    if "shared_data" in request.fixturenames:
        monkeypatch.setenv("SEQIT_DATA_DIR", str(request.getfixturevalue("shared_data")))
    else:
        monkeypatch.delenv("SEQIT_DATA_DIR", raising=False)


def _manifest_files(shared_data: Path) -> list[tuple[str, int]]:
    """(file, records) for every row of the `## Files` table in MANIFEST.md."""
    text = (shared_data / "MANIFEST.md").read_text(encoding="utf-8")
    table = text.split("\n## Files\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:  # after the header and the |---| line
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        rows.append((cells["file"].strip("`"), int(cells["records"].replace(",", ""))))
    return rows


def _loader_for(relpath: str) -> tuple[str, dict]:
    for pattern, name in FILE_FAMILIES:
        match = re.fullmatch(pattern, relpath)
        if match:
            options = {k: int(v) if k == "iteration" else v for k, v in match.groupdict().items()}
            return name, options
    raise AssertionError(f"no loader mapped for {relpath}; add it to FILE_FAMILIES")


def test_every_file_loads_with_the_manifest_record_count(shared_data):
    rows = _manifest_files(shared_data)
    on_disk = {str(p.relative_to(shared_data)) for p in shared_data.rglob("*") if p.is_file()}
    on_disk -= {"MANIFEST.md", "SHA256SUMS"}
    assert on_disk <= {file for file, _ in rows}, f"files missing from the MANIFEST: {on_disk - {f for f, _ in rows}}"
    checked, wrong = {}, {}
    for file, expected in rows:
        if file not in on_disk:
            continue  # held back for independent checks
        name, options = _loader_for(file)
        records = load(name, **options)
        count = len(records)
        if name == "alpaca_seed_tasks":  # the MANIFEST counts lines = seed tasks; records are their instances
            count = len({r["id"].split("/")[0] for r in records})
            assert len(records) >= count
        if count != expected:
            wrong[file] = (expected, count)
        assert all(isinstance(r[key], str) for r in records for key in ("id", "instruction", "input", "output"))
        checked[file] = len(records)
    assert wrong == {}, "file: (MANIFEST records, loaded records)"
    # 130 files were fetched; the 27 FlanCoT sample files are held back, so 103 are here.
    assert len(checked) == len(on_disk) >= 100


# ---- spot checks on real records ----


def test_xquad_en_matches_the_source_and_the_authors_processed_file(shared_data):
    records = load("xquad", lang="en")
    first = records[0]
    assert first["id"] == "56dde1d966d3e219004dad8d" and first["output"] == "Rollo" and first["title"] == "Normans"
    assert all(
        r["context"][s : s + len(t)] == t
        for r in records
        for t, s in zip(r["answers"], r["answer_starts"], strict=True)
    )
    authors = load("seqit_eval_test", name="xquad_base_en")  # record i == XQuAD question i (MANIFEST)
    assert [(r["instruction"], r["input"], r["output"]) for r in records] == [
        (a["instruction"], a["input"], a["output"]) for a in authors
    ]
    assert authors[0]["instruction"] == XQUAD_INSTRUCTION


def test_xquad_ids_are_parallel_across_languages(shared_data):
    assert [r["id"] for r in load("xquad", lang="en")] == [r["id"] for r in load("xquad", lang="zh")]


def test_gsm8k_answer_numbers(shared_data):
    test = load("gsm8k", split="test")
    assert test[0]["answer_number"] == 18 and test[0]["output"].endswith("#### 18")
    assert test[0]["rationale"].endswith("$<<9*2=18>>18 every day at the farmer’s market.")
    train = load("gsm8k", split="train")
    assert all(isinstance(r["answer_number"], int) for r in test + train)
    assert load("gsm8k", split="test", limit=3) == test[:3]


def test_commonsenseqa_input_matches_the_authors_processed_file(shared_data):
    records = load("commonsenseqa", split="dev")
    authors = load("seqit_eval_test", name="commonsense_qa_repeat")  # record i == CSQA dev line i (MANIFEST)
    assert [(r["input"], r["output"]) for r in records] == [(a["input"], a["output"]) for a in authors]
    assert records[0]["input"].endswith("Choices: A:bank, B:library, C:department store, D:mall, E:new york")
    assert records[0]["answer_key"] == "A" and len(records[0]["choices"]) == 5


@pytest.mark.parametrize("lang", MGSM_LANGS)
def test_mgsm_matches_the_authors_jsonl(shared_data, lang):
    records = load("mgsm", lang=lang)
    authors = load("seqit_eval_mgsm", lang=lang, part="test")
    assert [(r["input"], r["answer_number"]) for r in records] == [(a["input"], a["answer_number"]) for a in authors]


def test_mgsm_en_numbers_and_thousands_separators(shared_data):
    records = load("mgsm", lang="en")
    assert records[0]["answer_number"] == 18 and records[0]["output"] == "18"
    raw = [line.split("\t")[1] for line in (shared_data / "mgsm" / "mgsm_en.tsv").read_text().splitlines()]
    i = raw.index("2,125")
    assert records[i]["output"] == "2125" and records[i]["answer_number"] == 2125


def test_humaneval_canonical_solutions_pass_their_tests(shared_data):
    records = load("humaneval")
    assert records[0]["id"] == "HumanEval/0" and records[0]["entry_point"] == "has_close_elements"
    for record in records[:3]:
        scope: dict = {}
        exec(record["prompt"] + record["output"] + record["test"], scope)  # the published, trusted test code
        scope["check"](scope[record["entry_point"]])


def test_seed_tasks_and_alpaca(shared_data):
    seeds = load("alpaca_seed_tasks")
    assert seeds[0]["id"] == "seed_task_0" and seeds[0]["name"] == "breakfast_suggestion"
    assert {type(r["is_classification"]) for r in seeds} == {bool}
    alpaca = load("alpaca")
    assert alpaca[0]["id"] == "alpaca/alpaca_data_1k/0" and alpaca[0]["output"] == "They walked to a nearby store."


def test_alpaca_eval_generators_share_instruction_order(shared_data):
    by_generator = {g: load("alpaca_eval", generator=g) for g in ("gpt4_1106_preview", "text_davinci_003")}
    first, second = by_generator.values()
    assert [r["instruction"] for r in first] == [r["instruction"] for r in second]
    assert {r["generator"] for r in second} == {"text_davinci_003"}
    assert {r["source_dataset"] for r in first} == {"helpful_base", "koala", "oasst", "selfinstruct", "vicuna"}


def test_seqeval_and_its_iterations(shared_data):
    assert {r["iteration"] for r in load("seqeval")} == {1, 2, 3, 4}
    second = load("seqeval_iteration", iteration=2)
    assert second[0]["ori_instruction"] in second[0]["instruction"] and second[0]["iteration"] == 2
    with pytest.raises(DataNotFoundError, match="seqEval_iteration_4.json") as info:
        load("seqeval_iteration", iteration=4)  # published, but absent from shared/data (MANIFEST)
    assert "no hub copy" in str(info.value)


def test_few_shot_files_including_the_one_without_trailing_newline(shared_data):
    assert (shared_data / "seqit_eval/xquad/examples/xquad_few_shot_th.jsonl").read_bytes()[-1:] != b"\n"
    thai = load("seqit_eval_xquad_few_shot", lang="th")
    assert len(thai) == 4 and all(r["output"] and r["lang"] == "th" for r in thai)
    assert load("seqit_eval_mgsm", lang="en", part="examples")[0]["output"].startswith("Step-by-Step Answer:")


def test_selfseq_samples_keep_every_field(shared_data):
    names = list_selfseq_samples()
    assert len(names) == 25 and "alpaca-cleaned-gpt-4-turbo-generate_instruct" in names
    name = "alpaca-cleaned-gpt-3.5-turbo-generate_instruct-refine-response-final"
    final = load("selfseq_samples", name=name)
    answered = [r for r in final if "final_refined_instruction_reponse" in r]
    assert len(answered) == 64 and all(r["output"] == r["final_refined_instruction_reponse"] for r in answered)
    assert all(r["output"] == "" for r in final if r not in answered)
    assert {r["generator"] for r in final} == {"gpt-3.5-turbo"}
    assert {r["stage"] for r in final} == {"generate_instruct-refine-response-final"}
    assert final[0]["id"] == f"seqit_selfseq_samples/alpaca/{name}/{final[0]['idx']}" and final[0]["idx"] == 22
    generators = {load("selfseq_samples", name=n, limit=1)[0]["generator"] for n in names}
    expected = {"Meta-Llama-3-70B-Instruct", "Meta-Llama-3-8B-Instruct", "c4ai-command-r-plus", "c4ai-command-r-v01"}
    assert generators == expected | {"gpt-3.5-turbo", "gpt-4-turbo", None}  # None: alpaca-cleaned_20, the inputs
    cleaned = load("selfseq_samples", name="alpaca-cleaned_20")
    assert cleaned[0]["idx"] == 40125 and cleaned[0]["output"]


def test_every_real_recording_name_parses_and_source_samples_do_not(shared_data):
    from seqit_utils.data.author_loaders import parse_recording_name

    names = list_selfseq_samples(data_dir=shared_data)
    parsed = {name: parse_recording_name(name) for name in names}
    assert [name for name, got in parsed.items() if got is None] == ["alpaca-cleaned_20"]  # the source sample
    assert {got[0] for got in parsed.values() if got} == {"alpaca-cleaned"}
    # Issue 17: the authors' FlanCoT names (held back from shared data) and any `<source>_…` prefix.
    name = "flancot_filtered_15k-Meta-Llama-3-70B-Instruct-generate_instruct-refine-final"
    assert parse_recording_name(name) == (
        "flancot_filtered_15k",
        "Meta-Llama-3-70B-Instruct",
        "generate_instruct-refine-final",
    )
    assert parse_recording_name("flancot_filtered_15k-gpt-4-turbo") == ("flancot_filtered_15k", "gpt-4-turbo", "")
    assert parse_recording_name("tulu_v2_sample-c4ai-command-r-plus-generate_instruct")[1] == "c4ai-command-r-plus"


def _recording(folder, name, rows):
    """A recording in the authors' layout (`seqit_selfseq_samples/<subset>/<name>.jsonl`), written by the test."""
    path = folder / "seqit_selfseq_samples" / "flancot" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_recording_with_duplicate_idx_loads_every_record_and_marks_them(tmp_path):
    # As the authors' FlanCoT Llama-3-70B refine-final file: each idx three times, differing in final_instruction.
    name = "flancot_filtered_15k-Meta-Llama-3-70B-Instruct-generate_instruct-refine-final"
    rows = [{"idx": i, "instruction": f"q{i}", "input": "", "option": "B", "final_instruction": f"v{k}"}
            for i in (7, 8) for k in range(3)]  # fmt: skip
    rows.append({"idx": 9, "instruction": "q9", "input": "", "option": "D"})
    _recording(tmp_path, name, rows)
    records = load("selfseq_samples", name=name, subset="flancot", data_dir=tmp_path)
    assert len(records) == 7 and [r["final_instruction"] for r in records[:3]] == ["v0", "v1", "v2"]
    assert [r["idx_repeat"] for r in records] == [0, 1, 2, 0, 1, 2, 0]
    assert [r["duplicate_idx"] for r in records] == [True] * 6 + [False]
    assert records[1]["id"].endswith(f"{name}/7#1") and records[6]["id"].endswith(f"{name}/9")
    assert {(r["source"], r["generator"], r["stage"]) for r in records} == {
        ("flancot_filtered_15k", "Meta-Llama-3-70B-Instruct", "generate_instruct-refine-final")
    }


def test_list_selfseq_samples_without_a_folder_says_how_to_fix():
    with pytest.raises(DataNotFoundError, match="SEQIT_DATA_DIR is unset"):
        list_selfseq_samples()


# ---- hub adapters (hand-written rows in each hub dataset's documented schema) ----


def test_xquad_adapter_rebuilds_the_squad_layout_and_loads(tmp_path, monkeypatch):
    rows = [
        {
            "id": "q1",
            "context": "Rollo came.",
            "question": "Who?",
            "answers": {"text": ["Rollo"], "answer_start": [0]},
        },
        {"id": "q2", "context": "Rollo came.", "question": "Did?", "answers": {"text": ["came"], "answer_start": [6]}},
        {"id": "q3", "context": "Other.", "question": "What?", "answers": {"text": ["Other"], "answer_start": [0]}},
    ]
    (doc,) = hub_adapters.xquad_from_hub(rows)
    assert [len(p["qas"]) for p in doc["data"][0]["paragraphs"]] == [2, 1]
    assert doc["data"][0]["paragraphs"][0]["qas"][1]["answers"] == [{"answer_start": 6, "text": "came"}]
    # End to end through the loader, with a fake `datasets` module: the real hub is never contacted.
    fake = types.SimpleNamespace(load_dataset=lambda repo, config, split: rows)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    records = load("xquad", lang="ar", data_dir=tmp_path)
    assert [r["id"] for r in records] == ["q1", "q2", "q3"] and records[1]["output"] == "came"
    assert records[0]["input"] == "Passage: Rollo came.\nQuestion: Who?" and records[0]["title"] == ""


def test_mgsm_adapter():
    rows = [{"question": "Q?", "answer": None, "answer_number": 2125, "equation_solution": None}]
    assert hub_adapters.mgsm_from_hub(rows) == [["Q?", "2125"]]
    assert hub_adapters.mgsm_hub("sw").config == "sw" and hub_adapters.mgsm_hub("sw").split == "test"


def test_commonsenseqa_adapter_gives_the_original_nested_record(shared_data):
    row = {
        "id": "1afa02df02c908a558b4036e80242fac",
        "question": "A revolving door is convenient for two direction travel, but it also serves as a security "
        "measure at a what?",
        "question_concept": "revolving door",
        "choices": {
            "label": ["A", "B", "C", "D", "E"],
            "text": ["bank", "library", "department store", "mall", "new york"],
        },
        "answerKey": "A",
    }
    original = json.loads((shared_data / "commonsenseqa" / "dev_rand_split.jsonl").open().readline())
    assert hub_adapters.commonsenseqa_from_hub([row]) == [original]
    assert hub_adapters.commonsenseqa_hub("dev").split == "validation"


def test_gsm8k_alpaca_humaneval_adapters_keep_the_published_fields():
    assert hub_adapters.gsm8k_from_hub([{"question": "q", "answer": "a\n#### 1"}]) == [
        {"question": "q", "answer": "a\n#### 1"}
    ]
    alpaca = {"instruction": "i", "input": "", "output": "o", "text": "### Instruction: i ..."}
    assert hub_adapters.alpaca_from_hub([alpaca]) == [{"instruction": "i", "input": "", "output": "o"}]
    humaneval = {"task_id": "HumanEval/0", "prompt": "p", "canonical_solution": "s", "test": "t", "entry_point": "f"}
    assert hub_adapters.humaneval_from_hub([humaneval]) == [humaneval]


# ---- registry ----


def test_unknown_dataset_lists_the_allowed_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'xquadd'; allowed names: alpaca, .*xquad"):
        load("xquadd")


def test_unknown_option_lists_the_allowed_options():
    with pytest.raises(ValueError, match=r"unknown option\(s\) spilt; allowed: split, path, data_dir, limit"):
        load("gsm8k", spilt="test")


def test_bad_option_values_name_the_allowed_values(shared_data):
    with pytest.raises(ValueError, match=r"split='dev' is not allowed; allowed values: train, test"):
        load("gsm8k", split="dev")
    with pytest.raises(ValueError, match="lang='xx'.*bn, de, en"):
        load("mgsm", lang="xx")
    with pytest.raises(ValueError, match="limit=-1"):
        load("humaneval", limit=-1)


def test_params_loaders_are_registered():
    params = Path(__file__).resolve().parents[1] / "params"
    used = {m for p in params.glob("*.yaml") for m in re.findall(r"loader: (\w+)", p.read_text())}
    assert used <= set(LOADERS)
