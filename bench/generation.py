"""Benchmark: batched greedy generation (batch 32) vs one prompt at a time, same tiny model, same prompts.

    python bench/generation.py [--model DIR] [--n-prompts 64] [--batch-size 32] [--max-new-tokens 32]
        [--threads 1] [--repeats 3]

Without `--model` it builds the tiny model of tests/test_generate.py (a locally trained tokenizer, 150 steps of
plain-torch training so that answers end with EOS as a trained model's do). Prints a table of examples/s (best of
`--repeats` runs) and writes `outputs/bench/generation.json`. Times are wall-clock here; nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from seqit_utils import io, prompts
from seqit_utils.data import tasks
from seqit_utils.evaluate.generate import HFGenerator
from seqit_utils.train import tiny

SIZE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)


def build_trained_tiny(out_dir: Path, texts: list[str], steps: int = 150, seed: int = 0) -> Path:
    """The tests' tiny model: build from config, train `steps` steps (batch 32, lr 3e-3) on prompt + output + EOS."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tiny.build_tiny(texts, out_dir, seed=seed, max_position_embeddings=256, vocab_size=400, **SIZE)
    tokenizer, model = AutoTokenizer.from_pretrained(out), AutoModelForCausalLM.from_pretrained(out)
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    ids = [[bos, *tokenizer(t, add_special_tokens=False)["input_ids"], eos] for t in texts]
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = [ids[i] for i in torch.randint(len(ids), (32,)).tolist()]
        x = torch.full((32, max(map(len, batch))), pad)
        for row, seq in enumerate(batch):
            x[row, : len(seq)] = torch.tensor(seq)
        model(input_ids=x, attention_mask=(x != pad).long(), labels=x.masked_fill(x == pad, -100)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    return out


def timed(generator: HFGenerator, prompt_list: list[str], repeats: int) -> tuple[list[str], float]:
    """Outputs and the best wall-clock time of `repeats` runs (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = generator.generate(prompt_list)
        best = min(best, time.perf_counter() - start)
    return outputs, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a local model directory (default: build the tiny test model)")
    parser.add_argument("--n-prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    # One thread by default: on a shared 2-core machine, OpenMP threads competing with other work run many times
    # slower, which would measure the neighbours rather than batching.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="report the best of this many runs")
    parser.add_argument("--out", default="outputs/bench/generation.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local files only; transformers is imported after this line
    torch.set_num_threads(args.threads)

    suite = tasks.generate_suite(seed=0, n_train_per_task=20, n_train_sit=20, n_eval_per_split=args.n_prompts // 5 + 1)
    evals = [r for split, rs in suite.items() if split.startswith("eval") for r in rs][: args.n_prompts]
    prompt_list = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") for r in evals]
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model_dir = args.model
        else:
            train = suite["train_it"] + suite["train_sit_chains"]
            texts = [prompts.format_prompt(r["instruction"], r["input"], "alpaca_short") + r["output"] for r in train]
            model_dir = build_trained_tiny(Path(tmp) / "tiny", texts)
        options = dict(max_new_tokens=args.max_new_tokens, progress=False)
        batched = HFGenerator(model_dir, batch_size=args.batch_size, **options)
        single = HFGenerator(batched.model, batched.tokenizer, batch_size=1, **options)
        batched.generate(prompt_list[:2])  # warm-up: first-call allocations and lazy imports
        outputs_batched, seconds_batched = timed(batched, prompt_list, args.repeats)
        outputs_single, seconds_single = timed(single, prompt_list, args.repeats)

    n = len(prompt_list)
    rows = [("batched", args.batch_size, seconds_batched), ("one at a time", 1, seconds_single)]
    print(f"{'mode':<14} {'batch':>5} {'prompts':>7} {'seconds':>8} {'examples/s':>10}")
    for mode, size, seconds in rows:
        print(f"{mode:<14} {size:>5} {n:>7} {seconds:>8.2f} {n / seconds:>10.1f}")
    speedup = seconds_single / seconds_batched
    print(f"speed-up of batching: {speedup:.2f}x; identical outputs: {outputs_batched == outputs_single}")
    result = {
        "n_prompts": n,
        "max_new_tokens": args.max_new_tokens,
        "model": args.model or f"tiny (built and trained here: {SIZE})",
        "torch_threads": args.threads,
        "repeats": args.repeats,
        "batched": {"batch_size": args.batch_size, "seconds": seconds_batched, "examples_per_s": n / seconds_batched},
        "one_at_a_time": {"batch_size": 1, "seconds": seconds_single, "examples_per_s": n / seconds_single},
        "batched_examples_per_s": n / seconds_batched,  # the contract's flat keys (issue 5)
        "one_at_a_time_examples_per_s": n / seconds_single,
        "speedup": speedup,
        "identical_outputs": outputs_batched == outputs_single,
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "versions": io.package_versions(["torch", "transformers"]),
    }
    io.write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
