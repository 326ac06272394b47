"""Resolution order, error messages and the published-format readers of `seqit_utils.data.sources`, on real files."""

from __future__ import annotations

import gzip
import json
import sys
import types
from pathlib import Path

import pytest

from seqit_utils.data.author_loaders import load_seqit_eval_test
from seqit_utils.data.loaders import load_gsm8k, load_mgsm
from seqit_utils.data.sources import (
    DataNotFoundError,
    HubSource,
    MalformedRecordError,
    Row,
    field,
    read_file,
    read_rows,
    resolve_file,
)

GSM8K_HUB = HubSource("openai/gsm8k", "main", "test", lambda rows: rows)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # Before anything could touch the hub; tests that need the hub code path replace `datasets` with a fake.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SEQIT_DATA_DIR", raising=False)


def _lines(path: Path, n: int) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[:n]


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


# ---- resolution order ----


def test_explicit_path_beats_seqit_data_dir(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("SEQIT_DATA_DIR", str(shared_data))
    mine = tmp_path / "two.jsonl"
    mine.write_text("\n".join(_lines(shared_data / "gsm8k" / "test.jsonl", 2)) + "\n", encoding="utf-8")
    assert resolve_file("gsm8k", "test.jsonl", path=mine, hub=GSM8K_HUB) == mine
    assert len(load_gsm8k(path=mine)) == 2


def test_seqit_data_dir_used_when_no_path(shared_data, monkeypatch):
    monkeypatch.setenv("SEQIT_DATA_DIR", str(shared_data))
    assert resolve_file("gsm8k", "test.jsonl", hub=GSM8K_HUB) == shared_data / "gsm8k" / "test.jsonl"


def test_data_dir_argument_beats_the_environment(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("SEQIT_DATA_DIR", str(tmp_path))
    assert resolve_file("gsm8k", "test.jsonl", data_dir=shared_data) == shared_data / "gsm8k" / "test.jsonl"


def test_offline_and_missing_names_dataset_every_path_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQIT_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError) as info:
        read_rows("gsm8k", "test.jsonl", hub=GSM8K_HUB)
    message = str(info.value)
    assert "'gsm8k'" in message and str(tmp_path / "gsm8k" / "test.jsonl") in message
    assert "SEQIT_DATA_DIR" in message and "openai/gsm8k" in message and "HF_HUB_OFFLINE" in message
    assert "path=" in message and "SEQIT_DATA_DIR=../shared/data" in message


def test_unset_data_dir_is_reported():
    with pytest.raises(DataNotFoundError, match="SEQIT_DATA_DIR is unset"):
        resolve_file("gsm8k", "test.jsonl", hub=GSM8K_HUB)


def test_dataset_without_hub_copy_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(DataNotFoundError, match="no hub copy") as info:
        load_seqit_eval_test(data_dir=tmp_path)
    assert str(tmp_path / "seqit_eval" / "test" / "commonsense_qa_repeat.json") in str(info.value)


def test_explicit_missing_path_is_an_error_even_when_data_dir_has_the_file(tmp_path, shared_data):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DataNotFoundError) as info:
        load_gsm8k(path=missing, data_dir=shared_data)
    assert str(missing) in str(info.value) and "never replaced" in str(info.value)


def test_failing_hub_call_is_data_not_found_with_the_reason(tmp_path, monkeypatch):
    def load_dataset(*args, **kwargs):
        raise ConnectionError("no route to host")

    # A fake `datasets` module: the real hub is never contacted.
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(DataNotFoundError) as info:
        load_gsm8k(data_dir=tmp_path)
    message = str(info.value)
    assert "openai/gsm8k" in message and "ConnectionError: no route to host" in message
    assert str(tmp_path / "gsm8k" / "test.jsonl") in message


