"""`seqit gpu-check`: without CUDA one line and exit 2; its loop, JSON and comparison on CPU with a tiny shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqit_utils.config import TrainSetup, load_config
from seqit_utils.io import write_json
from seqit_utils.train.gpu_check import check
from seqit_utils.train.memory import ModelShape

ROOT = Path(__file__).resolve().parents[1]
TINY = ModelShape("tiny-llama", 128, 32, 64, 2, 4, 2)
LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
BASE = {"learning_rate": 1e-3, "num_train_epochs": 1.0, "lr_scheduler_type": "constant", "max_length": 16}


def test_without_cuda_one_line_and_exit_2():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check would run for real")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("seqit")), "gpu-check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        "seqit gpu-check: CUDA is required (torch finds no CUDA GPU); run it on the GPU machine"
    ]


def test_loop_json_and_comparison_on_cpu(tmp_path, one_torch_thread):
    setups = {
        "full": TrainSetup(method="full", per_device_train_batch_size=2, **BASE),
        "lora": TrainSetup(method="lora", lora=LORA, per_device_train_batch_size=2, **BASE),
        "qlora": TrainSetup(method="qlora", lora=LORA, per_device_train_batch_size=1, fp16=True, **BASE),
        "sharded": TrainSetup(method="full", distributed="fsdp", per_device_train_batch_size=2, **BASE),
        "too_big": TrainSetup(method="full", per_device_train_batch_size=4096, **BASE | {"max_length": 4096}),
    }
    report = check(
        {"tiny": TINY},
        setups,
        device="cpu",
        gpus=1,
        mem_gib=2.0,
        steps=2,
        work_dir=tmp_path,
        generation={"batch": 2, "prompt_len": 4, "new_tokens": 3},
    )
    status = {row["setup"]: row["status"] for row in report["runs"]}
    assert status["full"] == status["lora"] == "ok"
    assert status["qlora"] == "skipped: 4-bit QLoRA needs CUDA"
    assert status["sharded"].startswith("skipped: several processes")
    assert status["too_big"].startswith("skipped: does not fit")
    for row in report["runs"][:2]:
        # the estimator's weights + gradients + optimizer state against the exact bytes after real steps
        assert row["states_ratio"] == pytest.approx(1.0, abs=2e-3), row
        assert row["tokens_per_s"] > 0
    assert [g["backend"] for g in report["generation"]] == ["hf"]  # vLLM only with CUDA
    assert report["generation"][0]["tokens_per_s"] > 0
    out = write_json(tmp_path / "gpu_check.json", report)
    assert json.loads(out.read_text())["runs"][0]["estimate"]["weights"] > 0


def test_paper_setups_load_for_the_check():
    # the command walks the profile's own setups; every one has a single-process or a skip path
    setups = load_config("paper").train.setups
    assert {"qlora_t4", "lora_24gb", "lora_40gb", "full_80gb", "full_multi"} <= set(setups)
