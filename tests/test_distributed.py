"""Several processes through `accelerate launch` (`seqit_utils.train.distributed`): the real launcher runs two CPU
processes with gloo on the tiny model (the GPU path is the same with NCCL), and the run must follow the same loss
curve as one process with the same global batch. Also: the batch split, the launch command and the refusal of
DataParallel."""

from __future__ import annotations

import sys

import pytest

from seqit_utils import prompts
from seqit_utils.config import LoraParams, TrainSetup
from seqit_utils.data import tasks
from seqit_utils.train import distributed, tiny
from seqit_utils.train import trainer as train

SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def _setup(**changes) -> TrainSetup:
    values = dict(
        method="full",
        learning_rate=3e-3,
        num_train_epochs=1,
        max_steps=20,
        per_device_train_batch_size=16,
        lr_scheduler_type="constant",
        max_length=96,
        save_steps=20,
        logging_steps=5,
    )
    return TrainSetup(**(values | changes))


@pytest.fixture(scope="module")
def records():
    suite = tasks.generate_suite(seed=0, n_train_per_task=30, n_train_sit=200, n_eval_per_split=5)
    return suite["train_it"] + suite["train_sit_chains"]


@pytest.fixture(scope="module")
def base(records, tmp_path_factory):
    texts = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in records]
    out = tmp_path_factory.mktemp("base") / "tiny"
    return tiny.build_tiny(texts, out, seed=0, max_position_embeddings=128, vocab_size=400, **SIZE)


def test_two_processes_follow_the_loss_curve_of_one_with_the_same_global_batch(
    base, records, tmp_path, capsys, one_torch_thread
):
    one = train.train(base, records, tmp_path / "one", _setup(), template="alpaca_short", seed=0)
    two = train.train(
        base, records, tmp_path / "two", _setup(distributed="ddp"), template="alpaca_short", seed=0, num_processes=2
    )
    with capsys.disabled():
        print(
            f"\nfinal logged loss: 1 process {one['last_logged_loss']:.4f}, 2 processes {two['last_logged_loss']:.4f}"
        )
        print(f"loss curves: 1 process {one['logged_losses']}, 2 processes {two['logged_losses']}")
    assert two["num_processes"] == two["world_size"] == 2 and one["world_size"] == 1  # a real 2-process group
    assert two["global_step"] == one["global_step"] == 20
    assert two["train_examples"] == one["train_examples"]
    assert two["logged_losses"] == pytest.approx(one["logged_losses"], rel=0.02)
    assert one["logged_losses"][-1] < one["logged_losses"][0]  # it learned, so equal curves are not two flat lines
    assert (tmp_path / "two" / "final" / "model.safetensors").is_file()  # rank 0 saved the model


def test_the_global_batch_is_kept_when_split_over_processes():
    setup = _setup(per_device_train_batch_size=4, gradient_accumulation_steps=32)  # the paper's 128
    four = distributed.per_process_setup(setup, 4)
    assert (four.per_device_train_batch_size, four.gradient_accumulation_steps) == (4, 8)
    odd = distributed.per_process_setup(_setup(per_device_train_batch_size=16), 2)
    assert (odd.per_device_train_batch_size, odd.gradient_accumulation_steps) == (8, 1)
    assert distributed.per_process_setup(setup, 1) is setup
    with pytest.raises(ValueError, match="cannot be split over 3 processes"):
        distributed.per_process_setup(_setup(per_device_train_batch_size=16, gradient_accumulation_steps=2), 3)


def test_launch_command_uses_the_shipped_config_of_the_setup(tmp_path):
    import yaml

    lora = _setup(
        method="lora", lora=LoraParams(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj"]), bf16=True
    )
    command = distributed.launch_command(lora.model_copy(update={"distributed": "ddp"}), tmp_path / "job.json", 4)
    assert command[:4] == [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[command.index("--mixed_precision") + 1] == "bf16"
    assert command[-3:] == ["-m", "seqit_utils.train.distributed", str(tmp_path / "job.json")]
    kinds = {"ddp": "MULTI_GPU", "fsdp": "FSDP", "deepspeed_zero3": "DEEPSPEED"}
    for kind, distributed_type in kinds.items():
        path = distributed.config_file(_setup(distributed=kind))
        config = yaml.safe_load(path.read_text())
        assert config["distributed_type"] == distributed_type and path.parent.name == "accelerate"
    assert (
        yaml.safe_load(distributed.config_file(_setup(distributed="fsdp")).read_text())["fsdp_config"][
            "fsdp_state_dict_type"
        ]
        == "FULL_STATE_DICT"
    )  # a plain model at the end
    with pytest.raises(ValueError, match="has no launch config"):
        distributed.config_file(_setup())


def test_several_gpus_in_one_process_are_refused_with_the_launch_command(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(RuntimeError, match=r"DataParallel.*distributed: fsdp.*--num_processes 4"):
        distributed.check_launch(_setup(), gpus=4)
    distributed.check_launch(_setup(), gpus=1)
    monkeypatch.setenv("WORLD_SIZE", "4")  # one of a launched group: each process has its GPU
    distributed.check_launch(_setup(), gpus=4)
