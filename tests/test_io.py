"""Atomic writes keep the previous file on failure; provenance records what produced a metrics file."""

from __future__ import annotations

import json

import pytest

from seqit_utils import io


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "out.jsonl"
    io.write_jsonl(path, [{"a": 1}])

    def records():
        yield {"a": 2}
        raise RuntimeError("generator broke half-way")

    with pytest.raises(RuntimeError):
        io.write_jsonl(path, records())
    assert io.read_jsonl(path) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left behind


def test_atomic_dir_replaces_whole_folder_or_nothing(tmp_path):
    target = tmp_path / "data"
    with io.atomic_dir(target) as tmp:
        io.write_text(tmp / "stale.txt", "old")
    with pytest.raises(ValueError), io.atomic_dir(target) as tmp:
        io.write_text(tmp / "new.txt", "new")
        raise ValueError("bad record")
    assert sorted(p.name for p in target.iterdir()) == ["stale.txt"]
    with io.atomic_dir(target) as tmp:
        io.write_text(tmp / "new.txt", "new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]  # stale files vanish
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_read_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(ValueError, match=r"x\.jsonl:3: invalid JSON"):
        io.read_jsonl(path)


def test_stable_hash_ignores_key_order_but_not_values():
    assert io.stable_hash({"a": 1, "b": [1, 2]}) == io.stable_hash({"b": [1, 2], "a": 1})
    assert io.stable_hash({"a": 1}) != io.stable_hash({"a": 2})


def test_write_metrics_adds_provenance(tmp_path):
    params = {"seed": 3, "lr": 0.1}
    path = io.write_metrics(tmp_path / "metrics" / "m.json", {"accuracy": 0.5}, params, seeds=3)
    data = json.loads(path.read_text())
    assert data["accuracy"] == 0.5
    prov = data["provenance"]
    assert prov["params"] == params and prov["params_hash"] == io.stable_hash(params) and prov["seeds"] == [3]
    assert prov["packages"]["seqit"] is not None and prov["packages"]["torch"] is not None
    with pytest.raises(ValueError, match="provenance"):
        io.write_metrics(tmp_path / "n.json", {"provenance": 1}, params, seeds=0)


def test_atomic_files_get_normal_permissions(tmp_path):
    import os

    path = io.write_text(tmp_path / "x.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with io.atomic_dir(tmp_path / "d") as folder:
        pass
    assert folder.name.endswith(".tmp") and (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~umask


_SAVE = """
import sys
from transformers import AutoTokenizer
from seqit_utils import io
from seqit_utils.evaluate.metrics import local_minilm_path
tokenizer = AutoTokenizer.from_pretrained(local_minilm_path())
print(tokenizer.init_kwargs.get("local_files_only"))
tokenizer.save_pretrained(sys.argv[1] + "/plain")
io.save_pretrained(tokenizer, sys.argv[1] + "/ours")
"""


def test_save_pretrained_gives_the_same_files_online_and_offline(tmp_path):
    # transformers records `local_files_only` (HF_HUB_OFFLINE, read when huggingface_hub is imported: hence one
    # process per setting) in a loaded tokenizer and writes it back into tokenizer_config.json on save
    import os
    import subprocess
    import sys

    saved = {}
    for offline in ("1", "0"):
        env = {**os.environ, "HF_HUB_OFFLINE": offline}
        run = subprocess.run([sys.executable, "-c", _SAVE, str(tmp_path / offline)], env=env, capture_output=True,
                             text=True, check=True)  # fmt: skip
        assert run.stdout.split()[-1] == str(offline == "1")
        saved[offline] = {kind: (tmp_path / offline / kind / "tokenizer_config.json").read_bytes()
                          for kind in ("plain", "ours")}  # fmt: skip
    assert saved["1"]["plain"] != saved["0"]["plain"]  # what transformers alone writes differs
    assert saved["1"]["ours"] == saved["0"]["ours"] and b"local_files_only" not in saved["1"]["ours"]
