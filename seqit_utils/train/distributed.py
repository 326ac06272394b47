"""Training on several GPUs through `accelerate launch` with the shipped configs (`seqit_utils/templates/accelerate`):
DDP for LoRA/QLoRA, FSDP or DeepSpeed ZeRO-3 for full fine-tuning of 7-8B models, chosen by the setup's
`distributed`. Never `torch.nn.DataParallel`: transformers wraps a model in it whenever several GPUs are visible to a
process that was not launched as one of several, and then every GPU gets a whole batch (the global batch is
multiplied, the learning-rate schedule no longer matches the paper's). `check_launch` refuses that case.

`trainer.train` calls `launch` when the setup is distributed and the process is not one of a launched group: the
records and arguments go to a job file, `accelerate launch ... -m seqit_utils.train.distributed <job>` runs
`trainer.train` in every process, and rank 0 writes the run's summary back. The global batch stays the setup's
(`per_process_setup`), so a run on N GPUs follows the same schedule as on one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.config import TrainSetup

CONFIG_DIR = Path(__file__).resolve().parents[1] / "templates" / "accelerate"
CONFIGS = {"ddp": "ddp.yaml", "fsdp": "fsdp.yaml", "deepspeed_zero3": "deepspeed_zero3.yaml"}
JOB, SUMMARY = "job.json", "summary.json"  # in `<output_dir>/launch/`


def world_size() -> int:
    """Processes in this run's group (1 unless started by `accelerate launch`/torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def config_file(setup: TrainSetup) -> Path:
    """The shipped accelerate config of `setup.distributed`."""
    if setup.distributed not in CONFIGS:
        raise ValueError(f"distributed = {setup.distributed!r} has no launch config; allowed: {', '.join(CONFIGS)}")
    return CONFIG_DIR / CONFIGS[setup.distributed]


def per_process_setup(setup: TrainSetup, processes: int) -> TrainSetup:
    """`setup` for one of `processes` processes with the same global batch (per-device batch × accumulation ×
    processes = the setup's per-device batch × accumulation): accumulation is divided first, then the batch."""
    if processes == 1:
        return setup
    accumulation, batch = setup.gradient_accumulation_steps, setup.per_device_train_batch_size
    if accumulation % processes == 0:
        return setup.model_copy(update={"gradient_accumulation_steps": accumulation // processes})
    if batch % processes == 0:
        return setup.model_copy(update={"per_device_train_batch_size": batch // processes})
    raise ValueError(
        f"global batch {batch} × {accumulation} cannot be split over {processes} processes; make "
        f"per_device_train_batch_size or gradient_accumulation_steps a multiple of {processes}"
    )


def launch_command(setup: TrainSetup, job: str | Path, num_processes: int, *, port: int | None = None) -> list[str]:
    """`accelerate launch --config_file <shipped config> --num_processes N --mixed_precision <setup> -m
    seqit_utils.train.distributed <job>` (as `python -m accelerate.commands.launch ...`)."""
    precision = "fp16" if setup.fp16 else "bf16" if setup.bf16 else "no"
    # `accelerate launch` of this interpreter (the console script may be elsewhere on PATH, e.g. on Colab)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file(setup))]
    command += ["--num_processes", str(num_processes), "--mixed_precision", precision]
    if port is not None:
        command += ["--main_process_port", str(port)]
    return [*command, "-m", "seqit_utils.train.distributed", str(job)]


def check_launch(setup: TrainSetup, gpus: int) -> None:
    """Refuse to train in one process that sees several GPUs (transformers would wrap DataParallel)."""
    if gpus > 1 and world_size() == 1:
        kind = "ddp" if setup.method != "full" else "fsdp"
        raise RuntimeError(
            f"{gpus} GPUs are visible to one process and the setup's distributed is 'none': transformers would use "
            f"DataParallel (each GPU a whole batch). Set `distributed: {kind}` in the setup (seqit launches "
            f"`accelerate launch --config_file {CONFIG_DIR / CONFIGS[kind]} --num_processes {gpus} ...`), or train "
            "on one GPU with CUDA_VISIBLE_DEVICES=0"
        )


def launch(
    job: dict[str, Any],
    train_records: list[dict[str, Any]],
    eval_records: list[dict[str, Any]] | None,
    setup: TrainSetup,
    num_processes: int,
    *,
    cpu: bool,
) -> dict[str, Any]:
    """Run `trainer.train(**job)` in `num_processes` processes; the summary of rank 0 (with `num_processes`).

    `cpu=True` runs the processes on the CPU with gloo (the test of this path: same global batch, same losses).
    """
    folder = Path(job["output_dir"]) / "launch"
    io.write_jsonl(folder / "train.jsonl", train_records)
    if eval_records is not None:
        io.write_jsonl(folder / "eval.jsonl", eval_records)
    (folder / SUMMARY).unlink(missing_ok=True)
    files = {
        "train_file": str(folder / "train.jsonl"),
        "eval_file": str(folder / "eval.jsonl") if eval_records else None,
    }
    io.write_json(folder / JOB, {**job, **files, "setup": setup.model_dump(mode="json")})
    env = {**os.environ, "ACCELERATE_USE_CPU": "true"} if cpu else dict(os.environ)
    command = launch_command(setup, folder / JOB, num_processes, port=_free_port())
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0 or not (folder / SUMMARY).is_file():
        raise RuntimeError(f"distributed training failed (exit {done.returncode}); command: {' '.join(command)}")
    return {**json.loads((folder / SUMMARY).read_text(encoding="utf-8")), "num_processes": num_processes}


def _free_port() -> int:
    with socket.socket() as sock:  # concurrent launches (tests, several runs) must not share torchrun's port
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """One process of a launched run: `trainer.train` from the job file; rank 0 writes the summary."""
    from seqit_utils.train import trainer

    job_path = Path((argv if argv is not None else sys.argv[1:])[0])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    setup = TrainSetup(**job.pop("setup"))
    train_records = io.read_jsonl(job.pop("train_file"))
    eval_file = job.pop("eval_file")
    eval_records = io.read_jsonl(eval_file) if eval_file else None
    summary = trainer.train(train_records=train_records, setup=setup, eval_records=eval_records, **job)
    if int(os.environ.get("RANK", "0")) == 0:
        io.write_json(job_path.with_name(SUMMARY), summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
