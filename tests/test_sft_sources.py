"""Training-set loaders of §4.1.1/§4.2, the translate-SIT builder, the §4.2 samples and the sample-size check.

None of these sets is in ../shared/data except the Alpaca sample, so each loader is tested on a small file written in
its published layout inside tmp_path (`seqit_utils.data.layouts`; record text from the real Alpaca sample,
"translations" are marked copies).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seqit_utils.config import validate
from seqit_utils.data import loaders, sft_sources, sizes
from seqit_utils.data.layouts import write_multilingual
from seqit_utils.data.prepare import load_datasets, prepare_data
from seqit_utils.data.sources import DataNotFoundError, MalformedRecordError

ROOT = Path(__file__).resolve().parents[1]
TRANSLATE_PREFIX = "First, translate the input into English, then "


@pytest.fixture(scope="module")
def alpaca_1k(shared_data) -> list[dict]:
    return json.loads((shared_data / "alpaca" / "alpaca_data_1k.json").read_text(encoding="utf-8"))


def _sample_config(datasets: dict, data_dir: str | None, seed: int = 0):
    raw = yaml.safe_load((ROOT / "params" / "sample.yaml").read_text())
    raw["data"].update(datasets=datasets, data_dir=data_dir, task_suite=None)
    return validate(raw | {"profile": "sample", "seed": seed}, source="test")


def test_multilingual_records_are_aligned_with_english(tmp_path, alpaca_1k):
    write_multilingual(tmp_path, alpaca_1k[:20], ["de"])
    german = loaders.load("alpaca_multilingual", lang="de", data_dir=tmp_path)
    english = loaders.load("alpaca_multilingual", lang="en", data_dir=tmp_path)
    assert len(german) == len(english) == 20
    assert [g["aligned_id"] for g in german] == [e["id"] for e in english]
    assert german[3]["instruction"] == f"<de> {alpaca_1k[3]['instruction']}" and german[3]["lang"] == "de"


def test_multilingual_count_mismatch_names_both_files_and_counts(tmp_path, alpaca_1k):
    folder = write_multilingual(tmp_path, alpaca_1k[:20], ["zh"])
    rows = json.loads((folder / "alpaca_data_cleaned.zh.json").read_text())[:-1]
    (folder / "alpaca_data_cleaned.zh.json").write_text(json.dumps(rows))
    with pytest.raises(MalformedRecordError) as info:
        loaders.load("alpaca_multilingual", lang="zh", data_dir=tmp_path)
    message = str(info.value)
    assert (
        str(folder / "alpaca_data_cleaned.zh.json") in message
        and str(folder / "alpaca_data_cleaned.en.json") in message
    )
    assert "19 records" in message and "has 20" in message


def test_translate_sit_replaces_a_third_of_the_inputs_of_real_alpaca(tmp_path, alpaca_1k):
    write_multilingual(tmp_path, alpaca_1k, ["de", "es", "ru", "zh"])
    sit = loaders.load("alpaca_translate_sit", seed=7, data_dir=tmp_path)
    english = {r["id"]: r for r in loaders.load("alpaca_multilingual", lang="en", data_dir=tmp_path)}
    with_input = sum(1 for r in english.values() if r["input"].strip())
    translated = [r for r in sit if r.get("sit") == "translate"]
    assert (len(alpaca_1k), with_input) == (750, 301)  # the real sample: 301 records with input
    assert len(sit) == 750 and len(translated) == round(301 / 3) == 100  # replaced in place, same size
    assert {r["lang"] for r in translated} == {"de", "es", "ru", "zh"}
    for record in translated:
        source = english[record["source_id"]]
        assert record["instruction"].startswith(TRANSLATE_PREFIX)
        assert record["input"] == f"<{record['lang']}> {source['input']}"
        assert record["output"] == source["input"] + "\n" + source["output"]
    assert sit == loaders.load("alpaca_translate_sit", seed=7, data_dir=tmp_path)  # seeded
    other = loaders.load("alpaca_translate_sit", seed=8, data_dir=tmp_path)
    assert {r["id"] for r in other if r.get("sit")} != {r["id"] for r in translated}
    added = loaders.load("alpaca_translate_sit", seed=7, merge="add", data_dir=tmp_path)
    assert len(added) == 850 and added[:750] == list(english.values())


def test_tulu_conversations_become_records_and_keep_every_turn(tmp_path):
    rows = [
        {"dataset": "oasst1", "id": "a1", "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "7"}, {"role": "user", "content": "Another?"},
            {"role": "assistant", "content": "11"}]},
        {"dataset": "flan_v2", "id": "b2", "messages": [
            {"role": "user", "content": "Add 2 and 3."}, {"role": "assistant", "content": "5"}]},
    ]  # fmt: skip
    path = tmp_path / "tulu_v2" / "tulu_v2_data.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second = loaders.load("tulu_v2", data_dir=tmp_path)
    assert (first["id"], first["instruction"], first["output"]) == ("tulu_v2/a1", "Name a prime.", "7")
    assert first["system_prompt"] == "Be brief." and first["n_turns"] == 5 and first["messages"][-1]["content"] == "11"
    assert (second["dataset"], second["input"], second["system_prompt"]) == ("flan_v2", "", "")
    rows[1]["messages"] = rows[1]["messages"][:1]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(MalformedRecordError, match=r"tulu_v2_data\.jsonl, line 2: field 'messages' has no user turn"):
        loaders.load("tulu_v2", data_dir=tmp_path)


def test_missing_sets_name_hub_id_and_file_to_place(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataNotFoundError) as info:
        loaders.load("tulu_v2", data_dir=tmp_path)
    assert "allenai/tulu-v2-sft-mixture" in str(info.value) and str(
        tmp_path / "tulu_v2" / "tulu_v2_data.jsonl"
    ) in str(info.value)
    with pytest.raises(DataNotFoundError) as info:
        loaders.load("flancot", data_dir=tmp_path)
    assert str(tmp_path / "flancot" / "flancot100k.jsonl") in str(info.value) and "no hub copy" in str(info.value)
    for loader, hub_id, filename in [
        ("metamath", "meta-math/MetaMathQA", "metamath/MetaMathQA-395K.json"),
        ("alpaca_cleaned", "yahma/alpaca-cleaned", "alpaca_cleaned/alpaca_data_cleaned.json"),
        ("alpaca_multilingual", "", "alpaca_multilingual/alpaca_data_cleaned.en.json"),
    ]:
        with pytest.raises(DataNotFoundError) as info:
            loaders.load(loader, data_dir=tmp_path)
        assert hub_id in str(info.value) and str(tmp_path / filename) in str(info.value)
    with pytest.raises(DataNotFoundError, match="HanxuHU/FlanCoT_100k_seq"):
        loaders.load("seqins_released", name="flancot", data_dir=tmp_path)


def test_metamath_sample_is_seeded_and_in_file_order(tmp_path):
    rows = [
        {"query": f"q{i}", "response": f"r{i}", "type": "GSM_Rephrased", "original_question": f"o{i}"}
        for i in range(50)
    ]
    (tmp_path / "metamath").mkdir()
    (tmp_path / "metamath" / "MetaMathQA-395K.json").write_text(json.dumps(rows))
    picked = loaders.load("metamath", sample=10, seed=3, data_dir=tmp_path)
    indices = [int(r["id"].rsplit("/", 1)[1]) for r in picked]
    assert len(picked) == 10 and indices == sorted(indices) and picked[0]["instruction"] == f"q{indices[0]}"
    assert picked == loaders.load("metamath", sample=10, seed=3, data_dir=tmp_path)
    assert picked != loaders.load("metamath", sample=10, seed=4, data_dir=tmp_path)
    # The data stage draws with the profile's seed when the params give none.
    spec = {"metamath": {"loader": "metamath", "options": {"sample": 10}}}
    for seed in (3, 4):
        config = _sample_config(spec, str(tmp_path), seed=seed)
        assert load_datasets(config)["metamath"] == loaders.load("metamath", sample=10, seed=seed, data_dir=tmp_path)


def test_flancot_and_released_sit_in_the_authors_layouts(tmp_path):
    (tmp_path / "flancot").mkdir()
    flan = {"system_prompt": "You are an AI assistant.", "question": "Is 9 prime?", "response": "No: 9 = 3 x 3."}
    (tmp_path / "flancot" / "flancot100k.jsonl").write_text(json.dumps(flan) + "\n")
    (record,) = loaders.load("flancot", data_dir=tmp_path)
    assert (record["instruction"], record["output"], record["system_prompt"]) == (
        flan["question"],
        flan["response"],
        flan["system_prompt"],
    )
    (tmp_path / "seqins").mkdir()
    row = {"idx": 4, "instruction": "First list the factors, then say if 9 is prime.", "output": "3, 3\nNo",
           "system_prompt": "", "input": ""}  # fmt: skip
    (tmp_path / "seqins" / "flancot_100k-iteration_2.jsonl").write_text(json.dumps(row) + "\n")
    (released,) = loaders.load("seqins_released", name="flancot", data_dir=tmp_path)
    assert released["id"] == "seqins_flancot/4" and released["instruction"] == row["instruction"]


def test_check_size_refuses_the_real_1k_sample_unless_allowed(shared_data, alpaca_1k):
    source = str(shared_data / "alpaca" / "alpaca_data_1k.json")
    with pytest.raises(sizes.DatasetTooSmallError) as info:
        sizes.check_size("alpaca", alpaca_1k, False, source=source, key="data.datasets.alpaca")
    message = str(info.value)
    for part in (source, "750 records", "52,002", "alpaca_data.json", "allow_sample: true", "data.datasets.alpaca"):
        assert part in message
    sizes.check_size("alpaca", alpaca_1k, True)  # allowed
    sizes.check_size("alpaca", alpaca_1k[:200], False, wanted=200)  # a limit asks for 200: enough
    sizes.check_size("xquad", alpaca_1k[:3], False)  # no known size: nothing to compare


def test_data_stage_refuses_the_sample_then_accepts_it_with_allow_sample(tmp_path, shared_data):
    refused = _sample_config({"alpaca": {"loader": "alpaca"}}, str(shared_data))
    with pytest.raises(sizes.DatasetTooSmallError, match=r"750 records read from .*alpaca_data_1k\.json"):
        prepare_data(refused, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()  # nothing written
    allowed = _sample_config({"alpaca": {"loader": "alpaca", "allow_sample": True}}, str(shared_data))
    assert prepare_data(allowed, tmp_path / "ok")["records"]["real/alpaca"] == 750
    limited = _sample_config({"alpaca": {"loader": "alpaca", "limit": 200}}, str(shared_data))
    assert prepare_data(limited, tmp_path / "lim")["records"]["real/alpaca"] == 200


def test_paper_profile_never_falls_back_to_the_local_sample(shared_data, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    raw = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    raw["data"].update(datasets={"alpaca": raw["data"]["datasets"]["alpaca"]}, data_dir=str(shared_data))
    config = validate(raw | {"profile": "paper"}, source="test")
    with pytest.raises(DataNotFoundError) as info:
        load_datasets(config)
    assert str(shared_data / "alpaca" / "alpaca_data.json") in str(info.value) and "tatsu-lab/alpaca" in str(
        info.value
    )


def test_sample_records_keeps_all_when_asked_for_more():
    records = [{"id": str(i)} for i in range(5)]
    assert sft_sources.sample_records(records, 9, seed=0) == records
    with pytest.raises(ValueError, match="sample=-1"):
        sft_sources.sample_records(records, -1, seed=0)
