"""Fine-tuning: IT vs SIT models with LoRA, QLoRA or full fine-tuning (§4; DESIGN "Training setups").

Backends: `unsloth` (NVIDIA GPU only, imported lazily), `peft` (transformers + peft + trl; LoRA on any device) and
`full` (transformers + trl, all weights). `auto` picks unsloth when CUDA and unsloth are available, else peft for
LoRA and full for full fine-tuning. The loss is on the response only (§2.1: −log p(ŷ | s)): records are tokenised
here into `input_ids` + `completion_mask` (prompt tokens masked), which trl's SFTTrainer uses as is.

Runs resume from the last checkpoint in `output_dir` (trainer state, optimizer, RNG), so a killed run continues.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from seqit_utils.config import TrainSetup
from seqit_utils.io import save_pretrained, write_json
from seqit_utils.prompts import format_prompt

RUN_SUMMARY = "run_summary.json"  # in a run's checkpoint folder: its summary once it has finished (see `fit`)


def resolve_backend(setup: TrainSetup, *, cuda: bool | None = None) -> str:
    """The backend that will run `setup`; raises ValueError/RuntimeError naming the fix when it cannot run here."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    backend = setup.backend
    if backend == "auto":
        backend = "unsloth" if cuda and has_unsloth else ("full" if setup.method == "full" else "peft")
    if backend == "unsloth" and not (cuda and has_unsloth):
        missing = "an NVIDIA GPU (CUDA)" if not cuda else "the unsloth package (pip install -e '.[gpu]')"
        raise RuntimeError(f"backend 'unsloth' needs {missing}; use backend 'auto', 'peft' or 'full' instead")
    if backend == "peft" and setup.method == "full":
        raise ValueError("backend 'peft' trains adapters; method 'full' needs backend 'full' (or 'auto')")
    if backend == "full" and setup.method != "full":
        raise ValueError(f"backend 'full' trains all weights; method {setup.method!r} needs backend 'peft' or 'auto'")
    if setup.method == "qlora" and not cuda:
        # DESIGN trap: bitsandbytes 4-bit on AVX512-BF16 CPUs repacks weights in eval mode and later LoRA gradients
        # are silently zero. We refuse rather than train something broken.
        raise RuntimeError("method 'qlora' (4-bit) needs a CUDA GPU; on CPU use method 'lora' (fp32)")
    return backend