def test_hub_rows_go_through_the_adapter_and_the_same_conversion(tmp_path, monkeypatch):
    calls = []

    def load_dataset(repo_id, config, split):
        calls.append((repo_id, config, split))
        return [{"question": "How many?", "answer": "2 + 2 = <<2+2=4>>4\n#### 4"}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    (record,) = load_gsm8k(split="train", data_dir=tmp_path)
    assert calls == [("openai/gsm8k", "main", "train")]
    assert record["answer_number"] == 4 and record["input"] == "How many?" and record["id"] == "gsm8k/train/0"


# ---- readers and malformed records ----


def test_jsonl_broken_line_names_file_and_line(tmp_path, shared_data):
    lines = _lines(shared_data / "gsm8k" / "test.jsonl", 5)
    lines[2] = lines[2][:40]
    broken = tmp_path / "test.jsonl"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _tree(tmp_path)
    with pytest.raises(MalformedRecordError) as info:
        load_gsm8k(path=broken)
    assert f"{broken}, line 3" in str(info.value)
    assert _tree(tmp_path) == before  # a failing load writes nothing


def test_json_list_record_lacking_a_field_names_index_and_field(tmp_path, shared_data):
    records = json.loads((shared_data / "seqit_eval" / "test" / "commonsense_qa_repeat.json").read_text())[:4]
    del records[2]["instruction"]
    broken = tmp_path / "commonsense_qa_repeat.json"
    broken.write_text(json.dumps(records), encoding="utf-8")
    before = _tree(tmp_path)
    with pytest.raises(MalformedRecordError) as info:
        load_seqit_eval_test(path=broken)
    message = str(info.value)
    assert str(broken) in message and "record index 2" in message and "'instruction' is missing" in message
    assert _tree(tmp_path) == before


def test_tsv_line_without_tab_names_the_line(tmp_path, shared_data):
    lines = _lines(shared_data / "mgsm" / "mgsm_en.tsv", 4)
    lines[2] = lines[2].replace("\t", " ")
    broken = tmp_path / "mgsm_en.tsv"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MalformedRecordError, match=r"mgsm_en\.tsv, line 3: expected 2 tab-separated columns"):
        load_mgsm(path=broken)


def test_bad_json_syntax_names_line_and_column(tmp_path):
    broken = tmp_path / "bad.json"
    broken.write_text('[\n  {"instruction": "a",\n   "input": }\n]\n', encoding="utf-8")
    with pytest.raises(MalformedRecordError, match=r"bad\.json, line 3 column 13: invalid JSON"):
        read_file(broken)


def test_wrong_field_type_is_named(tmp_path, shared_data):
    record = json.loads(_lines(shared_data / "gsm8k" / "test.jsonl", 1)[0])
    record["answer"] = 18
    broken = tmp_path / "test.jsonl"
    broken.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(MalformedRecordError, match=r"line 1: field 'answer' should be str, got int 18"):
        load_gsm8k(path=broken)


def test_jsonl_blank_lines_skipped_and_gz_read(tmp_path, shared_data):
    lines = _lines(shared_data / "gsm8k" / "test.jsonl", 3)
    plain = tmp_path / "test.jsonl"
    plain.write_text(f"{lines[0]}\n\n   \n{lines[1]}\n{lines[2]}", encoding="utf-8")  # and no trailing newline
    rows = read_file(plain)
    assert [row.where for row in rows] == [f"{plain}, line 1", f"{plain}, line 4", f"{plain}, line 5"]
    packed = tmp_path / "test.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as handle:
        handle.write(plain.read_text(encoding="utf-8"))
    assert [row.data for row in read_file(packed)] == [row.data for row in rows]


def test_json_object_is_one_row(shared_data):
    (row,) = read_file(shared_data / "xquad" / "xquad.en.json")
    assert row.data["version"] == "1.1" and len(row.data["data"]) == 36


def test_field_checks_and_defaults():
    row = Row("somewhere", {"a": "x", "n": 3, "flag": True})
    assert field(row, "a") == "x" and field(row, "n", int) == 3 and field(row, "zzz", default=None) is None
    with pytest.raises(MalformedRecordError, match="field 'flag' should be int"):
        field(row, "flag", int)  # bool is not accepted as int
    with pytest.raises(MalformedRecordError, match="expected a JSON object"):
        field(Row("elsewhere", ["a", "b"]), "a")


def test_unknown_format_is_rejected(tmp_path):
    odd = tmp_path / "data.csv"
    odd.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown file format 'csv'"):
        read_file(odd)
