"""Fine-tuning: IT vs SIT models with LoRA, QLoRA or full fine-tuning (§4; DESIGN "Training setups").

Backends: `unsloth` (LoRA/QLoRA on one NVIDIA GPU, imported lazily and before trl), `peft` (transformers + peft +
trl; LoRA on any device) and `full` (transformers + trl, all weights, fp32 master weights). `auto` picks unsloth for
LoRA/QLoRA when CUDA and unsloth are available and the run is on one GPU, else peft; full fine-tuning is always
`full`. Precision, loading and merging: `backends`; several GPUs: `distributed`. The loss is on the response only
(§2.1: −log p(ŷ | s)): records are tokenised here into `input_ids` + `completion_mask` (prompt tokens masked), which
trl's SFTTrainer uses as is.

Runs resume from the last checkpoint in `output_dir` (trainer state, optimizer, RNG), so a killed run continues.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

from seqit_utils.config import TrainSetup
from seqit_utils.io import save_pretrained, write_json
from seqit_utils.train import backends, compat, distributed
from seqit_utils.train.examples import tokenize

RUN_SUMMARY = "run_summary.json"  # in a run's checkpoint folder: its summary once it has finished (see `fit`)


def resolve_backend(setup: TrainSetup, *, cuda: bool | None = None) -> str:
    """The backend that will run `setup`; raises ValueError/RuntimeError naming the fix when it cannot run here."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    backend, adapters, one_gpu = setup.backend, setup.method != "full", setup.distributed == "none"
    if backend == "auto":
        backend = "unsloth" if cuda and has_unsloth and adapters and one_gpu else ("peft" if adapters else "full")
    if backend == "unsloth" and not (cuda and has_unsloth):
        missing = "an NVIDIA GPU (CUDA)" if not cuda else f"the unsloth package ({backends.GPU_INSTALL})"
        raise RuntimeError(f"backend 'unsloth' needs {missing}; use backend 'auto', 'peft' or 'full' instead")
    if backend == "unsloth" and not (adapters and one_gpu):
        raise ValueError("backend 'unsloth' trains LoRA/QLoRA on one GPU; use backend 'auto' (peft or full)")
    if setup.distributed in ("fsdp", "deepspeed_zero3") and setup.method != "full":
        raise ValueError(
            f"distributed {setup.distributed!r} shards full fine-tuning; LoRA/QLoRA use distributed 'ddp'"
        )
    if backend == "peft" and setup.method == "full":
        raise ValueError("backend 'peft' trains adapters; method 'full' needs backend 'full' (or 'auto')")
    if backend == "full" and setup.method != "full":
        raise ValueError(f"backend 'full' trains all weights; method {setup.method!r} needs backend 'peft' or 'auto'")
    if setup.method == "qlora" and not cuda:
        # DESIGN trap: bitsandbytes 4-bit on AVX512-BF16 CPUs repacks weights in eval mode and later LoRA gradients
        # are silently zero. We refuse rather than train something broken.
        raise RuntimeError("method 'qlora' (4-bit) needs a CUDA GPU; on CPU use method 'lora' (fp32)")
    return backend


def dev_split(
    records: list[dict[str, Any]], fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, dev): a seeded `fraction` of `records` (at least one) held out as v1's dev set (best checkpoint by
    dev cross-entropy, DESIGN "Training setups"); the rest, in their original order, to train on."""
    n_dev = max(1, round(len(records) * fraction))
    if n_dev >= len(records):
        raise ValueError(f"dev_fraction {fraction} of {len(records)} records leaves nothing to train on")
    dev = set(random.Random(f"dev/{seed}").sample(range(len(records)), n_dev))
    return [r for i, r in enumerate(records) if i not in dev], [records[i] for i in sorted(dev)]


def sft_config(setup: TrainSetup, output_dir: str | Path, *, seed: int, has_eval: bool, cuda: bool) -> Any:
    """trl `SFTConfig` from a params training setup (field names are the same)."""
    from trl import SFTConfig

    eval_steps = setup.eval_steps or setup.save_steps
    return SFTConfig(
        output_dir=str(output_dir),
        learning_rate=setup.learning_rate,
        num_train_epochs=setup.num_train_epochs,
        max_steps=setup.max_steps,
        per_device_train_batch_size=setup.per_device_train_batch_size,
        per_device_eval_batch_size=setup.per_device_train_batch_size,
        gradient_accumulation_steps=setup.gradient_accumulation_steps,
        warmup_steps=setup.warmup_steps,
        lr_scheduler_type=setup.lr_scheduler_type,
        lr_scheduler_kwargs=dict(setup.lr_scheduler_kwargs),
        weight_decay=setup.weight_decay,
        optim=setup.optim,
        **backends.mixed_precision(setup, cuda=cuda),  # autocast; the weights stay as loaded (fp32 masters)
        max_length=None,  # examples arrive tokenised and cut to setup.max_length
        packing=setup.packing,
        completion_only_loss=setup.completion_only_loss,
        # none on the tiny CPU models (it only costs time there); FSDP checkpoints activations itself (fsdp.yaml)
        **compat.checkpointing_args(cuda and setup.distributed != "fsdp"),
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_steps if has_eval else None,
        save_strategy="steps",
        save_steps=setup.save_steps,
        save_total_limit=2,
        load_best_model_at_end=setup.load_best_model_at_end and has_eval,
        metric_for_best_model="eval_loss",  # v1: keep the checkpoint with the best dev cross-entropy
        greater_is_better=False,
        logging_steps=setup.logging_steps,
        seed=seed,
        data_seed=seed,
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
    )


def _terminal_progress(label: str) -> Any:
    """A callback printing step and loss at each logging step to the process's own stderr: under papermill/DVC a
    kernel's stdout lands in the notebook, its stderr in the terminal, so `dvc repro` shows training progress."""
    import sys

    from transformers import TrainerCallback

    class TerminalProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and sys.__stderr__ is not None and state.is_world_process_zero:
                line = f"[train {label}] step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f}"
                print(line, file=sys.__stderr__, flush=True)

    return TerminalProgress()