def tokenize_records(
    records: list[dict[str, Any]], tokenizer: Any, template: str, max_length: int
) -> list[dict[str, list[int]]]:
    """`input_ids` = prompt + response + EOS and `completion_mask` (1 on response and EOS tokens).

    Sequences longer than `max_length` are cut from the right; a record whose response would vanish entirely is
    dropped (it would carry no loss).
    """
    prompts = [format_prompt(r["instruction"], r.get("input", ""), template, tokenizer) for r in records]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer([r["output"] for r in records], add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    examples = []
    for head, tail in zip(prompt_ids, response_ids, strict=True):
        if bos is not None and head[:1] != [bos]:  # a chat template may already write BOS (as in generate.encode)
            head = [bos, *head]
        tail = tail + [tokenizer.eos_token_id]
        ids = (head + tail)[:max_length]
        if len(ids) <= len(head):
            continue
        examples.append({"input_ids": ids, "completion_mask": ([0] * len(head) + [1] * len(tail))[:max_length]})
    return examples


def tokenize_conversations(
    records: list[dict[str, Any]], tokenizer: Any, template: str, max_length: int
) -> list[dict[str, list[int]]]:
    """Multi-turn records (`messages`: user, assistant, user, assistant, …; the SIT-multi ablation of §5.1) as
    `input_ids` + `completion_mask` with the loss on every assistant turn (and the EOS closing it).

    Template "chat" renders the conversation with the tokenizer's chat template (each turn is the difference of
    rendering the conversation up to it and up to the turn before); the plain templates write each user turn as a
    prompt (`format_prompt`) followed by the assistant's reply and EOS. Cut from the right at `max_length`;
    a record left without any response token is dropped.
    """
    bos = tokenizer.bos_token_id
    examples = []
    for record in records:
        ids, mask = ([bos], [0]) if bos is not None else ([], [])
        rendered = ""
        for k in range(0, len(record["messages"]), 2):
            user, reply = record["messages"][k]["content"], record["messages"][k + 1]["content"]
            if template == "chat":
                turns = record["messages"][: k + 1]
                prompt = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
                full = tokenizer.apply_chat_template(record["messages"][: k + 2], tokenize=False)
                head, tail, rendered = prompt[len(rendered) :], full[len(prompt) :], full
                tail_ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
            else:
                head = format_prompt(user, "", template, tokenizer)
                tail_ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
            if k == 0 and bos is not None and head_ids[:1] == [bos]:  # the chat template wrote BOS already
                ids, mask = [], []
            ids += head_ids + tail_ids
            mask += [0] * len(head_ids) + [1] * len(tail_ids)
        if any(mask[:max_length]):
            examples.append({"input_ids": ids[:max_length], "completion_mask": mask[:max_length]})
    return examples


def tokenize(records: list[dict[str, Any]], tokenizer: Any, template: str, max_length: int) -> list[dict]:
    """`tokenize_conversations` for records with `messages`, else `tokenize_records` (one set is one kind)."""
    kinds = {"messages" in r for r in records}
    if len(kinds) > 1:
        raise ValueError("a training set mixes multi-turn (`messages`) and single-turn records; split them")
    conversations = kinds == {True}
    return (tokenize_conversations if conversations else tokenize_records)(records, tokenizer, template, max_length)


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
        bf16=setup.bf16 and cuda,  # fp32 on CPU (DESIGN: bf16 is slower here and meets the AVX512-BF16 trap)
        max_length=None,  # examples arrive tokenised and cut to setup.max_length
        packing=setup.packing,
        completion_only_loss=setup.completion_only_loss,
        activation_checkpointing=cuda,  # no memory pressure on the tiny CPU models; it only costs time there
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


def _load(model_path: str | Path, setup: TrainSetup, backend: str, seed: int) -> tuple[Any, Any]:
    if backend == "unsloth":
        from unsloth import FastLanguageModel  # GPU only; raises on CPU, hence the lazy import

        model, tokenizer = FastLanguageModel.from_pretrained(
            str(model_path), max_seq_length=setup.max_length, load_in_4bit=setup.method == "qlora", dtype=None
        )
        if setup.method != "full":
            model = FastLanguageModel.get_peft_model(
                model,
                r=setup.lora.r,
                lora_alpha=setup.lora.lora_alpha,
                lora_dropout=setup.lora.lora_dropout,
                target_modules=list(setup.lora.target_modules),
                random_state=seed,
            )
        return model, tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    kwargs: dict[str, Any] = {}
    if setup.method == "qlora":
        import torch
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if setup.method != "full":
        from peft import LoraConfig, get_peft_model

        lora = setup.lora
        model = get_peft_model(
            model,
            LoraConfig(
                r=lora.r,
                lora_alpha=lora.lora_alpha,
                lora_dropout=lora.lora_dropout,
                target_modules=list(lora.target_modules),
                task_type="CAUSAL_LM",
            ),
        )
    return model, tokenizer


def _terminal_progress(label: str) -> Any:
    """A callback printing step and loss at each logging step to the process's own stderr: under papermill/DVC a
    kernel's stdout lands in the notebook, its stderr in the terminal, so `dvc repro` shows training progress."""
    import sys

    from transformers import TrainerCallback

    class TerminalProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and sys.__stderr__ is not None:
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
) -> dict[str, Any]:
    """Fine-tune `model_path` on `train_records`; save the final (merged) model and tokenizer to `final_dir`
    (default `output_dir/final`).

    Checkpoints go to `output_dir` and the run resumes from the last one. Returns a summary (backend, steps,
    losses, tokens seen) for the metrics file.
    """
    import torch
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTTrainer

    cuda = torch.cuda.is_available()
    backend = resolve_backend(setup, cuda=cuda)
    set_seed(seed)
    model, tokenizer = _load(model_path, setup, backend, seed)
    train_set = Dataset.from_list(tokenize(train_records, tokenizer, template, setup.max_length))
    eval_set = None
    if eval_records:
        eval_set = Dataset.from_list(tokenize(eval_records, tokenizer, template, setup.max_length))
    output_dir = Path(output_dir)
    args = sft_config(setup, output_dir, seed=seed, has_eval=eval_set is not None, cuda=cuda)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set, processing_class=tokenizer
    )
    trainer.add_callback(_terminal_progress(Path(final_dir or output_dir).name))
    plan = {"max_steps": setup.max_steps, "num_train_epochs": setup.num_train_epochs, "examples": len(train_set),
            "batch": setup.per_device_train_batch_size * setup.gradient_accumulation_steps}  # fmt: skip
    result, finished, last = fit(trainer, output_dir, plan, load_best=setup.load_best_model_at_end)
    final = trainer.model.merge_and_unload() if setup.method != "full" else trainer.model  # plain loading later
    final_dir = Path(final_dir) if final_dir else output_dir / "final"
    final.save_pretrained(final_dir)
    save_pretrained(tokenizer, final_dir)
    if finished is not None:
        return finished
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    summary = {
        "backend": backend,
        "resumed_from": Path(last).name if last else None,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "best_eval_loss": trainer.state.best_metric,
        "train_examples": len(train_set),
        "train_tokens": int(sum(len(ids) for ids in train_set["input_ids"])),
    }
    record_finished(output_dir, summary, plan)
    return summary


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
