"""The data stage: deterministic outputs, and bad input that stops it before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqit_utils import io
from seqit_utils.config import load_config, validate
from seqit_utils.data.prepare import prepare_data
from seqit_utils.data.sources import DataNotFoundError, MalformedRecordError

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, datasets: dict, data_dir: str | None = None, n_train: int = 50):
    raw = yaml.safe_load((ROOT / "params" / "sample.yaml").read_text())
    raw["data"].update(datasets=datasets, data_dir=data_dir)
    raw["data"]["task_suite"].update(n_train_per_task=n_train, n_train_sit=n_train * 5, n_eval_per_split=20)
    return validate(raw | {"profile": "sample"}, source="test")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_params_same_bytes(tmp_path, shared_data):
    config = _config(
        tmp_path, {"gsm8k": {"loader": "gsm8k", "limit": 5, "options": {"split": "test"}}}, str(shared_data)
    )
    prepare_data(config, tmp_path / "a")
    prepare_data(config, tmp_path / "b")
    first, second = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert first == second and "outputs/sample/data/real/gsm8k.jsonl" in first
    assert "outputs/sample/data/task_suite/train_it.jsonl" in first


def test_broken_jsonl_line_names_file_and_line_and_keeps_previous_outputs(tmp_path, shared_data):
    good = _config(
        tmp_path, {"gsm8k": {"loader": "gsm8k", "limit": 5, "options": {"split": "test"}}}, str(shared_data)
    )
    prepare_data(good, tmp_path)
    before = _snapshot(tmp_path / "outputs")

    lines = (shared_data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    lines[3] = lines[3][: len(lines[3]) // 2]  # truncate record 4 mid-way
    broken = tmp_path / "broken" / "test.jsonl"
    broken.parent.mkdir()
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = _config(tmp_path, {"gsm8k": {"loader": "gsm8k", "path": str(broken), "options": {"split": "test"}}})
    with pytest.raises(MalformedRecordError) as info:
        prepare_data(bad, tmp_path)
    assert str(broken) in str(info.value) and "4" in str(info.value)
    assert _snapshot(tmp_path / "outputs") == before  # nothing lost, nothing half-written


def test_missing_offline_dataset_names_every_path_tried_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SEQIT_DATA_DIR", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    config = _config(tmp_path, {"xquad_de": {"loader": "xquad", "options": {"lang": "de"}}}, str(empty))
    with pytest.raises(DataNotFoundError) as info:
        prepare_data(config, tmp_path / "run")
    message = str(info.value)
    assert "xquad" in message and str(empty / "xquad" / "xquad.de.json") in message
    assert "SEQIT_DATA_DIR" in message and "google/xquad" in message
    assert not (tmp_path / "run").exists()


def test_unknown_params_key_stops_before_any_work(tmp_path):
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    raw["data"]["task_suite"]["n_eval"] = 10
    path = tmp_path / "params" / "smoke.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        ValueError, match=r"data\.task_suite\.n_eval: unknown key \(did you mean 'n_eval_per_split'\?\)"
    ):
        load_config("smoke", path=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params"]


def test_metrics_file_carries_provenance(tmp_path):
    config = _config(tmp_path, {})
    summary = prepare_data(config, tmp_path)
    path = io.write_metrics(tmp_path / "m.json", summary, config.params(), config.seed)
    text = path.read_text()
    assert '"params_hash"' in text and '"git_commit"' in text and '"train_it"' in text
