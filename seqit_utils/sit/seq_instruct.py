"""Seq-Instruct (§2.2, App. B.4): an LLM turns single instructions into sequential ones, iteratively.

Per iteration and record: (1) the LLM picks an option — A decompose, B prefix task, C suffix task, D hold;
(2) for A/B/C it rewrites the instruction and ends with "#New Instruction#: ... ###"; (3) it answers the new
instruction. Iteration k's output is iteration k+1's input, and the number of records never changes.

Prompts are built as OpenAI-style `messages` (`seqit_utils.sit.seq_instruct_prompts`) and replies are parsed by pure
functions (`seqit_utils.sit.seq_instruct_parsing`); the transport is a batch callable
`complete(list_of_messages) -> list_of_replies` injected by the caller. An unusable reply never stops the run and is
never guessed at: the record holds (option D) and the reason is recorded and counted.

This module is the iteration driver: `run_seq_instruct` (N iterations), `seq_instruct_step` (one, e.g. with forced
options for SeqEval), `ask` (one batch call) and `summarize_run`. Statistics (parser agreement with the authors'
recorded outputs, Table 4) are in `seqit_utils.sit.seq_instruct_stats`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from seqit_utils.sit.seq_instruct_parsing import FALLBACK, parse_new_instruction, parse_option
from seqit_utils.sit.seq_instruct_prompts import (
    OPTIONS,
    Messages,
    build_option_messages,
    build_response_messages,
    build_rewrite_messages,
    check_options,
)

CHOICES = ("llm", "uniform")  # who picks the option: the LLM (§2.2), or uniform sampling (SeqEval construction, §3)
Complete = Callable[[list[Messages]], list[str]]


class SeqInstructRun(NamedTuple):
    records_by_iteration: list[list[dict[str, Any]]]  # [k - 1] = the records after iteration k
    summary: dict[str, Any]


def _per_iteration(allowed_options: Sequence[str] | Sequence[Sequence[str]], iterations: int) -> list[tuple[str, ...]]:
    if isinstance(allowed_options, str) or all(isinstance(o, str) and len(o) == 1 for o in allowed_options):
        return [check_options(allowed_options)] * iterations  # one set for every iteration
    if len(allowed_options) != iterations:
        raise ValueError(f"allowed_options has {len(allowed_options)} sets for {iterations} iterations; give one set")
    return [check_options(o, key=f"allowed_options[{k}]") for k, o in enumerate(allowed_options)]


def ask(complete: Complete, requests: list[Messages], step: str) -> list[str]:
    """One batch call of `complete`: the reply texts in request order ("" for a failed request); a reply count
    that does not match the requests is an error naming `step`."""
    if not requests:
        return []
    replies = list(complete(requests))
    if len(replies) != len(requests):
        raise ValueError(f"complete() returned {len(replies)} replies for {len(requests)} {step} requests")
    # Strings, or results with `.text` (`seqit_utils.llm.client.Result`); a failed request (None) counts as an empty
    # reply.
    replies = [getattr(r, "text", r) for r in replies]
    return ["" if r is None else str(r) for r in replies]


def seq_instruct_step(
    records: Sequence[dict[str, Any]],
    complete: Complete,
    *,
    iteration: int = 1,
    allowed_options: Sequence[str] = OPTIONS,
    seed: int = 0,
    options: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One Seq-Instruct iteration over records with `instruction` (+ `input`, `output`, `id`): pick an option (asked
    of the LLM among `allowed_options`, or `options` given per record, reason "given"), rewrite, answer. The `id` is
    kept; see `run_seq_instruct` for the provenance fields. At most three batch calls of `complete`."""
    allowed = check_options(allowed_options)
    current = [
        {**r, "source_id": str(r.get("source_id") or r.get("id", f"record/{i}")), "input": r.get("input") or ""}
        for i, r in enumerate(records)
    ]
    rngs = [
        {s: random.Random(f"{seed}/{iteration}/{r['source_id']}/{s}") for s in ("option", "rewrite")} for r in current
    ]
    if options is not None:
        if len(options) != len(current) or any(o not in OPTIONS for o in options):
            raise ValueError(f"options: give one of {', '.join(OPTIONS)} per record ({len(current)} records)")
        raw_options, picks = [None] * len(current), [(o, "given") for o in options]
    else:
        requests = [
            build_option_messages(r["instruction"], r["input"], allowed=allowed, rng=g["option"])
            for r, g in zip(current, rngs, strict=True)
        ]
        raw_options = ask(complete, requests, "option")
        picks = [parse_option(c, allowed) for c in raw_options]
    todo = [i for i, (option, _) in enumerate(picks) if option != "D"]
    requests = [
        build_rewrite_messages(
            current[i]["instruction"], current[i]["input"], option=picks[i][0], rng=rngs[i]["rewrite"]
        )
        for i in todo
    ]
    raw_rewrites = dict(zip(todo, ask(complete, requests, "rewrite"), strict=True))
    rewrites = {i: parse_new_instruction(c, current[i]["instruction"]) for i, c in raw_rewrites.items()}
    todo = [i for i, (new, _) in rewrites.items() if new is not None]
    requests = [build_response_messages(rewrites[i][0], current[i]["input"]) for i in todo]
    raw_responses = dict(zip(todo, ask(complete, requests, "response"), strict=True))
    step = []
    for i, parent in enumerate(current):
        new, new_reason = rewrites.get(i, (None, None))
        response = raw_responses.get(i)
        response_reason = None if response is None else ("ok" if response.strip() else FALLBACK + "empty")
        changed = response_reason == "ok"
        step.append({
            "id": parent.get("id", parent["source_id"]),
            "source_id": parent["source_id"],
            "iteration": iteration,
            "instruction": new if changed else parent["instruction"],
            "input": parent["input"],
            "output": response.strip() if changed else parent.get("output") or "",
            "option": picks[i][0] if changed else "D",
            "proposed_option": picks[i][0],
            "parent_instruction": parent["instruction"],
            "completions": {"option": raw_options[i], "rewrite": raw_rewrites.get(i), "response": response},
            "reasons": {"option": picks[i][1], "instruction": new_reason, "response": response_reason},
        })  # fmt: skip
    return step


