"""Multimodal SIT (§4.1.2, Table 3): InstructBLIP fine-tuned to caption, then answer the visual question.

- `build_tiny`: a tiny InstructBLIP from config for CPU profiles (vision tower, Q-Former and a tiny Llama language
  model; the LM tokenizer trained locally like `seqit_utils.train.tiny`, the Q-Former's the shipped MiniLM WordPiece,
  which
  is BERT-uncased-style like InstructBLIP's). The `paper` profile loads `Salesforce/instructblip-vicuna-7b` instead.
- `train`: transformers' `Trainer` with the vision tower and the language model frozen; the Q-Former and its query
  tokens are trained (and the Q-Former → LM projection unless `train_projection` is off: LAVIS trains it with the
  Q-Former). Loss on the response only; checkpoints in `output_dir`, a killed run resumes.
- `generate`: greedy answers, optionally after a forced prefix (the negative-caption condition: a wrong caption is
  written as the intermediate output and the model continues with the answer).

Prompts are `format_prompt(instruction, question, template)`: IT "Answer the input question based on the image.",
SIT "First describe the image, then answer the input question based on the image." (`seqit_utils.sit.manual`), whose
target is "<caption>\\n<answer>".
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqit_utils import io
from seqit_utils.prompts import format_prompt

TRAINABLE_PREFIXES = ("qformer.", "query_tokens")
PROJECTION_PREFIX = "language_projection."

Image = Callable[[str], Any]  # image file name -> PIL image


def build_tiny(
    records: Sequence[dict[str, Any]],
    out_dir: str | Path,
    *,
    seed: int,
    template: str,
    image_size: int,
    patch_size: int,
    num_query_tokens: int,
    vision: dict[str, int],
    qformer: dict[str, int],
    text: dict[str, int],
    lm_warmup_steps: int = 0,
    lm_warmup_learning_rate: float = 2e-3,
) -> Path:
    """Build and save a tiny `InstructBlipForConditionalGeneration` and its processor: the LM tokenizer trained on
    `records`' prompts + outputs; with `lm_warmup_steps`, the tiny LM first fine-tuned text-only on `records` (the
    image is not seen), as an instruction-following LM would come to InstructBLIP; vision tower and Q-Former random."""
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BlipImageProcessorPil,
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    from seqit_utils.config import TrainSetup
    from seqit_utils.sit.seq_instruct_stats import minilm_tokenizer
    from seqit_utils.train import tiny
    from seqit_utils.train import trainer as text_train

    out_dir = Path(out_dir)
    texts = [prompt(r, template) + r["output"] for r in records]
    lm_dir = tiny.build_tiny(texts, out_dir / "language_model", seed=seed, **text)
    if lm_warmup_steps:
        setup = TrainSetup(
            method="full", backend="full", learning_rate=lm_warmup_learning_rate, num_train_epochs=1,
            max_steps=lm_warmup_steps, per_device_train_batch_size=16, lr_scheduler_type="linear", warmup_steps=0.05,
            max_length=text["max_position_embeddings"], save_steps=lm_warmup_steps,
        )  # fmt: skip
        as_text = [{**r, "input": r["question"]} for r in records]
        text_train.train(lm_dir, as_text, out_dir / "lm_warmup", setup, template=template, seed=seed, final_dir=lm_dir)
        shutil.rmtree(out_dir / "lm_warmup")  # its checkpoint (optimizer state) is not part of the base model
    tokenizer = AutoTokenizer.from_pretrained(lm_dir)
    language_model = AutoModelForCausalLM.from_pretrained(lm_dir)
    shutil.rmtree(lm_dir)  # saved again below as the InstructBLIP's language_model
    qformer_tokenizer = minilm_tokenizer()
    image_processor = BlipImageProcessorPil(size={"height": image_size, "width": image_size})
    # the processor adds "<image>" to the LM tokenizer: one placeholder per query token before BOS
    processor = InstructBlipProcessor(image_processor, tokenizer, qformer_tokenizer, num_query_tokens=num_query_tokens)
    language_model.resize_token_embeddings(len(tokenizer))
    config = InstructBlipConfig(
        vision_config={**vision, "image_size": image_size, "patch_size": patch_size},
        qformer_config={**qformer, "vocab_size": len(qformer_tokenizer)},
        text_config=language_model.config.to_dict(),
        num_query_tokens=num_query_tokens,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(seed)
    model = InstructBlipForConditionalGeneration(config)
    model.language_model.load_state_dict(language_model.state_dict())
    model.save_pretrained(out_dir)
    io.save_pretrained(processor, out_dir)
    return out_dir


def load(model_path: str | Path, *, bf16: bool = False) -> tuple[Any, Any]:
    """(model, processor) from a directory or hub id; the model on the GPU when there is one."""
    import torch
    from transformers import InstructBlipForConditionalGeneration, InstructBlipProcessor

    dtype = torch.bfloat16 if bf16 else torch.float32
    model = InstructBlipForConditionalGeneration.from_pretrained(model_path, dtype=dtype)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    processor = InstructBlipProcessor.from_pretrained(model_path)
    processor.tokenizer.padding_side = "left"
    return model, processor


def freeze_for_qformer_training(model: Any, *, train_projection: bool = True) -> list[str]:
    """Freeze everything but the Q-Former and the query tokens (and the projection); returns the trainable names."""
    prefixes = TRAINABLE_PREFIXES + ((PROJECTION_PREFIX,) if train_projection else ())
    trainable = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(prefixes)
        if parameter.requires_grad:
            trainable.append(name)
    return trainable


def prompt(record: dict[str, Any], template: str) -> str:
    """The text prompt of a VQA record (`instruction`, `question`)."""
    return format_prompt(record["instruction"], record["question"], template)


def encode(
    records: Sequence[dict[str, Any]], processor: Any, image: Image, template: str, max_length: int
) -> list[dict[str, Any]]:
    """Training features: pixel values, Q-Former ids (the prompt, as InstructBLIP feeds the instruction to the
    Q-Former), LM ids = image placeholders + BOS + prompt + response + EOS, labels −100 except on response + EOS."""
    tokenizer = processor.tokenizer
    features = []
    for record in records:
        text = prompt(record, template)
        encoded = processor(images=image(record["image"]), text=text, return_tensors=None)
        head = list(encoded["input_ids"][0])
        tail = tokenizer(record["output"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (head + tail)[:max_length]
        if len(ids) <= len(head):
            continue
        features.append(
            {
                "pixel_values": encoded["pixel_values"][0],
                "qformer_input_ids": list(encoded["qformer_input_ids"][0]),
                "input_ids": ids,
                "labels": ([-100] * len(head) + tail)[:max_length],
            }
        )
    return features


def collate(pad_id: int, qformer_pad_id: int) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """A collator padding LM ids on the right (labels −100) and Q-Former ids on the right."""
    import numpy as np
    import torch

    def pad(rows: list[list[int]], value: int) -> tuple[Any, Any]:
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [value] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        return ids, mask

    def call(batch: list[dict[str, Any]]) -> dict[str, Any]:
        input_ids, attention_mask = pad([b["input_ids"] for b in batch], pad_id)
        labels, _ = pad([b["labels"] for b in batch], -100)
        qformer_ids, qformer_mask = pad([b["qformer_input_ids"] for b in batch], qformer_pad_id)
        pixels = torch.tensor(np.stack([np.asarray(b["pixel_values"]) for b in batch]))
        return {"pixel_values": pixels, "input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
                "qformer_input_ids": qformer_ids, "qformer_attention_mask": qformer_mask}  # fmt: skip

    return call


def train(
    model_path: str | Path,
    records: Sequence[dict[str, Any]],
    image: Image,
    output_dir: str | Path,
    *,
    template: str,
    seed: int,
    learning_rate: float,
    num_train_epochs: float,
    max_steps: int = -1,
    per_device_train_batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    max_length: int = 256,
    train_projection: bool = True,
    bf16: bool = False,
    save_steps: int = 500,
    logging_steps: int = 10,
    final_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Q-Former training (§4.1.2: vision encoder and LM frozen); resumes from the last checkpoint in `output_dir`;
    saves model + processor to `final_dir` (default `output_dir/final`); returns a summary for the metrics file."""
    import torch
    from transformers import Trainer, TrainingArguments, set_seed

    from seqit_utils.train import trainer as text_train

    set_seed(seed)
    model, processor = load(model_path, bf16=bf16)
    trainable = freeze_for_qformer_training(model, train_projection=train_projection)
    features = encode(records, processor, image, template, max_length)
    args = TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=learning_rate,
        num_train_epochs=num_train_epochs,
        max_steps=max_steps,
        per_device_train_batch_size=per_device_train_batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        bf16=bf16,
        save_steps=save_steps,
        logging_steps=logging_steps,
        seed=seed,
        data_seed=seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    pad_id = processor.tokenizer.pad_token_id
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=collate(pad_id, processor.qformer_tokenizer.pad_token_id),
    )
    output_dir = Path(output_dir)
    plan = {"max_steps": max_steps, "num_train_epochs": num_train_epochs, "examples": len(features),
            "batch": per_device_train_batch_size * gradient_accumulation_steps}  # fmt: skip
    result, finished, last = text_train.fit(trainer, output_dir, plan)
    final_dir = Path(final_dir) if final_dir else output_dir / "final"
    trainer.model.save_pretrained(final_dir)
    io.save_pretrained(processor, final_dir)
    if finished is not None:
        return finished
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    summary = {
        "resumed_from": Path(last).name if last else None,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "train_examples": len(features),
        "trainable_parameters": sum(p.numel() for n, p in model.named_parameters() if n in set(trainable)),
        "total_parameters": sum(p.numel() for p in model.parameters()),
    }
    text_train.record_finished(output_dir, summary, plan)
    return summary


def generate(
    model: Any,
    processor: Any,
    records: Sequence[dict[str, Any]],
    image: Image,
    *,
    template: str,
    max_new_tokens: int,
    prefixes: Sequence[str] | None = None,
) -> list[str]:
    """Greedy outputs, one record at a time (no padding between the image placeholders and the prompt). With
    `prefixes`, each prefix is appended to its prompt as the start of the response and kept in the returned text."""
    import torch

    outputs = []
    model.eval()
    for i, record in enumerate(records):
        forced = prefixes[i] if prefixes else ""
        inputs = processor(images=image(record["image"]), text=prompt(record, template) + forced, return_tensors="pt")
        inputs = inputs.to(model.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.no_grad():
            ids = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
        new = ids[0, inputs["input_ids"].shape[1] :]
        outputs.append(forced + processor.tokenizer.decode(new, skip_special_tokens=True))
    return outputs
