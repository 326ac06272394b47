"""Training throughput of the smoke tiny model: padded batches vs padding-free and packed batches, side by side.

Every run trains the same freshly built tiny Llama (sdpa attention) on the same records (task suite, IT + SIT) for the
same number of optimizer steps with the smoke training setup; only the batching differs:

* padded        — each batch padded to its longest example (the default, `packing: false`);
* padding_free  — trl's `padding_free=True`: a batch's examples flattened into one row, no padding;
* packed        — trl's `packing=True` (best-fit-decreasing bins of `max_length`, padding-free as trl implies).

Tokens are counted exactly, batch by batch, by wrapping the collator: `real` tokens (attention mask) and `positions`
(what the model computes on, padding included). Throughput is real tokens per second.

    python bench/training.py [--steps 150]

Prints a table and writes outputs/bench/training.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from seqit_utils import io, prompts
from seqit_utils.config import find_project_root, load_config
from seqit_utils.data import tasks
from seqit_utils.train import tiny
from seqit_utils.train.examples import tokenize_records
from seqit_utils.train.trainer import sft_config

BATCHING = {
    "padded": {"packing": False, "padding_free": False},
    "padding_free": {"packing": False, "padding_free": True},
    "packed": {"packing": True, "padding_free": True},
}


def run(name: str, steps: int, records: list[dict], model_dir: Path, workdir: Path) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    config = load_config("smoke")
    setup = config.train.setups[config.train.setup].model_copy(
        update={"max_steps": steps, "packing": BATCHING[name]["packing"], "save_steps": 10**6, "logging_steps": steps}
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    data = Dataset.from_list(tokenize_records(records, tokenizer, "alpaca_short", setup.max_length))
    args = sft_config(setup, workdir / name, seed=0, has_eval=False, cuda=False)
    args.padding_free = BATCHING[name]["padding_free"]
    # packing needs a row length; the records are already truncated to it (tokenize_records), which trl wants
    # stated as max_length=None for padding-free batches without packing
    args.max_length = setup.max_length if setup.packing or not args.padding_free else None
    args.save_strategy = "no"
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)

    collate, counts = trainer.data_collator, {"real": 0, "positions": 0}

    def counting_collator(features):
        batch = collate(features)
        counts["positions"] += batch["input_ids"].numel()
        mask = batch.get("attention_mask")
        counts["real"] += int(mask.sum()) if mask is not None else batch["input_ids"].numel()
        return batch

    trainer.data_collator = counting_collator
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "seconds": seconds,
        "real_tokens": counts["real"],
        "positions": counts["positions"],
        "padding_share": 1 - counts["real"] / counts["positions"],
        "tokens_per_s": counts["real"] / seconds,
        "attention": model.config._attn_implementation,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    config = load_config("smoke")
    suite = tasks.generate_suite(seed=0, n_train_per_task=1000, n_train_sit=13000, n_eval_per_split=1)
    records = suite["train_it"] + suite["train_sit_chains"]
    texts = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = tiny.build_tiny(texts, Path(tmp) / "base", seed=0, **config.model.tiny.model_dump())
        results = {name: run(name, args.steps, records, model_dir, Path(tmp)) for name in BATCHING}
    base = results["padded"]["tokens_per_s"]
    head = ("batches", "steps", "seconds", "real tokens", "padding", "tokens/s", "vs padded")
    print("{:<13} {:>5} {:>8} {:>12} {:>8} {:>9} {:>9}".format(*head))
    for name, r in results.items():
        print(
            f"{name:<13} {r['steps']:>5} {r['seconds']:>8.1f} {r['real_tokens']:>12} {r['padding_share']:>8.1%}"
            f" {r['tokens_per_s']:>9.0f} {r['tokens_per_s'] / base:>8.2f}x"
        )
    out = find_project_root() / "outputs" / "bench" / "training.json"
    io.write_json(
        out,
        {
            "padded_tokens_per_s": results["padded"]["tokens_per_s"],
            "packed_tokens_per_s": results["packed"]["tokens_per_s"],
            "padding_free_tokens_per_s": results["padding_free"]["tokens_per_s"],
            "runs": results,
            "packages": io.package_versions(),
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