def run_seq_instruct(
    records: Sequence[dict[str, Any]],
    complete: Complete,
    *,
    iterations: int = 2,
    allowed_options: Sequence[str] | Sequence[Sequence[str]] = OPTIONS,
    seed: int = 0,
    choose: str = "llm",
) -> SeqInstructRun:
    """Run Seq-Instruct for `iterations` rounds (§2.2; the paper uses 2, SeqEval 4) over records with `instruction`
    (+ `input`, `output`, `id`). `complete` answers a batch of message lists with one reply each (strings, or results
    with `.text` such as `seqit_utils.llm.client.Result`); three batch calls per iteration. `allowed_options`: one
    set for
    all iterations, or one per iteration (SeqEval: [ABC, BC, BC, BC]). `choose="uniform"` samples the option from the
    allowed set (seeded) instead of asking the LLM (SeqEval, §3) and passes it to `seq_instruct_step` as given.

    Every output record keeps its `id` and its provenance: `source_id`, `iteration`, `option` (as applied: D when
    held), `proposed_option`, `parent_instruction`, the raw `completions` and the parse `reasons` per step. A record
    holds (keeps instruction and output) on option D or when a rewrite or response is unusable; the reason is counted.
    """
    if choose not in CHOICES:
        raise ValueError(f"choose = {choose!r}; allowed values: {', '.join(CHOICES)}")
    if iterations < 1:
        raise ValueError(f"iterations = {iterations}; give at least 1")
    current, by_iteration = list(records), []
    for k, allowed in enumerate(_per_iteration(allowed_options, iterations), start=1):
        options = None
        if choose == "uniform":
            ids = [str(r.get("source_id") or r.get("id", f"record/{i}")) for i, r in enumerate(current)]
            options = [random.Random(f"{seed}/{k}/{sid}/sample").choice(allowed) for sid in ids]
        current = seq_instruct_step(
            current, complete, iteration=k, allowed_options=allowed, seed=seed, options=options
        )
        by_iteration.append(current)
    return SeqInstructRun(by_iteration, summarize_run(by_iteration))


def summarize_run(records_by_iteration: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Per iteration and in total: records, applied and proposed options, and fallbacks by "<step>:<reason>"."""
    per_iteration, totals = [], {"options": Counter(), "proposed_options": Counter(), "fallbacks": Counter()}
    for records in records_by_iteration:
        counts = {
            "options": Counter(r["option"] for r in records),
            "proposed_options": Counter(r["proposed_option"] for r in records),
            "fallbacks": Counter(
                f"{step}:{reason.removeprefix(FALLBACK)}"
                for r in records
                for step, reason in r["reasons"].items()
                if reason and reason.startswith(FALLBACK)
            ),
        }
        for key, counter in counts.items():
            totals[key] += counter
        iteration = records[0]["iteration"] if records else len(per_iteration) + 1
        per_iteration.append({"iteration": iteration, "n": len(records), **_plain(counts)})
    return {"iterations": per_iteration, **_plain(totals)}


def _plain(counts: dict[str, Counter]) -> dict[str, dict[str, int]]:
    return {
        key: {o: c[o] for o in OPTIONS} if "options" in key else dict(sorted(c.items())) for key, c in counts.items()
    }
