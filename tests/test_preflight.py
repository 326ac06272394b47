"""`seqit preflight` on simulated hardware (the issue's contract) and its access checks before any data stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqit_utils.cli import main
from seqit_utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SEQIT = str(Path(sys.executable).with_name("seqit"))


def run(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["preflight", "--profile", "paper", *args])
    return code, capsys.readouterr().out.strip().splitlines()


@pytest.fixture
def no_keys(monkeypatch):
    for name in ("HF_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_contract_default_full_fine_tuning_refused_on_16gb_and_the_named_setup_fits(capsys, no_keys):
    code, lines = run(capsys, "--gpus", "1", "--gpu-mem-gb", "16")
    assert code != 0
    assert lines[-1].startswith("fits: ")
    alternative = lines[-1].removeprefix("fits: ")
    assert alternative in load_config("paper").train.setups
    assert any(line.startswith("refused: v3_full needs") for line in lines)
    code, lines = run(capsys, "--setup", alternative, "--gpus", "1", "--gpu-mem-gb", "16")
    assert code == 0, lines
    assert lines[-1] == f"fits: {alternative}"


def test_contract_through_the_console_script():
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "OPENAI_API_KEY")}
    done = subprocess.run(
        [SEQIT, "preflight", "--profile", "paper", "--gpus", "1", "--gpu-mem-gb", "16"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stdout.strip().splitlines()[-1] == "fits: qlora_t4"


def test_llama3_full_on_one_40gb_refused_with_a_lora_alternative(capsys, no_keys):
    code, lines = run(capsys, "--setup", "v3_full", "--gpus", "1", "--gpu-mem-gb", "40")
    assert code == 1
    setups = load_config("paper").train.setups
    assert setups[lines[-1].removeprefix("fits: ")].method == "lora"


def test_qlora_on_one_16gb_accepted(capsys, no_keys):
    code, lines = run(capsys, "--setup", "qlora_t4", "--gpus", "1", "--gpu-mem-gb", "16")
    assert code == 0 and lines[-1] == "fits: qlora_t4"
    # a simulated plan names the missing keys without refusing
    assert any(line.startswith("warning: HF_TOKEN is not set") for line in lines)


def test_full_fine_tuning_on_four_80gb_accepted_and_on_one_refused(capsys, no_keys):
    code, lines = run(capsys, "--setup", "full_multi", "--gpus", "4", "--gpu-mem-gb", "80")
    assert code == 0 and lines[-1] == "fits: full_multi"
    code, lines = run(capsys, "--setup", "full_multi", "--gpus", "1", "--gpu-mem-gb", "80")
    assert code == 1  # one GPU shards nothing


def test_nothing_fits_says_so(capsys, no_keys):
    code, lines = run(capsys, "--gpus", "1", "--gpu-mem-gb", "6")
    assert code == 1 and lines[-1].startswith("fits: none (the smallest, qlora_t4")


def test_missing_token_refused_on_the_gpu_machine(capsys, no_keys):
    code, lines = run(capsys)  # no simulation: the checks a real run makes, before any data stage
    assert code == 1
    assert lines[1].startswith("refused: HF_TOKEN is not set: meta-llama/Meta-Llama-3-8B is gated")
    assert any(line.startswith("refused: OPENAI_API_KEY is not set") for line in lines)


def test_unreachable_hub_is_a_refusal_with_the_fix(tmp_path):
    # A closed loopback port stands for the hub: the real client, a real refused connection.
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env |= {"HF_TOKEN": "hf_test", "OPENAI_API_KEY": "sk-test", "HF_ENDPOINT": "http://127.0.0.1:9"}
    env |= {"HF_HOME": str(tmp_path), "HF_HUB_DOWNLOAD_TIMEOUT": "2", "HF_HUB_ETAG_TIMEOUT": "2"}
    done = subprocess.run(
        [SEQIT, "preflight", "--profile", "paper"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert "refused: the Hugging Face hub is unreachable" in done.stdout
    assert "HF_HUB_OFFLINE=1" in done.stdout  # the fix


def test_offline_without_the_model_in_the_cache_is_refused(tmp_path, monkeypatch, capsys):
    from seqit_utils.train import preflight

    env = {"HF_TOKEN": "hf_test", "OPENAI_API_KEY": "sk-test", "HF_HUB_OFFLINE": "1"}
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    config = load_config("paper")
    code, lines = preflight.preflight(config, setup=None, hardware=None, model=None, env=env)
    assert code == 1
    assert any("not in the local cache" in line for line in lines)


def test_local_config_and_unknown_setup(tmp_path, capsys, no_keys):
    tiny = {"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
    (tmp_path / "config.json").write_text(json.dumps(tiny | {"num_attention_heads": 4}))
    code, lines = run(capsys, "--model", str(tmp_path), "--gpus", "1", "--gpu-mem-gb", "16")
    assert code == 0 and lines[-1] == "fits: v3_full"  # a local model needs no token
    assert main(["preflight", "--profile", "paper", "--setup", "nope", "--gpus", "1", "--gpu-mem-gb", "16"]) == 1
    assert "allowed values" in capsys.readouterr().err


def test_docs_table_is_the_estimators():
    from seqit_utils.train.preflight import fit_table

    table = fit_table(load_config("paper").train.setups, ["llama3_8b", "mistral_7b"])
    assert "\n".join(table) in (ROOT / "docs" / "gpu.md").read_text(), "regenerate docs/gpu.md's table (fit_table)"