def train(
    model_path: str | Path,
    train_records: list[dict[str, Any]],
    output_dir: str | Path,
    setup: TrainSetup,
    *,
    template: str,
    seed: int,
    eval_records: list[dict[str, Any]] | None = None,
    final_dir: str | Path | None = None,
    num_processes: int | None = None,
) -> dict[str, Any]:
    """Fine-tune `model_path` on `train_records`; save the final (merged) model and tokenizer to `final_dir`
    (default `output_dir/final`).

    With `setup.load_best_model_at_end` and no `eval_records`, a seeded `setup.dev_fraction` of the records is
    held out as the dev set. A distributed setup runs in `num_processes` processes (default: the GPU count) through
    `accelerate launch` (`distributed.launch`; on a CPU-only machine with gloo). Checkpoints go to `output_dir` and
    the run resumes from the last one. Returns a summary (backend, steps, losses, tokens seen) for the metrics file.
    """
    import torch

    cuda = torch.cuda.is_available()
    backend = resolve_backend(setup, cuda=cuda)
    backends.import_backend(backend)  # unsloth must patch transformers/trl before they are imported
    if setup.load_best_model_at_end and not eval_records:
        train_records, eval_records = dev_split(train_records, setup.dev_fraction, seed)
    final_dir = Path(final_dir) if final_dir else Path(output_dir) / "final"
    gpus = torch.cuda.device_count() if cuda else 0
    if setup.distributed != "none" and distributed.world_size() == 1 and (num_processes or gpus) > 1:
        job = {"model_path": str(model_path), "output_dir": str(output_dir), "template": template, "seed": seed,
               "final_dir": str(final_dir)}  # fmt: skip
        return distributed.launch(job, train_records, eval_records, setup, num_processes or gpus, cpu=not cuda)
    distributed.check_launch(setup, gpus)
    data = (train_records, eval_records)
    return _train_here(model_path, data, Path(output_dir), final_dir, setup, backend, template, seed, cuda=cuda)


