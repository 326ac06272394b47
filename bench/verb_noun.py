"""Benchmark: verb-noun extraction (§5.4) with spaCy's `nlp.pipe` batching vs one `nlp(text)` call per
sub-instruction, same pipeline, same instructions (SeqEval's 805 from `$SEQIT_DATA_DIR`, else Alpaca-style
instructions of the built-in task suite).

    python bench/verb_noun.py [--data-dir ../shared/data] [--batch-size 256] [--repeats 3]

Prints a table of instructions/s (best of `--repeats` runs) and writes `outputs/bench/verb_noun.json`
(`instructions_per_s`: the batched rate, the one the analysis uses). Times are wall-clock; nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from seqit_utils import io
from seqit_utils.analysis import verb_noun as vn
from seqit_utils.data import loaders, tasks


def instructions(data_dir: str | None) -> tuple[str, list[str]]:
    """SeqEval's instructions when the data folder has them, else the task suite's evaluation instructions."""
    if data_dir:
        return "seqeval (805, real)", [r["instruction"] for r in loaders.load_seqeval(data_dir=data_dir)]
    suite = tasks.generate_suite(seed=0, n_train_per_task=1, n_train_sit=1, n_eval_per_split=200)
    texts = [r["instruction"] for split, rs in suite.items() if split.startswith("eval") for r in rs]
    return f"task suite ({len(texts)})", texts


def timed(run, repeats: int) -> tuple[list, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("SEQIT_DATA_DIR"))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="report the best of this many runs")
    parser.add_argument("--out", default="outputs/bench/verb_noun.json")
    args = parser.parse_args()

    name, texts = instructions(args.data_dir)
    nlp = vn.load_parser()
    vn.verb_noun_pairs(texts[:20], nlp)  # warm-up

    def one_at_a_time() -> list[dict]:
        units = [(i, part) for i, text in enumerate(texts) for part in vn.split_instruction(text)]
        return [{"index": i, "text": part, **dict(zip(("verb", "noun"), vn.verb_and_noun(nlp(part)), strict=True))}
                for i, part in units]  # fmt: skip

    batched, seconds_batched = timed(lambda: vn.verb_noun_pairs(texts, nlp, batch_size=args.batch_size), args.repeats)
    single, seconds_single = timed(one_at_a_time, args.repeats)
    n = len(texts)
    print(f"{'mode':<14} {'batch':>5} {'instructions':>12} {'seconds':>8} {'instructions/s':>14}")
    for mode, size, seconds in (("nlp.pipe", args.batch_size, seconds_batched), ("one at a time", 1, seconds_single)):
        print(f"{mode:<14} {size:>5} {n:>12} {seconds:>8.2f} {n / seconds:>14.1f}")
    same = batched == single
    print(f"speed-up of batching: {seconds_single / seconds_batched:.2f}x; identical pairs: {same}")
    result = {
        "instructions": name,
        "n_instructions": n,
        "n_sub_instructions": len(batched),
        "repeats": args.repeats,
        "instructions_per_s": n / seconds_batched,  # the contract's key (issue 6): the batched rate
        "one_at_a_time_instructions_per_s": n / seconds_single,
        "batched": {"batch_size": args.batch_size, "seconds": seconds_batched},
        "one_at_a_time": {"batch_size": 1, "seconds": seconds_single},
        "speedup": seconds_single / seconds_batched,
        "identical_pairs": same,
        "parser": vn.parser_info(nlp),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
    }
    io.write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