def _train_here(
    model_path: str | Path,
    data: tuple[list[dict[str, Any]], list[dict[str, Any]] | None],
    output_dir: Path,
    final_dir: Path,
    setup: TrainSetup,
    backend: str,
    template: str,
    seed: int,
    *,
    cuda: bool,
) -> dict[str, Any]:
    """`train` in this process (one of a launched group, or alone); `data` = (train records, eval records)."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTTrainer

    set_seed(seed)
    train_records, eval_records = data
    plan = {"max_steps": setup.max_steps, "num_train_epochs": setup.num_train_epochs, "examples": len(train_records),
            "batch": setup.per_device_train_batch_size * setup.gradient_accumulation_steps}  # fmt: skip
    setup = distributed.per_process_setup(setup, distributed.world_size())  # the same global batch on N processes
    # the arguments first: under FSDP/ZeRO-3 they set up the process group that the model is then loaded into
    args = sft_config(setup, output_dir, seed=seed, has_eval=bool(eval_records), cuda=cuda)
    model, tokenizer = backends.load(model_path, setup, backend, seed, cuda=cuda)
    train_set = Dataset.from_list(tokenize(train_records, tokenizer, template, setup.max_length))
    eval_set = None
    if eval_records:
        eval_set = Dataset.from_list(tokenize(eval_records, tokenizer, template, setup.max_length))
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set, processing_class=tokenizer
    )
    trainer.add_callback(_terminal_progress(output_dir.name if final_dir == output_dir / "final" else final_dir.name))
    result, finished, last = fit(trainer, output_dir, plan, load_best=setup.load_best_model_at_end)
    _save_final(trainer, tokenizer, model_path, final_dir, setup, backend, cuda=cuda)
    if finished is not None:
        return finished
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    best = trainer.state.best_model_checkpoint
    summary = {
        "backend": backend,
        "resumed_from": Path(last).name if last else None,
        "global_step": trainer.state.global_step,
        "world_size": trainer.args.world_size,  # processes that trained (several GPUs: `distributed`)
        "train_loss": result.training_loss,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "logged_losses": losses,
        "best_eval_loss": trainer.state.best_metric,
        "best_checkpoint": Path(best).name if best else None,
        "eval_examples": len(eval_set) if eval_set is not None else 0,
        "train_examples": len(train_set),
        "train_tokens": int(sum(len(ids) for ids in train_set["input_ids"])),
    }
    if trainer.is_world_process_zero():
        record_finished(output_dir, summary, plan)
    return summary


def _save_final(
    trainer: Any,
    tokenizer: Any,
    model_path: str | Path,
    final_dir: Path,
    setup: TrainSetup,
    backend: str,
    *,
    cuda: bool,
) -> None:
    """The final model as a plain checkpoint (rank 0 writes it): adapters merged (QLoRA: into a 16-bit reload of
    the base); full fine-tuning in the compute dtype on a GPU, gathered from its shards under FSDP/ZeRO-3."""
    if setup.distributed in ("fsdp", "deepspeed_zero3"):
        trainer.save_model(str(final_dir))  # every process takes part in gathering the shards
    elif setup.method == "full" and trainer.is_world_process_zero():
        if cuda:
            trainer.model.to(backends.compute_dtype(setup, cuda=cuda))  # the fp32 masters are not needed any more
        trainer.model.save_pretrained(final_dir)
    elif backend == "unsloth":
        trainer.model.save_pretrained_merged(str(final_dir), tokenizer, save_method="merged_16bit")
    elif trainer.is_world_process_zero():
        dtype = backends.compute_dtype(setup, cuda=cuda)
        merged = backends.merge_lora(trainer.model, model_path, reload=setup.method == "qlora", dtype=dtype)
        merged.save_pretrained(final_dir)
    if trainer.is_world_process_zero():
        save_pretrained(tokenizer, final_dir)


def fit(trainer: Any, output_dir: Path, plan: dict[str, Any], *, load_best: bool = False) -> tuple[Any, Any, Any]:
    """`trainer.train()`, resumed from the last checkpoint in `output_dir`; a run that had finished with the same
    `plan` (steps, epochs, examples, batch) is reloaded instead of trained: transformers 5 resumes a finished run with
    one more optimizer step, so a stage re-run after a code change (DVC removed the saved model) would change it.

    Returns (the train output or None, the finished run's summary with `reloaded: True` or None, the last checkpoint).
    """
    from transformers import TrainerState
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    finished = _finished(last, output_dir / RUN_SUMMARY, plan)
    if finished is None:
        return trainer.train(resume_from_checkpoint=last), None, last
    state = TrainerState.load_from_json(str(Path(last) / "trainer_state.json"))
    best = state.best_model_checkpoint if load_best else None
    trainer._load_from_checkpoint(best or last)  # the loader train(resume_from_checkpoint=...) itself uses
    trainer.state = state
    return None, {**finished, "resumed_from": Path(last).name, "reloaded": True}, last


def record_finished(output_dir: Path, summary: dict[str, Any], plan: dict[str, Any]) -> None:
    """Write what `fit` returns for this run if it is called again after the run ended."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(output_dir))
    if last is not None:
        write_json(output_dir / RUN_SUMMARY, {**summary, "checkpoint": Path(last).name, "plan": plan})


def _finished(last: str | None, done: Path, plan: dict[str, Any]) -> dict[str, Any] | None:
    """The summary `train` wrote when this run ended, if its last checkpoint is that end and the run's plan (steps,
    epochs, examples, batch) is the same; else None (train, or resume)."""
    import json

    if last is None or not done.is_file():
        return None
    summary = json.loads(done.read_text(encoding="utf-8"))
    state = json.loads((Path(last) / "trainer_state.json").read_text(encoding="utf-8"))
    same = summary.pop("checkpoint", None) == Path(last).name and summary.pop("plan", None) == plan
    return summary if same and state["global_step"] >= state["max_steps"] else None
